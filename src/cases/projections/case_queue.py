"""The case queue: one row per support case, for filtering and sorting lists.

A batch is folded in memory first (read the affected rows once, apply every
event, write each changed row once), so a busy case costs one upsert per
batch, not one per event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, ClassVar
from uuid import UUID

from cases.db.database import ProjectionDatabase
from cases.db.statement import Sql, identifier, identifiers, sql, where_all
from cases.domain.case_values import CaseStatus, Direction
from cases.domain.support_case import CLOCK_FACT_TYPES, SupportCase
from cases.projections.erasures import ERASURES, ErasingProjection
from cases.projections.projection import LIVE, PositionedEvent, TableNames
from cases.projections.rows import as_uuid, rows_in, upsert_rows

COLUMNS = (
    "case_id",
    "customer_id",
    "title",
    "product",
    "channel",
    "category",
    "severity",
    "status",
    "assignee",
    "received_at",
    "first_response_at",
    "last_update_at",
    "resolved_at",
    "closed_at",
    "waiting_on_customer",
    "work_started",
    "escalation_count",
    "escalation_open",
    "escalation_target",
    "escalation_vehicle",
    "vendor_reference",
    "matched_advisory",
    "vendor_attention",
    "terms_version",
    "reopen_count",
    "billing_account_id",
    "version",
    "position",
)

Row = dict[str, Any]
E = SupportCase


def _received(row: Row, e: Any) -> None:
    row.update(
        customer_id=e.customer_id,
        title=e.title,
        product=e.product,
        channel=e.channel.value,
        category=e.category.value,
        severity=e.severity.value,
        assignee=None,
        received_at=e.received_at,
        first_response_at=None,
        resolved_at=None,
        closed_at=None,
        waiting_on_customer=False,
        work_started=False,
        escalation_count=0,
        escalation_open=False,
        escalation_target=None,
        escalation_vehicle=None,
        vendor_reference=None,
        matched_advisory=None,
        vendor_attention=False,
        terms_version=e.terms_version,
        reopen_count=0,
        billing_account_id=None,
    )


def _health(row: Row, e: Any) -> None:
    row["work_started"] = True
    row["matched_advisory"] = e.advisory.vendor_id if e.advisory else None


def _communication(row: Row, e: Any) -> None:
    if e.direction is Direction.OUTBOUND and row["first_response_at"] is None:
        row["first_response_at"] = e.meta.occurred_at


def _escalated(row: Row, e: Any) -> None:
    row.update(
        escalation_count=e.number,
        escalation_open=True,
        escalation_target=e.target.value,
        escalation_vehicle=e.vehicle.value if e.vehicle else None,
        vendor_reference=None,
        vendor_attention=False,
    )


def _reopened(row: Row, _: Any) -> None:
    row.update(resolved_at=None, closed_at=None, reopen_count=row["reopen_count"] + 1)


EVOLVE: dict[type[Any], Callable[[Row, Any], None]] = {
    E.Received: _received,
    E.ServiceHealthChecked: _health,
    E.DiagnosisRecorded: lambda row, _: row.update(work_started=True),
    E.CommunicationRecorded: _communication,
    E.WaitingOnCustomerStarted: lambda row, _: row.update(waiting_on_customer=True),
    E.WaitingOnCustomerEnded: lambda row, _: row.update(waiting_on_customer=False),
    E.Assigned: lambda row, e: row.update(assignee=e.agent_id),
    E.SeverityChanged: lambda row, e: row.update(severity=e.severity.value),
    E.Escalated: _escalated,
    E.VendorReferenceRecorded: lambda row, e: row.update(vendor_reference=e.reference),
    E.VendorUpdateRecorded: lambda _row, _: None,
    E.HandedBack: lambda row, _: row.update(escalation_open=False, vendor_attention=False),
    E.VendorRequestOpened: lambda row, e: row.update(
        vendor_reference=e.request_id, vendor_attention=False
    ),
    # "Attention needed" on the vendor's side: the partner owes the vendor an answer.
    E.VendorRequestStatusChanged: lambda row, e: row.update(
        vendor_attention=e.status == "attention_needed"
    ),
    E.VendorNoteImported: lambda _row, _: None,
    E.LinkedIncidentResolved: lambda _row, _: None,
    E.Resolved: lambda row, e: row.update(resolved_at=e.meta.occurred_at),
    E.Closed: lambda row, e: row.update(closed_at=e.meta.occurred_at),
    E.Reopened: _reopened,
    E.NoteAdded: lambda _row, _: None,
    E.BillingAccountLinked: lambda row, e: row.update(billing_account_id=e.account_id),
}


# Every event the queue handles, by its exact type: how it changes a row, or
# None for a clock fact (it moves only the version). One lookup an event.
STEPS: dict[type[Any], Callable[[Row, Any], None] | None] = {
    **dict.fromkeys(CLOCK_FACT_TYPES),
    **EVOLVE,
}


def status_of(row: Row) -> CaseStatus:
    """The same rule as `SupportCase.status`, on a row."""
    if row["closed_at"] is not None:
        return CaseStatus.CLOSED
    if row["resolved_at"] is not None:
        return CaseStatus.RESOLVED
    if row["escalation_open"]:
        return CaseStatus.ESCALATED
    if row["waiting_on_customer"]:
        return CaseStatus.WAITING_ON_CUSTOMER
    if row["work_started"] or row["first_response_at"] or row["reopen_count"]:
        return CaseStatus.IN_PROGRESS
    return CaseStatus.NEW


class CaseQueueProjection(ErasingProjection):
    """Keeps `case_queue` in step with support-case events."""

    name: ClassVar[str] = "case_queue"
    tables: ClassVar[tuple[str, ...]] = ("case_queue",)
    # Clock facts change no column a queue shows, but move the case's version,
    # which clients send back as If-Match.
    handles: ClassVar[tuple[type[Any], ...]] = (*EVOLVE, *CLOCK_FACT_TYPES, *ERASURES)
    # The personal text a contact's erasure overwrites (ADR 0044).
    erased_columns: ClassVar[tuple[str, tuple[str, ...]]] = ("case_queue", ("title",))

    def apply_case_events(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        table = tables("case_queue")
        rows = self._load(db, table, events)
        steps = STEPS
        for positioned in events:
            event = positioned.event
            case_id = event.originator_id
            row = rows.get(case_id)
            if row is None:
                row = rows[case_id] = {"case_id": case_id}
            step = steps[type(event)]
            if step is not None:
                step(row, event)
                row["last_update_at"] = event.meta.occurred_at
            row["version"] = event.originator_version
            row["position"] = positioned.position
        # The status is a function of the row's other columns: once per row.
        for row in rows.values():
            row["status"] = status_of(row).value
        self._upsert(db, table, rows.values())

    @staticmethod
    def _load(
        db: ProjectionDatabase, table: str, events: Sequence[PositionedEvent]
    ) -> dict[UUID, Row]:
        received = SupportCase.Received
        ids = list({p.event.originator_id for p in events if type(p.event) is not received})
        rows: dict[UUID, Row] = {}
        for values in rows_in(db, table, COLUMNS, "case_id", ids):
            row = dict(zip(COLUMNS, values, strict=True))
            row["case_id"] = case_id = as_uuid(row["case_id"])
            rows[case_id] = row
        return rows

    @staticmethod
    def _upsert(db: ProjectionDatabase, table: str, rows: Any) -> None:
        upsert_rows(db, table, COLUMNS, ("case_id",), rows, distinct=True)  # by case


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """What a caller may filter the queue by; None means any."""

    customer_id: str | None = None
    status: str | None = None
    severity: str | None = None
    assignee: str | None = None
    category: str | None = None
    received_from: datetime | None = None
    received_before: datetime | None = None
    vendor_attention: bool | None = None  # the vendor's request awaits the partner


class CaseQueueView:
    """Queries on `case_queue`."""

    SORTS: ClassVar[dict[str, str]] = {
        "received": "received_at",
        "last_update": "last_update_at",
    }

    def __init__(self, db: ProjectionDatabase, tables: TableNames = LIVE) -> None:
        self.db = db
        self.table = tables("case_queue")

    def get(self, case_id: UUID) -> Row | None:
        values = self.db.fetchone(
            sql(
                "SELECT {columns} FROM {table} WHERE case_id = {}",
                columns=identifiers(COLUMNS),
                table=identifier(self.table),
            ),
            (case_id,),
        )
        return dict(zip(COLUMNS, values, strict=True)) if values else None

    def page(
        self,
        where: CaseFilter,
        *,
        sort: str = "received",
        descending: bool = True,
        limit: int = 50,
        after: tuple[datetime, UUID] | None = None,
    ) -> list[Row]:
        """A page of cases; `after` is the (sort value, case id) of the previous
        page's last row (keyset pagination: stable under concurrent inserts)."""
        filters, params = self._where(where)
        if after is not None:
            params += [after[0], after[1]]
        statement = _page(self.table, filters, self.SORTS[sort], descending, after is not None)
        rows = self.db.fetchall(statement, [*params, limit])
        return [dict(zip(COLUMNS, values, strict=True)) for values in rows]

    @staticmethod
    def _where(where: CaseFilter) -> tuple[tuple[str, ...], list[object]]:
        """The filters given (each a name in `_FILTERS`) and their values."""
        filters = [name for name in _FILTERS if getattr(where, name) is not None]
        return tuple(filters), [getattr(where, name) for name in filters]


_FILTERS: dict[str, Sql] = {
    **{
        column: sql("{column} = {}", column=identifier(column))
        for column in ("customer_id", "status", "severity", "assignee", "category")
    },
    "received_from": sql("received_at >= {}"),
    "received_before": sql("received_at < {}"),
    "vendor_attention": sql("vendor_attention = {}"),
}


@lru_cache(maxsize=256)
def _page(table: str, filters: tuple[str, ...], sort: str, descending: bool, keyset: bool) -> Sql:
    """A page's statement: composed once per table, filters, order and keyset."""
    column = identifier(sort)
    clauses = [_FILTERS[name] for name in filters]
    if keyset:
        clauses.append(
            sql(
                "({column}, case_id) < ({}, {})"
                if descending
                else "({column}, case_id) > ({}, {})",
                column=column,
            )
        )
    order = sql(
        " ORDER BY {column} DESC, case_id DESC LIMIT {}"
        if descending
        else " ORDER BY {column} ASC, case_id ASC LIMIT {}",
        column=column,
    )
    return sql(
        "SELECT {columns} FROM {table}{where}{order}",
        columns=identifiers(COLUMNS),
        table=identifier(table),
        where=where_all(clauses),
        order=order,
    )
