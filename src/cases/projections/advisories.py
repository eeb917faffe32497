"""The advisory register: one row per imported vendor advisory or incident, for
"which open advisories concern this product?" and the import's status.

Each row holds the advisory's latest version as imported and how many cases
linked to it; a batch is folded in memory, each touched row written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from cases.db.database import ProjectionDatabase, as_moment
from cases.db.shapes import select_in
from cases.db.statement import identifier, identifiers, sql
from cases.domain.advisory import Advisory, AdvisoryFacts
from cases.projections.projection import LIVE, PositionedEvent, Projection, TableNames
from cases.projections.rows import as_uuid, chunks, upsert_rows

COLUMNS = (
    "advisory_id",
    "vendor_id",
    "classification",
    "title",
    "service",
    "feature_group",
    "status",
    "is_resolved",
    "started_at",
    "ended_at",
    "last_modified_at",
    "linked_cases",
    "position",
)

Row = dict[str, Any]


def _facts(row: Row, facts: AdvisoryFacts) -> None:
    row.update(
        vendor_id=facts.vendor_id,
        classification=facts.classification.value,
        title=facts.title,
        service=facts.service,
        feature_group=facts.feature_group,
        status=facts.status,
        is_resolved=facts.is_resolved,
        started_at=facts.started_at,
        ended_at=facts.ended_at,
        last_modified_at=facts.last_modified_at,
    )


class AdvisoriesProjection(Projection):
    """Keeps `advisories` in step with the imported advisories."""

    name: ClassVar[str] = "advisories"
    tables: ClassVar[tuple[str, ...]] = ("advisories",)
    handles: ClassVar[tuple[type[Any], ...]] = (
        Advisory.Imported,
        Advisory.Revised,
        Advisory.CaseLinked,
    )

    def apply(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        table = tables("advisories")
        created = {p.event.originator_id for p in events if isinstance(p.event, Advisory.Imported)}
        rows = self._load(db, table, list({p.event.originator_id for p in events} - created))
        for positioned in events:
            event = positioned.event
            if isinstance(event, Advisory.Imported):
                rows[event.originator_id] = {"advisory_id": event.originator_id, "linked_cases": 0}
            row = rows[event.originator_id]
            if isinstance(event, Advisory.CaseLinked):
                row["linked_cases"] += 1
            else:
                _facts(row, event.facts)
            row["position"] = positioned.position
        upsert_rows(db, table, COLUMNS, ("advisory_id",), rows.values())

    @staticmethod
    def _load(db: ProjectionDatabase, table: str, ids: list[UUID]) -> dict[UUID, Row]:
        rows: dict[UUID, Row] = {}
        for chunk in chunks(ids):
            for values in db.fetchall(select_in(table, COLUMNS, "advisory_id", len(chunk)), chunk):
                row = dict(zip(COLUMNS, values, strict=True))
                row["advisory_id"] = as_uuid(row["advisory_id"])
                rows[row["advisory_id"]] = row
        return rows


class AdvisoriesView:
    """Queries on `advisories`."""

    def __init__(self, db: ProjectionDatabase, tables: TableNames = LIVE) -> None:
        self.db = db
        self.table = tables("advisories")

    def open_for(self, product: str) -> list[Row]:
        """The open advisories about `product` (its service or feature group,
        named without case), most recently changed first."""
        wanted = product.strip().casefold()
        rows = self.db.fetchall(
            sql(
                "SELECT {columns} FROM {table} WHERE is_resolved = {} "
                "AND (LOWER(service) = {} OR LOWER(feature_group) = {}) "
                "ORDER BY last_modified_at DESC, vendor_id",
                columns=identifiers(COLUMNS),
                table=identifier(self.table),
            ),
            [False, wanted, wanted],
        )
        return [dict(zip(COLUMNS, values, strict=True)) for values in rows]


SYNC_COLUMNS = ("name", "last_attempt_at", "last_success_at", "last_error", "failures", "recorded")


class VendorSyncs:
    """How each vendor sync last went (`vendor_syncs`): written by the sync
    itself after each attempt, not by a projection."""

    def __init__(self, db: ProjectionDatabase) -> None:
        self.db = db

    def note(self, name: str, at: datetime, recorded: int, error: str | None = None) -> None:
        """Note an attempt at `at`: a success that recorded `recorded` versions,
        or a failure (`error`), counted until the next success."""
        before = self.get(name)
        failures = 0 if error is None else (before["failures"] if before else 0) + 1
        last_success = at if error is None else (before["last_success_at"] if before else None)
        row = {
            "name": name,
            "last_attempt_at": at,
            "last_success_at": last_success,
            "last_error": error,
            "failures": failures,
            "recorded": recorded,
        }
        with self.db.transaction():
            upsert_rows(self.db, "vendor_syncs", SYNC_COLUMNS, ("name",), [row])

    def get(self, name: str) -> Row | None:
        rows = [row for row in self.all() if row["name"] == name]
        return rows[0] if rows else None

    def all(self) -> list[Row]:
        rows = self.db.fetchall(
            sql(
                "SELECT {columns} FROM {table} ORDER BY name",
                columns=identifiers(SYNC_COLUMNS),
                table=identifier("vendor_syncs"),
            )
        )
        return [
            {
                **dict(zip(SYNC_COLUMNS, values, strict=True)),
                "last_attempt_at": as_moment(values[1]),
                "last_success_at": None if values[2] is None else as_moment(values[2]),
                "failures": int(values[4]),
                "recorded": int(values[5]),
            }
            for values in rows
        ]
