"""The billing office: accounts, their money, the collection policy, collection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from uuid import UUID

import structlog

from cases.application.caller import Caller
from cases.application.command_runner import CommandRunner, Receipt
from cases.application.customer_directory import CustomerDirectory
from cases.application.directory import Directory
from cases.domain import billing_commands as c
from cases.domain.audited import AuditedAggregate
from cases.domain.billing_account import DECISIONS, BillingAccount
from cases.domain.collection_policy import (
    CollectionPolicy,
    CollectionTerms,
    PublishedPolicy,
    StageAction,
)
from cases.domain.errors import (
    CustomerAlreadyHasAccountError,
    EvaluationInFutureError,
    NoCollectionPolicyError,
    NotFoundError,
)
from cases.domain.metadata import CommandContext
from cases.domain.support_case import SupportCase

R = TypeVar("R")

logger = structlog.get_logger("cases.commands")


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What evaluating one account recorded (nothing, when nothing was due)."""

    account_id: UUID
    customer_id: str
    events: tuple[AuditedAggregate.Event, ...]

    @property
    def did_something(self) -> bool:
        return bool(self.events)

    @property
    def stages_entered(self) -> tuple[int, ...]:
        return tuple(
            e.stage.days for e in self.events if isinstance(e, BillingAccount.StageEntered)
        )

    @property
    def reminders(self) -> tuple[StageAction, ...]:
        return tuple(e.kind for e in self.events if isinstance(e, BillingAccount.ReminderSent))

    @property
    def suspended(self) -> tuple[str, ...]:
        return tuple(
            e.subscription_id for e in self.events if isinstance(e, BillingAccount.AccessSuspended)
        )

    @property
    def reinstated(self) -> tuple[str, ...]:
        return tuple(
            e.subscription_id for e in self.events if isinstance(e, BillingAccount.AccessReinstated)
        )


class BillingOffice:
    """Opens accounts, records their money, publishes the policy, runs collection."""

    def __init__(self, runner: CommandRunner, customers: CustomerDirectory | None = None) -> None:
        self.runner = runner
        self.customers = customers or CustomerDirectory(runner)
        self.directory = Directory(runner.log, "billing-account-directory")

    # The collection policy ---------------------------------------------------

    def publish_collection_policy(
        self,
        caller: Caller,
        terms: CollectionTerms,
        effective_from: datetime | None = None,
    ) -> tuple[int, Receipt]:
        """Publish a new policy version (in force now, unless later); return it."""
        return self.runner.change_established(
            CollectionPolicy,
            CollectionPolicy.policy_id(),
            caller,
            CollectionPolicy.establish,
            lambda policy, ctx: policy.publish(ctx, terms, effective_from or ctx.occurred_at),
        )

    def collection_policy(self) -> CollectionPolicy:
        try:
            return self.runner.load(CollectionPolicy, CollectionPolicy.policy_id())
        except NotFoundError:
            raise NoCollectionPolicyError("no collection policy has been published") from None

    def policy_in_force(self, moment: datetime) -> PublishedPolicy:
        return self.collection_policy().in_force_at(moment)

    # Accounts -------------------------------------------------------------

    def open_account(self, caller: Caller, command: c.OpenAccount) -> Receipt:
        """Open the customer's account and list it, in one transaction (the
        customer must be in the directory, ADR 0048)."""
        self.customers.check_known(command.customer_id)
        return self.directory.create_listed(
            self.runner,
            BillingAccount,
            caller,
            start=lambda ctx: BillingAccount.open(ctx, command),
            key=lambda account: account.customer_id,
            taken=CustomerAlreadyHasAccountError(
                f"customer {command.customer_id} already has a billing account"
            ),
        )

    def account(self, account_id: UUID) -> BillingAccount:
        return self.runner.load(BillingAccount, account_id)

    def account_count(self) -> int:
        return self.directory.count()

    def handle(
        self,
        caller: Caller,
        account_id: UUID,
        command: c.AccountCommand,
        *,
        expected_version: int | None = None,
    ) -> Receipt:
        """Carry `command` to the account (a payment reinstates the access it
        settles in the same command)."""
        decision = DECISIONS[type(command)]
        _, receipt = self.runner.change(
            BillingAccount,
            account_id,
            caller,
            lambda account, ctx: decision(account, ctx, command),
            expected_version,
        )
        return receipt

    # Billing questions ------------------------------------------------------

    def link_billing_case(
        self, caller: Caller, case_id: UUID, account_id: UUID
    ) -> tuple[Receipt, Receipt]:
        """Link a billing case to its account; both record it, in one transaction."""

        def decide(case: SupportCase, account: BillingAccount, ctx: CommandContext) -> None:
            case.link_billing_account(ctx, account.id)
            account.link_case(ctx, case.id, case.customer_id)

        _, case_receipt, account_receipt = self.runner.change_both(
            (SupportCase, case_id), (BillingAccount, account_id), caller, decide
        )
        return case_receipt, account_receipt

    # Collection -----------------------------------------------------------

    def evaluate(self, caller: Caller, account_id: UUID, at: datetime) -> Evaluation:
        """Bring one account's collection up to date at `at`, under the policy
        in force then."""
        return self.evaluate_under(caller, account_id, self.policy_in_force(at), at)

    def check_not_in_future(self, at: datetime) -> datetime:
        """Now, if `at` has come; else EvaluationInFutureError."""
        now = self.runner.clock.now()
        if at > now:
            raise EvaluationInFutureError(
                f"collection cannot run as of {at.isoformat()}, a moment still to come"
            )
        return now

    def evaluate_under(
        self,
        caller: Caller,
        account_id: UUID,
        policy: PublishedPolicy,
        at: datetime,
    ) -> Evaluation:
        """Evaluate at `at` under `policy`.

        A first, read-only look decides whether anything is due; only then is
        the evaluation run as a command (on fresh state, retried on a lost
        race). So a run with nothing to do only reads, and a payment landing
        meanwhile is never overwritten nor answered by a stale reminder.
        """
        now = self.check_not_in_future(at)
        caller = caller.at(at)
        account = self.account(account_id)
        account.evaluate(caller.context(now), policy, at)
        if not account.pending_events:
            return Evaluation(account_id, account.customer_id, ())
        events, _ = self.runner.change(
            BillingAccount,
            account_id,
            caller,
            lambda fresh, ctx: _evaluated(fresh, ctx, policy, at),
        )
        return Evaluation(account_id, account.customer_id, events)


def _evaluated(
    account: BillingAccount, ctx: CommandContext, policy: PublishedPolicy, at: datetime
) -> tuple[AuditedAggregate.Event, ...]:
    account.evaluate(ctx, policy, at)
    return _pending(account)


def _pending(account: BillingAccount) -> tuple[AuditedAggregate.Event, ...]:
    return tuple(e for e in account.pending_events if isinstance(e, AuditedAggregate.Event))
