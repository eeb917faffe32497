"""Account standing: one row per billing account with what collection looks at.

Balance, account credit, the oldest unpaid undisputed invoice (the *anchor*
collection follows) and its due date, the collection stage that invoice has
reached, suspended subscriptions, the last reminder and the policy version of
the last collection step. Amounts are integers of the currency's minor unit.

"Overdue" moves with the calendar, not with events: the row holds what was
overdue on the day of the account's last event (`overdue_as_of`), and the
anchor's due date, which tells on any later day whether anything is overdue
(it is the earliest due date among collectible invoices). For an amount on
another day, ask `ReceivablesView.overdue`.

To find the anchor the projection keeps each account's open invoices in
`standing_invoices` (a settled invoice is removed). A batch is folded in
memory: each touched account and its open invoices are read once and written
once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any, ClassVar
from uuid import UUID
from zoneinfo import ZoneInfo

from cases.db.database import ProjectionDatabase, as_moment
from cases.db.shapes import select_where
from cases.db.statement import Sql, identifier, sql
from cases.domain.billing_account import BillingAccount
from cases.projections.projection import LIVE, PositionedEvent, Projection, TableNames
from cases.projections.receivables import as_day, as_optional_day, from_minor
from cases.projections.rows import Conditions, as_uuid, row_reader, rows_in, stored_rows

COLUMNS = (
    "account_id",
    "customer_id",
    "currency",
    "time_zone",
    "balance_minor",
    "credit_minor",
    "overdue_minor",
    "overdue_as_of",
    "oldest_unpaid_invoice",
    "oldest_unpaid_due_on",
    "stage_days",
    "stage_invoice",
    "suspended_count",
    "suspended_subscriptions",
    "last_reminder_kind",
    "last_reminder_at",
    "policy_version",
    "version",
    "position",
)
INVOICE_COLUMNS = (
    "account_id",
    "invoice_number",
    "issued_on",
    "due_on",
    "outstanding_minor",
    "disputed",
    "last_stage",
)

Row = dict[str, Any]
E = BillingAccount


@dataclass
class Account:
    """One account while a batch is folded: its row and its open invoices."""

    row: Row
    invoices: dict[str, Row]
    suspended: set[str]
    changed: set[str] = field(default_factory=set)
    settled: set[str] = field(default_factory=set)
    last: PositionedEvent | None = None  # the batch's last event of the account

    def stamp(self) -> None:
        """The row as of the batch's last event of the account: its day in the
        account's time zone, its version and position (no handler reads them, so
        they are set once a batch, not once an event)."""
        if self.last is None:
            return
        event = self.last.event
        self.row.update(
            overdue_as_of=event.meta.occurred_at.astimezone(ZoneInfo(self.row["time_zone"])).date(),
            version=event.originator_version,
            position=self.last.position,
        )

    def invoice(self, number: str) -> Row | None:
        """The open invoice `number`; None once it is settled."""
        invoice = self.invoices.get(number)
        if invoice is not None:
            self.changed.add(number)
        return invoice

    def take_off(self, number: str, minor: int) -> None:
        invoice = self.invoice(number)
        if invoice is None or not minor:
            return
        invoice["outstanding_minor"] -= minor
        if invoice["outstanding_minor"] == 0:
            del self.invoices[number]
            self.changed.discard(number)
            self.settled.add(number)

    def finish(self) -> None:
        """Derive what follows from the state: the anchor, its stage, what is overdue."""
        row = self.row
        collectible = [i for i in self.invoices.values() if not i["disputed"]]
        anchor = min(
            collectible,
            key=lambda i: (i["due_on"], i["issued_on"], i["invoice_number"]),
            default=None,
        )
        stage = anchor["last_stage"] if anchor else None
        row.update(
            oldest_unpaid_invoice=anchor["invoice_number"] if anchor else None,
            oldest_unpaid_due_on=anchor["due_on"] if anchor else None,
            stage_days=stage,
            stage_invoice=anchor["invoice_number"] if anchor and stage is not None else None,
            overdue_minor=sum(
                i["outstanding_minor"] for i in collectible if i["due_on"] < row["overdue_as_of"]
            ),
            suspended_count=len(self.suspended),
            suspended_subscriptions=json.dumps(sorted(self.suspended)) if self.suspended else NONE,
        )


NONE = json.dumps([])
"""No subscription suspended, as `json.dumps` writes it (most accounts)."""


def _suspended_in(row: Row) -> set[str]:
    stored: str = row["suspended_subscriptions"]
    return set() if stored == NONE else set(json.loads(stored))


def _opened(_: Account, __: Any) -> None:
    """The row is made by the projection before any handler runs."""


def _issued(account: Account, e: Any) -> None:
    account.row["balance_minor"] += e.total.minor_units
    account.invoices[e.number] = {
        "account_id": e.originator_id,
        "invoice_number": e.number,
        "issued_on": e.issued_on,
        "due_on": e.due_on,
        "outstanding_minor": e.total.minor_units,
        "disputed": False,
        "last_stage": None,
    }
    account.changed.add(e.number)


def _paid(account: Account, e: Any) -> None:
    account.row["balance_minor"] -= e.amount.minor_units
    account.row["credit_minor"] += e.unapplied.minor_units
    for allocation in e.allocations:
        account.take_off(allocation.invoice_number, allocation.amount.minor_units)


def _credit_applied(account: Account, e: Any) -> None:
    account.row["credit_minor"] -= e.amount.minor_units
    account.take_off(e.invoice_number, e.amount.minor_units)


def _credit_note(account: Account, e: Any) -> None:
    account.row["balance_minor"] -= e.amount.minor_units
    account.row["credit_minor"] += e.released.minor_units
    account.take_off(e.invoice_number, e.amount.minor_units - e.released.minor_units)


def _written_off(account: Account, e: Any) -> None:
    account.row["balance_minor"] -= e.amount.minor_units
    account.take_off(e.invoice_number, e.amount.minor_units)


def _dispute(disputed: bool) -> Callable[[Account, Any], None]:
    def handle(account: Account, e: Any) -> None:
        invoice = account.invoice(e.invoice_number)
        if invoice is not None:  # a settled invoice may still end its dispute
            invoice["disputed"] = disputed

    return handle


def _stage(account: Account, e: Any) -> None:
    invoice = account.invoice(e.invoice_number)
    if invoice is not None:
        invoice["last_stage"] = e.stage.days
    account.row["policy_version"] = e.policy_version


def _reminder(account: Account, e: Any) -> None:
    account.row.update(
        last_reminder_kind=e.kind.value,
        last_reminder_at=e.meta.occurred_at,
        policy_version=e.policy_version,
    )


def _suspended(account: Account, e: Any) -> None:
    account.suspended.add(e.subscription_id)
    account.row["policy_version"] = e.policy_version


def _nothing(_: Account, __: Any) -> None:
    """Changes nothing shown here; the row still takes the version."""


EVOLVE: dict[type[Any], Callable[[Account, Any], None]] = {
    E.Opened: _opened,
    E.SubscriptionAdded: _nothing,
    E.PrepaymentRecorded: _nothing,
    E.InvoiceIssued: _issued,
    E.PaymentReceived: _paid,
    E.CreditApplied: _credit_applied,
    E.CreditNoteIssued: _credit_note,
    E.WrittenOff: _written_off,
    E.DisputeOpened: _dispute(True),
    E.DisputeClosed: _dispute(False),
    E.StageEntered: _stage,
    E.ReminderSent: _reminder,
    E.AccessSuspended: _suspended,
    E.AccessSuspendedByHand: lambda account, e: account.suspended.add(e.subscription_id),
    E.CollectionHeld: _nothing,
    E.AccessReinstated: lambda account, e: account.suspended.discard(e.subscription_id),
    E.QuantityChanged: _nothing,
    E.SubscriptionCancelled: _nothing,
    E.BillingCaseLinked: _nothing,
}


def opened_row(e: Any) -> Row:
    return {
        "account_id": e.originator_id,
        "customer_id": e.customer_id,
        "currency": e.currency,
        "time_zone": e.time_zone,
        "balance_minor": 0,
        "credit_minor": 0,
        "overdue_minor": 0,
        "last_reminder_kind": None,
        "last_reminder_at": None,
        "policy_version": None,
    }


class AccountStandingProjection(Projection):
    """Keeps `account_standing` (and each account's open invoices) in step."""

    name: ClassVar[str] = "account_standing"
    tables: ClassVar[tuple[str, ...]] = ("account_standing", "standing_invoices")
    handles: ClassVar[tuple[type[Any], ...]] = tuple(EVOLVE)

    def apply(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        accounts = self._load(db, tables, events)
        for positioned in events:
            event = positioned.event
            if isinstance(event, E.Opened):
                accounts[event.originator_id] = Account(opened_row(event), {}, set())
            account = accounts[event.originator_id]
            EVOLVE[type(event)](account, event)
            account.last = positioned
        for account in accounts.values():
            account.stamp()
            account.finish()
        self._save(db, tables, accounts.values())

    @staticmethod
    def _load(
        db: ProjectionDatabase, tables: TableNames, events: Sequence[PositionedEvent]
    ) -> dict[UUID, Account]:
        """The accounts changed in this batch but opened before it."""
        ids = list({p.event.originator_id for p in events if not isinstance(p.event, E.Opened)})
        standing, invoices = tables("account_standing"), tables("standing_invoices")
        accounts: dict[UUID, Account] = {}
        found = rows_in(db, standing, COLUMNS, "account_id", ids)
        for row in stored_rows(db, COLUMNS, standing_row, found):
            accounts[row["account_id"]] = Account(row, {}, _suspended_in(row))
        found = rows_in(db, invoices, INVOICE_COLUMNS, "account_id", ids)
        for invoice in stored_rows(db, INVOICE_COLUMNS, invoice_row, found):
            accounts[invoice["account_id"]].invoices[invoice["invoice_number"]] = invoice
        return accounts

    @staticmethod
    def _save(db: ProjectionDatabase, tables: TableNames, accounts: Iterable[Account]) -> None:
        accounts = list(accounts)
        # One row per account, and per account's invoice: distinct keys.
        db.upsert_rows(
            tables("account_standing"),
            COLUMNS,
            ("account_id",),
            [_standing_values(a.row) for a in accounts],
            distinct=True,
        )
        db.upsert_rows(
            tables("standing_invoices"),
            INVOICE_COLUMNS,
            ("account_id", "invoice_number"),
            [_invoice_values(a.invoices[n]) for a in accounts for n in sorted(a.changed)],
            distinct=True,
        )
        db.delete_rows(
            tables("standing_invoices"),
            ("account_id", "invoice_number"),
            [(a.row["account_id"], n) for a in accounts for n in sorted(a.settled)],
        )


_standing_values = itemgetter(*COLUMNS)  # a row's values in column order, in C
_invoice_values = itemgetter(*INVOICE_COLUMNS)

standing_row = row_reader(
    COLUMNS,
    {
        "account_id": as_uuid,
        "overdue_as_of": as_day,
        "oldest_unpaid_due_on": as_optional_day,
        "last_reminder_at": lambda moment: None if moment is None else as_moment(moment),
    },
)
"""A stored standing row with the store's types made Python's."""

invoice_row = row_reader(
    INVOICE_COLUMNS,
    {"account_id": as_uuid, "issued_on": as_day, "due_on": as_day, "disputed": bool},
)
"""A stored invoice row with the store's types made Python's."""


# The view ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountStanding:
    """One account's standing, amounts in its currency."""

    account_id: UUID
    customer_id: str
    currency: str
    balance: Decimal  # negative when the account is in credit
    credit: Decimal  # unapplied account credit
    overdue: Decimal  # past due and undisputed on `overdue_as_of`
    overdue_as_of: date  # the day of the account's last event
    oldest_unpaid_invoice: str | None  # the oldest unpaid undisputed one
    oldest_unpaid_due_on: date | None
    stage_days: int | None  # the last collection stage that invoice entered
    stage_invoice: str | None
    suspended_subscriptions: tuple[str, ...]
    last_reminder_kind: str | None
    last_reminder_at: datetime | None
    policy_version: int | None  # of the last collection step
    version: int
    position: int

    @classmethod
    def from_row(cls, row: Row) -> AccountStanding:
        currency = row["currency"]
        return cls(
            account_id=row["account_id"],
            customer_id=row["customer_id"],
            currency=currency,
            balance=from_minor(row["balance_minor"], currency),
            credit=from_minor(row["credit_minor"], currency),
            overdue=from_minor(row["overdue_minor"], currency),
            overdue_as_of=row["overdue_as_of"],
            oldest_unpaid_invoice=row["oldest_unpaid_invoice"],
            oldest_unpaid_due_on=row["oldest_unpaid_due_on"],
            stage_days=row["stage_days"],
            stage_invoice=row["stage_invoice"],
            suspended_subscriptions=tuple(json.loads(row["suspended_subscriptions"])),
            last_reminder_kind=row["last_reminder_kind"],
            last_reminder_at=row["last_reminder_at"],
            policy_version=row["policy_version"],
            version=row["version"],
            position=row["position"],
        )

    def is_overdue_on(self, day: date) -> bool:
        return self.oldest_unpaid_due_on is not None and self.oldest_unpaid_due_on < day


@dataclass(frozen=True, slots=True)
class StandingFilter:
    """What a caller may filter standings by; None (or False) means any."""

    customer_id: str | None = None
    currency: str | None = None
    suspended_only: bool = False


BY_CUSTOMER = sql("customer_id")
_EQUALS = {c: sql("{c} = {}", c=identifier(c)) for c in ("customer_id", "currency")}
BY_DUE_DATE = sql("oldest_unpaid_due_on, customer_id")


class AccountStandingView:
    """Queries on `account_standing`."""

    def __init__(self, db: ProjectionDatabase, tables: TableNames = LIVE) -> None:
        self.db = db
        self.table = tables("account_standing")

    def get(self, account_id: UUID) -> AccountStanding | None:
        found = self._rows(Conditions.of(sql("account_id = {}"), account_id), BY_CUSTOMER, 1)
        return found[0] if found else None

    def for_customer(self, customer_id: str) -> AccountStanding | None:
        found = self._rows(Conditions.of(sql("customer_id = {}"), customer_id), BY_CUSTOMER, 1)
        return found[0] if found else None

    def page(
        self, where: StandingFilter, *, limit: int = 50, after: str | None = None
    ) -> list[AccountStanding]:
        """A page of accounts by customer id; `after` is the previous page's last
        customer id (keyset pagination)."""
        conditions = self._where(where)
        conditions.add_given(sql("customer_id > {}"), after)
        return self._rows(conditions, BY_CUSTOMER, limit)

    def overdue(
        self,
        as_of: date,
        *,
        currency: str | None = None,
        limit: int = 50,
        after: tuple[date, str] | None = None,
    ) -> list[AccountStanding]:
        """Accounts with an undisputed invoice past due on `as_of`, the longest
        overdue first; `after` is the previous page's last (due date, customer)."""
        conditions = self._where(StandingFilter(currency=currency))
        conditions.add(sql("oldest_unpaid_due_on < {}"), as_of)
        if after is not None:
            conditions.add(sql("(oldest_unpaid_due_on, customer_id) > ({}, {})"), *after)
        return self._rows(conditions, BY_DUE_DATE, limit)

    @staticmethod
    def _where(where: StandingFilter) -> Conditions:
        conditions = Conditions()
        for column in ("customer_id", "currency"):
            conditions.add_given(_EQUALS[column], getattr(where, column))
        if where.suspended_only:
            conditions.add(sql("suspended_count > 0"))
        return conditions

    def _rows(self, where: Conditions, order: Sql, limit: int) -> list[AccountStanding]:
        found = self.db.fetchall(
            select_where(self.table, COLUMNS, where.all(), order, limited=True),
            [*where.params, limit],
        )
        return [AccountStanding.from_row(standing_row(values)) for values in found]
