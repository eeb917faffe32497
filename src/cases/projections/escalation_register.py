"""The escalation register: one row per escalation of a case to the vendor or the
indirect provider, for reports by period, vehicle, category and customer.

An escalation event does not carry the case's customer, so the projection
keeps its own note of it (`escalation_cases`, from `Received`). A batch is
folded in memory like the case queue's: each touched escalation is read once
and written once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from cases.db.database import ProjectionDatabase
from cases.db.statement import Sql, identifier, identifiers, sql, where_all
from cases.domain.support_case import SupportCase
from cases.projections.erasures import ERASURES, ErasingProjection
from cases.projections.projection import LIVE, PositionedEvent, TableNames
from cases.projections.rows import (
    Conditions,
    as_uuid,
    row_reader,
    rows_in,
    upsert_rows,
    wanted_rows,
)

COLUMNS = (
    "case_id",
    "number",
    "customer_id",
    "target",
    "category",
    "vehicle",
    "reason",
    "escalated_at",
    "vendor_reference",
    "vendor_update_count",
    "last_vendor_update_at",
    "handed_back_at",
)

Row = dict[str, Any]
Key = tuple[UUID, int]
E = SupportCase


def _escalated(row: Row, e: Any) -> None:
    row.update(
        target=e.target.value,
        category=e.category.value,
        vehicle=e.vehicle.value if e.vehicle else None,
        reason=e.reason,
        escalated_at=e.meta.occurred_at,
        vendor_reference=None,
        vendor_update_count=0,
        last_vendor_update_at=None,
        handed_back_at=None,
    )


def _vendor_update(row: Row, e: Any) -> None:
    row["vendor_update_count"] += 1
    row["last_vendor_update_at"] = e.meta.occurred_at


EVOLVE: dict[type[Any], Callable[[Row, Any], None]] = {
    E.Escalated: _escalated,
    E.VendorReferenceRecorded: lambda row, e: row.update(vendor_reference=e.reference),
    E.VendorUpdateRecorded: _vendor_update,
    E.HandedBack: lambda row, e: row.update(handed_back_at=e.meta.occurred_at),
}


_escalation_row = row_reader(COLUMNS, {"case_id": as_uuid})


def _key(row: Row) -> Key:
    return (row["case_id"], int(row["number"]))


class EscalationRegisterProjection(ErasingProjection):
    """Keeps `escalation_register` (and its note of customers) in step."""

    name: ClassVar[str] = "escalation_register"
    tables: ClassVar[tuple[str, ...]] = ("escalation_cases", "escalation_register")
    handles: ClassVar[tuple[type[Any], ...]] = (E.Received, *EVOLVE, *ERASURES)
    # The personal text a contact's erasure overwrites (ADR 0044).
    erased_columns: ClassVar[tuple[str, tuple[str, ...]]] = ("escalation_register", ("reason",))

    def apply_case_events(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        received = [p.event for p in events if isinstance(p.event, E.Received)]
        escalations = [p.event for p in events if not isinstance(p.event, E.Received)]
        self._note_customers(db, tables("escalation_cases"), received)
        if not escalations:
            return
        register = tables("escalation_register")
        customers = {e.originator_id: e.customer_id for e in received}
        rows = self._load(db, register, escalations)
        customers |= self._customers(db, tables("escalation_cases"), escalations, customers)
        touched: set[Key] = set()
        for event in escalations:
            key = (event.originator_id, event.number)
            if isinstance(event, E.Escalated):
                rows[key] = {
                    "case_id": key[0],
                    "number": key[1],
                    "customer_id": customers[key[0]],
                }
            EVOLVE[type(event)](rows[key], event)
            touched.add(key)
        self._upsert(db, register, [rows[key] for key in touched])

    @staticmethod
    def _note_customers(db: ProjectionDatabase, table: str, received: list[Any]) -> None:
        db.insert_rows(
            table, ("case_id", "customer_id"), [(e.originator_id, e.customer_id) for e in received]
        )

    @staticmethod
    def _customers(
        db: ProjectionDatabase, table: str, escalations: list[Any], known: dict[UUID, str]
    ) -> dict[UUID, str]:
        """Customers of the cases escalated in this batch but received before it."""
        ids = list(
            {
                e.originator_id
                for e in escalations
                if isinstance(e, E.Escalated) and e.originator_id not in known
            }
        )
        found: dict[UUID, str] = {}
        for case_id, customer_id in rows_in(db, table, ("case_id", "customer_id"), "case_id", ids):
            found[as_uuid(case_id)] = str(customer_id)
        return found

    @staticmethod
    def _load(db: ProjectionDatabase, table: str, escalations: list[Any]) -> dict[Key, Row]:
        """The rows of escalations changed in this batch but opened before it."""
        touched = {(e.originator_id, e.number) for e in escalations}
        wanted = touched - {(e.originator_id, e.number) for e in escalations if _opens(e)}
        stored = rows_in(db, table, COLUMNS, "case_id", {case_id for case_id, _ in wanted})
        return wanted_rows(map(_escalation_row, stored), _key, wanted)

    @staticmethod
    def _upsert(db: ProjectionDatabase, table: str, rows: Iterable[Row]) -> None:
        upsert_rows(db, table, COLUMNS, ("case_id", "number"), rows, distinct=True)


def _opens(event: Any) -> bool:
    return isinstance(event, E.Escalated)


class EscalationRegisterView:
    """Queries on `escalation_register`; periods are half-open: [start, end)."""

    def __init__(self, db: ProjectionDatabase, tables: TableNames = LIVE) -> None:
        self.db = db
        self.table = tables("escalation_register")

    def get(self, case_id: UUID, number: int) -> Row | None:
        rows = self._rows(sql("case_id = {} AND number = {}"), [case_id, number])
        return rows[0] if rows else None

    def in_period(self, start: datetime, end: datetime) -> list[Row]:
        """Escalations opened in the period, oldest first."""
        return self._rows(sql("escalated_at >= {} AND escalated_at < {}"), [start, end])

    def for_customer(self, customer_id: str) -> list[Row]:
        """One customer's escalations, oldest first."""
        return self._rows(sql("customer_id = {}"), [customer_id])

    def counts_by_vehicle_and_category(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> dict[tuple[str | None, str], int]:
        """How many escalations went through each vehicle, per problem category
        (vehicle None: escalations to the indirect provider)."""
        where = Conditions()
        where.add_given(sql("escalated_at >= {}"), start)
        where.add_given(sql("escalated_at < {}"), end)
        counted = self.db.fetchall(
            sql(
                "SELECT vehicle, category, COUNT(*) FROM {table}{where} GROUP BY vehicle, category",
                table=identifier(self.table),
                where=where_all(where.clauses),
            ),
            where.params,
        )
        return {(vehicle, category): int(count) for vehicle, category, count in counted}

    def _rows(self, where: Sql, params: list[object]) -> list[Row]:
        rows = self.db.fetchall(
            sql(
                "SELECT {columns} FROM {table} WHERE {where} "
                "ORDER BY escalated_at, case_id, number",
                columns=identifiers(COLUMNS),
                table=identifier(self.table),
                where=where,
            ),
            params,
        )
        return [dict(zip(COLUMNS, values, strict=True)) for values in rows]
