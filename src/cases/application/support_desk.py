"""The support desk: the partner's support offering and its customers' cases."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import UUID, uuid4

from cases.application.caller import Caller
from cases.application.command_runner import CommandRunner, Receipt
from cases.application.customer_directory import CustomerDirectory
from cases.domain import case_commands as c
from cases.domain.advisory import Advisory, advisory_id
from cases.domain.case_values import EscalationPaths
from cases.domain.errors import (
    AdvisoryNotImportedError,
    EvaluationInFutureError,
    NoTermsInForceError,
    NotFoundError,
    VersionMismatchError,
)
from cases.domain.metadata import CommandContext
from cases.domain.support_case import DECISIONS, SupportCase
from cases.domain.support_offering import PublishedTerms, SupportOffering
from cases.domain.support_terms import PartnerKind, SupportTerms


class SupportDesk:
    """Takes in, works, escalates and closes support cases."""

    def __init__(self, runner: CommandRunner, customers: CustomerDirectory | None = None) -> None:
        self.runner = runner
        self.customers = customers or CustomerDirectory(runner)

    # The support offering -------------------------------------------------

    def publish_terms(
        self, caller: Caller, terms: SupportTerms, effective_from: datetime
    ) -> tuple[int, Receipt]:
        """Publish a new version of the support terms; return its number."""
        return self.runner.change_established(
            SupportOffering,
            SupportOffering.offering_id(),
            caller,
            SupportOffering.establish,
            lambda offering, ctx: offering.publish_terms(ctx, terms, effective_from),
        )

    def offering(self) -> SupportOffering:
        try:
            return self.runner.load(SupportOffering, SupportOffering.offering_id())
        except NotFoundError:
            raise NoTermsInForceError("no support terms have been published") from None

    def terms_in_force(self, moment: datetime) -> PublishedTerms:
        try:
            return self.runner.inspect(
                SupportOffering,
                SupportOffering.offering_id(),
                lambda offering: offering.in_force_at(moment),
            )
        except NotFoundError:
            raise NoTermsInForceError("no support terms have been published") from None

    # Intake -----------------------------------------------------------------

    def receive_case(self, caller: Caller, command: c.TakeIn) -> Receipt:
        """Take in a request; it is judged by the terms in force when received
        (None: received when the intake happens). The customer must be in the
        directory (ADR 0048); a contact picked from it (`contact_id`) is recorded
        with the details it has now."""
        self.customers.check_known(command.customer_id)
        if command.contact_id is not None:
            picked = self.customers.picked_contact(command.customer_id, command.contact_id)
            command = replace(command, contact=picked)
        moment = command.received_at or caller.occurred_at or self.runner.clock.now()
        terms = self.terms_in_force(moment)
        case_id = command.case_id or uuid4()
        return self.runner.create(
            SupportCase,
            caller,
            lambda ctx: SupportCase.receive(ctx, command, case_id=case_id, terms=terms),
        )

    def case(self, case_id: UUID) -> SupportCase:
        return self.runner.load(SupportCase, case_id)

    # Working a case ---------------------------------------------------------

    def handle(
        self,
        caller: Caller,
        case_id: UUID,
        command: c.CaseCommand,
        *,
        expected_version: int | None = None,
    ) -> Receipt:
        """Carry `command` to the case; an escalation goes through what the
        partner holds under the terms in force when it happens."""

        if isinstance(command, c.CheckServiceHealth) and command.advisory_id is not None:
            return self._check_against_import(caller, case_id, command, expected_version)

        def decide(case: SupportCase, ctx: CommandContext) -> object:
            if isinstance(command, c.Escalate):
                paths = self.escalation_paths(ctx.occurred_at, case.customer_id)
                return case.escalate(ctx, command, paths)
            return DECISIONS[type(command)](case, ctx, command)

        _, receipt = self.runner.change(SupportCase, case_id, caller, decide, expected_version)
        return receipt

    def _check_against_import(
        self,
        caller: Caller,
        case_id: UUID,
        command: c.CheckServiceHealth,
        expected_version: int | None,
    ) -> Receipt:
        """Record the check with what the imported advisory says now, and link
        the case to it (once), in one transaction."""
        vendor_id = command.advisory_id or ""
        key = advisory_id(vendor_id)
        if not self.runner.exists(Advisory, key):
            raise AdvisoryNotImportedError(f"no advisory {vendor_id} has been imported")

        def decide(case: SupportCase, advisory: Advisory, ctx: CommandContext) -> None:
            if expected_version is not None and case.version != expected_version:
                raise VersionMismatchError(
                    f"the support case is at version {case.version}, not {expected_version}"
                )
            case.check_service_health(ctx, command, advisory.facts.as_matched())
            if case.id not in advisory.linked_cases:
                advisory.link_case(ctx, case.id)

        _, receipt, _ = self.runner.change_both(
            (SupportCase, case_id), (Advisory, key), caller, decide
        )
        return receipt

    def escalation_paths(self, moment: datetime, customer_id: str | None = None) -> EscalationPaths:
        """What the partner holds under the terms in force; a customer the
        directory serves through an indirect reseller has its provider named."""
        terms = self.terms_in_force(moment).terms
        provider = None if customer_id is None else self.customers.indirect_provider(customer_id)
        if provider is None:
            return EscalationPaths(terms.partner_kind, terms.held_vehicles)
        return EscalationPaths(PartnerKind.INDIRECT_RESELLER, terms.held_vehicles, provider)

    # Service-level clocks ---------------------------------------------------

    def evaluate_service_clocks(
        self, caller: Caller, case_id: UUID, at: datetime
    ) -> tuple[SupportCase.ServiceClockBreached, ...]:
        """Record the breaches due on one case by `at` (the scheduled check).

        A read-only look decides whether anything is due; only then does the
        evaluation run as a command, on fresh state and retried on a lost race,
        so a case with nothing due is only read.
        """
        now = self.runner.clock.now()
        if at > now:
            raise EvaluationInFutureError(
                f"service clocks cannot be evaluated as of {at.isoformat()}, a moment still to come"
            )
        case = self.case(case_id)
        if not case.breaches_due(at):
            return ()
        breaches, _ = self.runner.change(
            SupportCase, case_id, caller, lambda fresh, ctx: _breaches(fresh, ctx, at)
        )
        return breaches


def _breaches(
    case: SupportCase, ctx: CommandContext, at: datetime
) -> tuple[SupportCase.ServiceClockBreached, ...]:
    case.evaluate_service_clocks(ctx, at)
    return tuple(e for e in case.pending_events if isinstance(e, SupportCase.ServiceClockBreached))
