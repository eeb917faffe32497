"""Billing accounts: open, one action per command, standing, state, history; the
account list, receivables aging and collection runs.

A customer principal sees only its own account: any other answers 404, as if it
did not exist. The receivables aging report sums every customer's invoices, so
it is a partner report: to a customer it answers 404 too (its own position is on
`GET /accounts/{account_id}` and its invoices on `.../invoices`). ADR 0016.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, Path, Query, Response
from pydantic import BaseModel

from cases.api.cursors import Cursor, Limit, key_after, page_of
from cases.api.deps import (
    BillingDep,
    CallerDep,
    Command,
    MinPositionDep,
    PrincipalDep,
    QueryDbDep,
    ServicesDep,
    check_customer,
    command_for,
    require,
    wait_for_projections,
)
from cases.api.errors import resource_problems
from cases.api.resource_routes import accepted, add_audit_routes, add_command_route, command_of
from cases.api.routing import Router
from cases.api.schemas import accounts as s
from cases.api.schemas.common import CommandResult, Day
from cases.application.collection_run import run_collection
from cases.application.command_runner import Receipt
from cases.application.principal_registry import AuthenticatedPrincipal
from cases.bootstrap import Services
from cases.db.database import ProjectionDatabase
from cases.domain import billing_commands as c
from cases.domain.billing_account import BillingAccount
from cases.domain.errors import NotFoundError
from cases.domain.metadata import Role
from cases.domain.permissions import Permission
from cases.projections.account_standing import (
    AccountStanding,
    AccountStandingView,
    StandingFilter,
)
from cases.projections.receivables import ReceivablesView

router = Router()
F = TypeVar("F", bound=Callable[..., object])

Reads = Depends(require(Permission.READ_ACCOUNTS))
Bills = Depends(require(Permission.MANAGE_BILLING))
BillingCommand = Annotated[Command, command_for(Permission.MANAGE_BILLING)]
SubscriptionsCommand = Annotated[Command, command_for(Permission.MANAGE_SUBSCRIPTIONS)]
Collects = Depends(require(Permission.RUN_COLLECTION))

PROBLEMS = resource_problems("account")

accounts = Router(prefix="/accounts", tags=["accounts"], responses=PROBLEMS)
receivables = Router(prefix="/receivables", tags=["accounts"], responses=PROBLEMS)
collection = Router(prefix="/collection-runs", tags=["collection"], responses=PROBLEMS)

STANDING = ("account_standing",)
InvoiceNumberPath = Annotated[str, Path(min_length=1, max_length=50)]


def _not_found(account_id: UUID) -> NotFoundError:
    return NotFoundError(f"no billing account has the id {account_id}")


def _head(services: Services) -> int:
    """The log's last position: at or after anything this request recorded."""
    return services.log.head()


def _visible_standing(
    db: ProjectionDatabase, principal: AuthenticatedPrincipal, account_id: UUID
) -> AccountStanding:
    standing = AccountStandingView(db).get(account_id)
    if standing is None:
        raise _not_found(account_id)
    check_customer(principal, standing.customer_id, str(_not_found(account_id)))
    return standing


# Opening --------------------------------------------------------------------


@accounts.post("", status_code=201, dependencies=[Bills])
def open_account(
    body: s.OpenAccount, billing: BillingDep, caller: CallerDep, response: Response
) -> CommandResult:
    """Open a customer's billing account (one per customer): currency, terms, calendar."""
    receipt = billing.open_account(caller, command_of(body, c.OpenAccount))
    response.headers["Location"] = f"/accounts/{receipt.aggregate_id}"
    return accepted(response, receipt)


# Queries --------------------------------------------------------------------


def _keep(standing: AccountStanding, where: StandingFilter, day: date, overdue: bool) -> bool:
    return (
        where.currency in (None, standing.currency)
        and (not where.suspended_only or bool(standing.suspended_subscriptions))
        and (not overdue or standing.is_overdue_on(day))
    )


def _overdue_position(key: list[str]) -> tuple[date, str]:
    return date.fromisoformat(key[0]), key[1]


def _overdue_key(standing: AccountStanding) -> list[str]:
    return [str(standing.oldest_unpaid_due_on), standing.customer_id]


def _customer_position(key: list[str]) -> str:
    return key[0]


def _customer_key(standing: AccountStanding) -> list[str]:
    return [standing.customer_id]


def _overdue_page(
    view: AccountStandingView,
    where: StandingFilter,
    day: date,
    limit: int,
    after: tuple[date, str] | None,
) -> list[AccountStanding]:
    """Overdue accounts, longest overdue first; other filters applied as it reads."""
    found: list[AccountStanding] = []
    while len(found) <= limit:
        batch = view.overdue(day, currency=where.currency, limit=limit + 1, after=after)
        found += [a for a in batch if _keep(a, where, day, overdue=True)]
        if len(batch) <= limit:
            break
        last = batch[-1]
        after = (last.oldest_unpaid_due_on or day, last.customer_id)
    return found


@accounts.get("", dependencies=[Reads])
def list_accounts(
    db: QueryDbDep,
    services: ServicesDep,
    principal: PrincipalDep,
    min_position: MinPositionDep,
    customer_id: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    currency: Annotated[str | None, Query(pattern="^[A-Z]{3}$")] = None,
    suspended: Annotated[
        bool, Query(description="Only accounts with a suspended subscription.")
    ] = False,
    overdue: Annotated[
        bool,
        Query(description="Only accounts with an undisputed invoice past due on `as_of`."),
    ] = False,
    as_of: Annotated[
        Day | None,
        Query(description="The day `overdue` is judged on (YYYY-MM-DD); default today (UTC)."),
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> s.AccountPage:
    """Account standings, by customer id (or, with `overdue`, longest overdue first)."""
    if principal.role is Role.CUSTOMER:
        if customer_id not in (None, principal.customer_id):
            return s.AccountPage(items=[], next_cursor=None)
        customer_id = principal.customer_id
    wait_for_projections(db, STANDING, min_position)
    day = as_of or services.clock.now().date()
    view = AccountStandingView(db)
    where = StandingFilter(currency=currency, suspended_only=suspended)
    if customer_id is not None:
        own = view.for_customer(customer_id)
        rows = [own] if own is not None and _keep(own, where, day, overdue) else []
        return s.AccountPage(
            items=[s.AccountStandingOut.of(r, day) for r in rows], next_cursor=None
        )
    # The day decides which accounts are overdue, so an overdue list is bound to it.
    query = {"list": "accounts", **asdict(where), "overdue": overdue}
    if overdue:
        query["day"] = day
        after = key_after(cursor, query, 2, _overdue_position)
        rows = _overdue_page(view, where, day, limit, after)
        page, next_cursor = page_of(rows, limit, query, _overdue_key)
    else:
        customer = key_after(cursor, query, 1, _customer_position)
        rows = view.page(where, limit=limit + 1, after=customer)
        page, next_cursor = page_of(rows, limit, query, _customer_key)
    return s.AccountPage(
        items=[s.AccountStandingOut.of(r, day) for r in page], next_cursor=next_cursor
    )


@accounts.get("/{account_id}", dependencies=[Reads])
def get_account(
    account_id: UUID,
    db: QueryDbDep,
    services: ServicesDep,
    principal: PrincipalDep,
    min_position: MinPositionDep,
    response: Response,
) -> s.AccountStandingOut:
    """The account's standing, from the read model; its ETag is its version."""
    wait_for_projections(db, STANDING, min_position)
    standing = _visible_standing(db, principal, account_id)
    response.headers["ETag"] = f'"{standing.version}"'
    return s.AccountStandingOut.of(standing, services.clock.now().date())


@accounts.get("/{account_id}/invoices", dependencies=[Reads])
def list_account_invoices(
    account_id: UUID,
    db: QueryDbDep,
    principal: PrincipalDep,
    min_position: MinPositionDep,
) -> list[s.ReceivableOut]:
    """Every invoice of the account, settled or not, oldest due first."""
    wait_for_projections(db, ("account_standing", "receivables"), min_position)
    standing = _visible_standing(db, principal, account_id)
    invoices = ReceivablesView(db).of_customer(standing.customer_id)
    return [s.ReceivableOut.of(r) for r in invoices if r.account_id == account_id]


add_audit_routes(
    accounts,
    BillingAccount,
    s.AccountState,
    s.AccountState.of,
    id_name="account_id",
    responses=PROBLEMS,
)


# Commands -------------------------------------------------------------------


SubscriptionIdPath = Annotated[str, Path(min_length=1, max_length=100)]
PATH_FIELDS: dict[str, tuple[str, Any]] = {
    "subscription_id": ("subscription_id", SubscriptionIdPath),
    "number": ("invoice_number", InvoiceNumberPath),
}
"""Each path parameter after the account id: the command field it fills, its type."""


def path_params(path: str) -> dict[str, Any]:
    return {name: kind for name, (_, kind) in PATH_FIELDS.items() if f"{{{name}}}" in path}


def bill(kind: type[c.AccountCommand]) -> Callable[..., Receipt]:
    """Carry the body and the path's parameters, as the domain command `kind`,
    to the account."""

    def run(account_id: UUID, body: BaseModel, command: Command, **path: str) -> Receipt:
        given = {PATH_FIELDS[name][0]: value for name, value in path.items()}
        return command.billing.handle(
            command.caller,
            account_id,
            command_of(body, kind, **given),
            expected_version=command.expected_version,
        )

    return run


Action = tuple[str, str, type[BaseModel], Any, type[c.AccountCommand], str]
"""(path, operation id, body, dependency, domain command, what it does: the OpenAPI
description)."""

ACTIONS: tuple[Action, ...] = (
    (
        "/subscriptions",
        "add_subscription",
        s.AddSubscription,
        SubscriptionsCommand,
        c.AddSubscription,
        "Add a subscription (product, quantity; paid in advance up to a day, if so).",
    ),
    (
        "/subscriptions/{subscription_id}/quantity",
        "change_subscription_quantity",
        s.ChangeQuantity,
        SubscriptionsCommand,
        c.ChangeQuantity,
        (
            "Change a subscription's seats or licences, from today. Invoices are billed in\n"
            "advance: a period starting after today bills the new quantity."
        ),
    ),
    (
        "/subscriptions/{subscription_id}/cancellation",
        "cancel_subscription",
        s.CancelSubscription,
        SubscriptionsCommand,
        c.CancelSubscription,
        (
            "Cancel a subscription from a day (default today): no period starting then is\n"
            "invoiced, and it cannot be changed, suspended or reinstated any more."
        ),
    ),
    (
        "/subscriptions/{subscription_id}/prepayment",
        "record_prepayment",
        s.Prepayment,
        BillingCommand,
        c.RecordPrepayment,
        "Record that a subscription is paid in advance through a later day.",
    ),
    (
        "/invoices",
        "issue_invoice",
        s.IssueInvoice,
        BillingCommand,
        c.IssueInvoice,
        "Charge the account; account credit is applied to the new invoice at once.",
    ),
    (
        "/subscription-invoices",
        "invoice_subscriptions",
        s.InvoiceSubscriptions,
        BillingCommand,
        c.InvoiceSubscriptions,
        (
            "Invoice a period in advance for the subscriptions priced: a line each, the\n"
            "quantity in force on the period's first day; none once cancelled."
        ),
    ),
    (
        "/payments",
        "receive_payment",
        s.ReceivePayment,
        BillingCommand,
        c.ReceivePayment,
        (
            "Record a payment: to the invoice named, then the oldest; the rest is credit.\n"
            "Access it settles is reinstated in the same command."
        ),
    ),
    (
        "/credit-notes",
        "issue_credit_note",
        s.IssueCreditNote,
        BillingCommand,
        c.IssueCreditNote,
        "Take part or all of an invoice back; what was already paid becomes credit.",
    ),
    (
        "/write-offs",
        "write_off",
        s.WriteOff,
        BillingCommand,
        c.WriteOff,
        "Give up on collecting part or all of what an invoice has outstanding.",
    ),
    (
        "/invoices/{number}/disputes",
        "open_dispute",
        s.OpenDispute,
        BillingCommand,
        c.OpenDispute,
        "Take an invoice out of collection while the customer disputes it.",
    ),
    (
        "/invoices/{number}/disputes/close",
        "close_dispute",
        s.CloseDispute,
        BillingCommand,
        c.CloseDispute,
        "End the invoice's dispute; what is still outstanding is collected again.",
    ),
)


def add_account_commands(router: Router, actions: tuple[Action, ...]) -> None:
    """POST each action under `/{account_id}`, carried to the account as its
    domain command (also used by `routers.access`)."""
    for path, operation_id, body, dependency, kind, doc in actions:
        add_command_route(
            router,
            "/{account_id}" + path,
            operation_id,
            doc,
            body=body,
            dependency=dependency,
            id_name="account_id",
            run=bill(kind),
            responses=PROBLEMS,
            path_params=path_params(path),
        )


add_account_commands(accounts, ACTIONS)


@accounts.post("/{account_id}/evaluations", dependencies=[Collects])
def evaluate_account(
    account_id: UUID,
    body: s.Evaluate,
    services: ServicesDep,
    caller: CallerDep,
    response: Response,
) -> s.EvaluationOut:
    """Bring the account's collection up to date as of a moment, under the policy in
    force then. Idempotent: evaluating at the same moment again records nothing."""
    as_of = body.as_of or services.clock.now()
    evaluation = services.billing.evaluate(caller, account_id, as_of)
    version = (
        evaluation.events[-1].originator_version
        if evaluation.events
        else services.billing.account(account_id).version
    )
    response.headers["ETag"] = f'"{version}"'
    return s.EvaluationOut.of(evaluation, as_of, version, _head(services))


# Receivables and collection runs ---------------------------------------------


@receivables.get("/aging", dependencies=[Reads])
def get_receivables_aging(
    db: QueryDbDep,
    services: ServicesDep,
    principal: PrincipalDep,
    min_position: MinPositionDep,
    as_of: Annotated[
        Day | None, Query(description="The day to age on (YYYY-MM-DD); default today (UTC).")
    ] = None,
) -> s.AgingOut:
    """Open receivables per currency by days past due on a day (current, 1-30, 31-60,
    61-90, over 90; disputed apart), as the log now knows them. Staff only."""
    if principal.role is Role.CUSTOMER:
        raise NotFoundError("no receivables report is visible to a customer")
    wait_for_projections(db, ("receivables",), min_position)
    day = as_of or services.clock.now().date()
    return s.AgingOut(
        as_of=day, currencies=[s.AgingRowOut.of(r) for r in ReceivablesView(db).aging(day)]
    )


@collection.post("", operation_id="run_collection", dependencies=[Collects])
def start_collection_run(
    body: s.StartCollectionRun, services: ServicesDep, caller: CallerDep
) -> s.CollectionRunOut:
    """Evaluate every account as of a moment under the policy in force then; each
    account in its own command. A failure on one account is reported, not fatal."""
    as_of = body.as_of or services.clock.now()
    summary = run_collection(services.billing, caller, as_of)
    return s.CollectionRunOut.of(summary, _head(services))


for part in (accounts, receivables, collection):
    router.include_router(part)
