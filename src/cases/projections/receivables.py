"""Receivables: one row per invoice with its open amount, and every movement of
that amount by day, so an aging report can be answered for any as-of date.

Amounts are integers of the currency's minor unit (`*_minor`), so SQL sums are
exact on SQLite too; they become `Decimal` again on the way out.

A movement happens on a *day*: a payment on the day it was received, anything
else (credit applied, credit notes, write-offs, disputes) on the day the event
occurred in the account's billing time zone; never before the invoice's issue
day. The open amount on a day is the sum of the invoice's movements up to that
day; it is disputed on that day if more disputes were opened than closed by
then. An invoice's open amount only ever falls, so it is open on day D exactly
when it was issued by D and not settled (`settled_on`) by D, which keeps the
aging query to the invoices that can matter.

Accounts' customer, currency and time zone come from `Opened` and are noted in
`receivable_accounts`, as invoice events do not carry them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, ClassVar
from uuid import UUID
from zoneinfo import ZoneInfo

from cases.db.database import ProjectionDatabase
from cases.db.shapes import insert, select_where, upsert_json
from cases.db.statement import NOTHING, Sql, identifier, identifiers, sql
from cases.domain.billing_account import BillingAccount
from cases.domain.money import Money
from cases.projections.projection import LIVE, PositionedEvent, Projection, TableNames
from cases.projections.rows import (
    as_uuid,
    row_reader,
    rows_in,
    rows_keyed_in,
    stored_rows,
    upsert_rows,
    wanted_rows,
)

COLUMNS = (
    "account_id",
    "invoice_number",
    "customer_id",
    "currency",
    "issued_on",
    "due_on",
    "total_minor",
    "open_minor",
    "disputed",
    "moved_on",
    "settled_on",
    "position",
)
ACCOUNT_COLUMNS = ("account_id", "customer_id", "currency", "time_zone")

Row = dict[str, Any]
Key = tuple[UUID, str]
DayKey = tuple[UUID, str, date]
MOVEMENT_COLUMNS = ("account_id", "invoice_number", "day", "open_delta_minor", "dispute_delta")
MOVEMENT_KEYS = ("account_id", "invoice_number", "day")


@lru_cache(maxsize=8)
def _add_statements(table: str) -> tuple[Sql, Sql]:
    """A day row's movements added to the stored ones: a row a statement, and all
    rows in one (PostgreSQL, `ProjectionDatabase.write_rows`)."""
    adds = sql(
        "open_delta_minor = {table}.open_delta_minor + excluded.open_delta_minor, "
        "dispute_delta = {table}.dispute_delta + excluded.dispute_delta",
        table=identifier(table),
    )
    each = insert(table, MOVEMENT_COLUMNS) + sql(
        " ON CONFLICT ({keys}) DO UPDATE SET ", keys=identifiers(MOVEMENT_KEYS)
    )
    return each + adds, upsert_json(table, MOVEMENT_COLUMNS, MOVEMENT_KEYS, adds)


E = BillingAccount


# Money in minor units ---------------------------------------------------------


def from_minor(minor: object, currency: str) -> Decimal:
    """A count of minor units (an int, or a Decimal from a PostgreSQL SUM) as an
    amount of `currency`."""
    return Money.from_minor_units(int(str(minor)), currency).amount


def as_day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def as_optional_day(value: object) -> date | None:
    return None if value is None else as_day(value)


# The projection -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BillingAccountNote:
    """What invoice events need to know about their account."""

    customer_id: str
    currency: str
    time_zone: str

    def day_of(self, event: Any) -> date:
        moment: datetime = event.meta.occurred_at
        return moment.astimezone(ZoneInfo(self.time_zone)).date()


class Fold:
    """One batch's changes: the touched invoice rows and the day movements."""

    def __init__(self, accounts: dict[UUID, BillingAccountNote], rows: dict[Key, Row]) -> None:
        self.accounts = accounts
        self.rows = rows
        self.touched: set[Key] = set()
        self.movements: dict[DayKey, list[int]] = {}

    def row(self, event: Any, invoice_number: str, position: int) -> Row:
        key = (event.originator_id, invoice_number)
        row = self.rows[key]
        row["position"] = position
        self.touched.add(key)
        return row

    def move(self, row: Row, day: date, open_delta: int, dispute_delta: int = 0) -> None:
        if not open_delta and not dispute_delta:
            return  # a credit note on a paid part moves nothing
        day = max(day, row["issued_on"])
        key = (row["account_id"], row["invoice_number"], day)
        deltas = self.movements.setdefault(key, [0, 0])
        deltas[0] += open_delta
        deltas[1] += dispute_delta
        if open_delta:
            row["open_minor"] += open_delta
            row["moved_on"] = max(row["moved_on"], day)
            if row["open_minor"] == 0:
                row["settled_on"] = row["moved_on"]

    def reduce(self, event: Any, position: int, invoice_number: str, minor: int, day: date) -> None:
        self.move(self.row(event, invoice_number, position), day, -minor)

    def day_of(self, event: Any) -> date:
        return self.accounts[event.originator_id].day_of(event)

    # Handlers -------------------------------------------------------------------

    def issued(self, e: Any, position: int) -> None:
        account = self.accounts[e.originator_id]
        key = (e.originator_id, e.number)
        total = e.total.minor_units
        self.rows[key] = {
            "account_id": e.originator_id,
            "invoice_number": e.number,
            "customer_id": account.customer_id,
            "currency": account.currency,
            "issued_on": e.issued_on,
            "due_on": e.due_on,
            "total_minor": total,
            "open_minor": 0,
            "disputed": False,
            "moved_on": e.issued_on,
            "settled_on": None,
            "position": position,
        }
        self.move(self.row(e, e.number, position), e.issued_on, total)

    def paid(self, e: Any, position: int) -> None:
        for allocation in e.allocations:
            self.reduce(
                e, position, allocation.invoice_number, allocation.amount.minor_units, e.received_on
            )

    def credit_applied(self, e: Any, position: int) -> None:
        self.reduce(e, position, e.invoice_number, e.amount.minor_units, self.day_of(e))

    def credit_note(self, e: Any, position: int) -> None:
        taken_off = e.amount.minor_units - e.released.minor_units
        self.reduce(e, position, e.invoice_number, taken_off, self.day_of(e))

    def written_off(self, e: Any, position: int) -> None:
        self.reduce(e, position, e.invoice_number, e.amount.minor_units, self.day_of(e))

    def dispute(self, e: Any, position: int) -> None:
        opened = isinstance(e, E.DisputeOpened)
        row = self.row(e, e.invoice_number, position)
        row["disputed"] = opened
        self.move(row, self.day_of(e), 0, 1 if opened else -1)


HANDLERS: dict[type[Any], Callable[[Fold, Any, int], None]] = {
    E.InvoiceIssued: Fold.issued,
    E.PaymentReceived: Fold.paid,
    E.CreditApplied: Fold.credit_applied,
    E.CreditNoteIssued: Fold.credit_note,
    E.WrittenOff: Fold.written_off,
    E.DisputeOpened: Fold.dispute,
    E.DisputeClosed: Fold.dispute,
}


def invoices_named(event: Any) -> tuple[str, ...]:
    """The invoices an event changes."""
    if isinstance(event, E.InvoiceIssued):
        return (event.number,)
    if isinstance(event, E.PaymentReceived):
        return tuple(a.invoice_number for a in event.allocations)
    return (event.invoice_number,)


class ReceivablesProjection(Projection):
    """Keeps `receivables` and `receivable_movements` in step with billing accounts."""

    name: ClassVar[str] = "receivables"
    tables: ClassVar[tuple[str, ...]] = (
        "receivable_accounts",
        "receivables",
        "receivable_movements",
    )
    handles: ClassVar[tuple[type[Any], ...]] = (E.Opened, *HANDLERS)

    def apply(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        opened = [p.event for p in events if isinstance(p.event, E.Opened)]
        changes = [p for p in events if not isinstance(p.event, E.Opened)]
        self._note_accounts(db, tables("receivable_accounts"), opened)
        if not changes:
            return
        accounts = {
            e.originator_id: BillingAccountNote(e.customer_id, e.currency, e.time_zone)
            for e in opened
        }
        wanted = {p.event.originator_id for p in changes} - set(accounts)
        accounts |= self._accounts(db, tables("receivable_accounts"), wanted)
        fold = Fold(accounts, self._load(db, tables("receivables"), changes))
        for positioned in changes:
            HANDLERS[type(positioned.event)](fold, positioned.event, positioned.position)
        self._upsert(db, tables("receivables"), [fold.rows[key] for key in fold.touched])
        self._add_movements(db, tables("receivable_movements"), fold.movements)

    @staticmethod
    def _note_accounts(db: ProjectionDatabase, table: str, opened: list[Any]) -> None:
        db.insert_rows(
            table,
            ACCOUNT_COLUMNS,
            [(e.originator_id, e.customer_id, e.currency, e.time_zone) for e in opened],
        )

    @staticmethod
    def _accounts(
        db: ProjectionDatabase, table: str, ids: set[UUID]
    ) -> dict[UUID, BillingAccountNote]:
        found: dict[UUID, BillingAccountNote] = {}
        for account_id, customer_id, currency, time_zone in rows_in(
            db, table, ACCOUNT_COLUMNS, "account_id", ids
        ):
            found[as_uuid(account_id)] = BillingAccountNote(
                str(customer_id), str(currency), str(time_zone)
            )
        return found

    @staticmethod
    def _load(db: ProjectionDatabase, table: str, changes: list[PositionedEvent]) -> dict[Key, Row]:
        """The rows of invoices changed in this batch but issued before it (those
        alone: not every invoice of the accounts, which grows with the history)."""
        issued = {
            (p.event.originator_id, p.event.number)
            for p in changes
            if isinstance(p.event, E.InvoiceIssued)
        }
        wanted = {
            (p.event.originator_id, number) for p in changes for number in invoices_named(p.event)
        } - issued
        stored = rows_keyed_in(db, table, COLUMNS, ("account_id", "invoice_number"), wanted)
        return wanted_rows(
            stored_rows(db, COLUMNS, receivable_row, stored),
            lambda r: (r["account_id"], r["invoice_number"]),
            wanted,
        )

    @staticmethod
    def _upsert(db: ProjectionDatabase, table: str, rows: Iterable[Row]) -> None:
        upsert_rows(db, table, COLUMNS, ("account_id", "invoice_number"), rows, distinct=True)

    @staticmethod
    def _add_movements(
        db: ProjectionDatabase, table: str, movements: dict[DayKey, list[int]]
    ) -> None:
        """Add this batch's movements to the day rows (a zero sum is kept, so the
        rows do not depend on how the log was cut into batches)."""
        each, at_once = _add_statements(table)
        db.write_rows(
            each,
            at_once,
            MOVEMENT_COLUMNS,
            [(*key, open_delta, dispute) for key, (open_delta, dispute) in movements.items()],
        )


receivable_row = row_reader(
    COLUMNS,
    {
        "account_id": as_uuid,
        "issued_on": as_day,
        "due_on": as_day,
        "moved_on": as_day,
        "settled_on": as_optional_day,
        "disputed": bool,
    },
)
"""A stored row with the store's types made Python's."""


# The view ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Receivable:
    """One invoice as receivables know it."""

    account_id: UUID
    invoice_number: str
    customer_id: str
    currency: str
    issued_on: date
    due_on: date
    total: Decimal
    open_amount: Decimal
    disputed: bool
    settled_on: date | None

    @classmethod
    def from_row(cls, row: Row) -> Receivable:
        currency = row["currency"]
        return cls(
            account_id=row["account_id"],
            invoice_number=row["invoice_number"],
            customer_id=row["customer_id"],
            currency=currency,
            issued_on=row["issued_on"],
            due_on=row["due_on"],
            total=from_minor(row["total_minor"], currency),
            open_amount=from_minor(row["open_minor"], currency),
            disputed=row["disputed"],
            settled_on=row["settled_on"],
        )


@dataclass(frozen=True, slots=True)
class AgingRow:
    """Open amounts of one currency by days past due on the as-of date.

    Disputed invoices are out of collection: their open amounts count in
    `disputed` only, not in the age buckets. `total` is everything open.
    """

    currency: str
    current: Decimal
    d1_30: Decimal
    d31_60: Decimal
    d61_90: Decimal
    d90_plus: Decimal
    disputed: Decimal
    total: Decimal


# Each open invoice's amount and dispute count on the day, from its movements;
# only invoices issued by then and not settled by then can be open.
_ON_THE_DAY = """
WITH on_the_day AS (
    SELECT r.account_id, r.currency, r.due_on,
           SUM(m.open_delta_minor) AS open_minor,
           SUM(m.dispute_delta) AS disputes
    FROM {receivables} r
    JOIN {movements} m
      ON m.account_id = r.account_id AND m.invoice_number = r.invoice_number AND m.day <= {as_of}
    WHERE r.issued_on <= {as_of} AND (r.settled_on IS NULL OR r.settled_on > {as_of}){and_account}
    GROUP BY r.account_id, r.invoice_number, r.currency, r.due_on
)
"""

_AGING = """
SELECT currency,
       SUM(CASE WHEN disputes = 0 AND due_on >= {as_of} THEN open_minor ELSE 0 END),
       SUM(CASE WHEN disputes = 0 AND due_on < {as_of} AND due_on >= {d30}
                THEN open_minor ELSE 0 END),
       SUM(CASE WHEN disputes = 0 AND due_on < {d30} AND due_on >= {d60}
                THEN open_minor ELSE 0 END),
       SUM(CASE WHEN disputes = 0 AND due_on < {d60} AND due_on >= {d90}
                THEN open_minor ELSE 0 END),
       SUM(CASE WHEN disputes = 0 AND due_on < {d90} THEN open_minor ELSE 0 END),
       SUM(CASE WHEN disputes > 0 THEN open_minor ELSE 0 END)
FROM on_the_day
WHERE open_minor > 0
GROUP BY currency
ORDER BY currency
"""

BY_DUE_DATE = sql("due_on, issued_on, invoice_number")


class ReceivablesView:
    """Queries on `receivables` and `receivable_movements`."""

    def __init__(self, db: ProjectionDatabase, tables: TableNames = LIVE) -> None:
        self.db = db
        self.table = tables("receivables")
        self.movements = tables("receivable_movements")

    def get(self, account_id: UUID, invoice_number: str) -> Receivable | None:
        found = self._rows(
            sql("account_id = {} AND invoice_number = {}"), [account_id, invoice_number]
        )
        return found[0] if found else None

    def open_invoices(self, account_id: UUID) -> list[Receivable]:
        """An account's invoices with something still open, oldest due first."""
        return self._rows(sql("account_id = {} AND open_minor > 0"), [account_id])

    def of_customer(self, customer_id: str) -> list[Receivable]:
        """Every invoice of a customer, settled or not, oldest due first."""
        return self._rows(sql("customer_id = {}"), [customer_id])

    def aging(self, as_of: date) -> list[AgingRow]:
        """Open amounts on `as_of` by days past due (current: not yet past due;
        then 1-30, 31-60, 61-90 and over 90 days), per currency, in one query.

        Past dates are answered as the log now knows them: a payment recorded
        later but received before `as_of` counts as received.
        """
        d30, d60, d90 = (as_of - timedelta(days=n) for n in (30, 60, 90))
        statement = self._on_the_day(NOTHING) + sql(_AGING)
        params = {"as_of": as_of, "d30": d30, "d60": d60, "d90": d90}
        rows = []
        for currency, *sums in self.db.fetchall(statement, params):
            current, d1_30, d31_60, d61_90, d90_plus, disputed = (
                from_minor(s, currency) for s in sums
            )
            total = current + d1_30 + d31_60 + d61_90 + d90_plus + disputed
            rows.append(
                AgingRow(currency, current, d1_30, d31_60, d61_90, d90_plus, disputed, total)
            )
        return rows

    def overdue(self, account_id: UUID, as_of: date) -> Decimal:
        """What an account's undisputed invoices past their due date had open on
        `as_of` (in the account's currency), as the log now knows it."""
        statement = self._on_the_day(sql(" AND r.account_id = {account_id}")) + sql(
            "SELECT currency, SUM(open_minor) FROM on_the_day "
            "WHERE disputes = 0 AND open_minor > 0 AND due_on < {as_of} GROUP BY currency"
        )
        found = self.db.fetchone(statement, {"as_of": as_of, "account_id": account_id})
        return Decimal(0) if found is None else from_minor(found[1], str(found[0]))

    def _on_the_day(self, and_account: Sql) -> Sql:
        return sql(
            _ON_THE_DAY,
            receivables=identifier(self.table),
            movements=identifier(self.movements),
            and_account=and_account,
        )

    def _rows(self, where: Sql, params: list[object]) -> list[Receivable]:
        found = self.db.fetchall(select_where(self.table, COLUMNS, where, BY_DUE_DATE), params)
        return [Receivable.from_row(receivable_row(values)) for values in found]
