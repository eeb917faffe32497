"""The case timeline: one row per support-case event, as an auditor reads it.

Rows are only ever added (an event never changes), so a batch is one bulk
insert. Queries answer "what happened to this case", "what did this agent do
on this day", "what happened in this hour" and "what did this request do".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, get_args, get_type_hints
from uuid import UUID

from cases.db.database import ProjectionDatabase
from cases.db.shapes import select_where
from cases.db.statement import Sql, identifier, parameters, sql
from cases.domain.support_case import CLOCK_FACT_TYPES, SupportCase
from cases.history.entries import event_details
from cases.history.event_summaries import summariser
from cases.persistence.personal_data import decision, personal_fields
from cases.projections.erasures import ERASURES, holds_erased, without_erasures
from cases.projections.projection import LIVE, PositionedEvent, Projection, TableNames

COLUMNS = (
    "case_id",
    "version",
    "position",
    "event_type",
    "occurred_at",
    "recorded_at",
    "principal_id",
    "role",
    "correlation_id",
    "causation_id",
    "source",
    "summary",
)

Row = dict[str, Any]
E = SupportCase

HANDLES: tuple[type[Any], ...] = (
    E.Received,
    E.ServiceHealthChecked,
    E.DiagnosisRecorded,
    E.CommunicationRecorded,
    E.WaitingOnCustomerStarted,
    E.WaitingOnCustomerEnded,
    E.Assigned,
    E.SeverityChanged,
    E.Escalated,
    E.VendorReferenceRecorded,
    E.VendorUpdateRecorded,
    E.HandedBack,
    E.Resolved,
    E.Closed,
    E.Reopened,
    E.NoteAdded,
    E.BillingAccountLinked,
    E.VendorRequestOpened,
    E.VendorRequestStatusChanged,
    E.VendorNoteImported,
    E.LinkedIncidentResolved,
    E.DeliveryRecorded,
    *CLOCK_FACT_TYPES,
)


ERASED_SUFFIX = ": personal data erased"
"""A summary of an event whose personal data is erased: its type, then this."""


def _holds_personal(cls: type[Any]) -> bool:
    """Whether the event class has a personal field, itself or in a value object
    it holds (`DeliveryRecorded.delivery.recipient`)."""
    if personal_fields(cls):
        return True
    decided = decision(cls)
    hints = get_type_hints(cls)
    for name in () if decided is None else decided.within:
        held = [hints[name], *get_args(hints[name])] if name in hints else []
        if any(isinstance(t, type) and personal_fields(t) for t in held):
            return True
    return False


PERSONAL_TYPES = tuple(cls.__name__ for cls in HANDLES if _holds_personal(cls))


Kind = tuple[str, Callable[[Mapping[str, Any]], str]]
_KINDS: dict[type[Any], Kind] = {}


def _kind(cls: type[Any]) -> Kind:
    """An event class's type as the timeline names it, and its summariser."""
    found = _KINDS.get(cls)
    if found is None:
        event_type = cls.__qualname__.rsplit(".", 1)[-1]
        found = _KINDS[cls] = (event_type, summariser(event_type))
    return found


def timeline_values(positioned: PositionedEvent) -> tuple[object, ...]:
    """One event as a timeline row, in `COLUMNS` order: what `history_entry`
    gives of it, read off the event itself (the timeline makes one for every
    event; an enum's `_value_` is its `value` without the property's call)."""
    event = positioned.event
    event_type, describe = _kind(type(event))
    meta = event.meta
    actor = meta.actor
    erased = holds_erased(event)
    summary = event_type + ERASED_SUFFIX if erased else describe(event_details(event))
    return (
        event.originator_id,
        event.originator_version,
        positioned.position,
        event_type,
        meta.occurred_at,
        event.timestamp,
        actor.principal_id,
        actor.role._value_,
        meta.correlation_id,
        meta.causation_id,
        meta.source._value_,
        summary,
    )


IN_TIME = sql("occurred_at, position")


class CaseTimelineProjection(Projection):
    """Appends every support-case event to `case_timeline`."""

    name: ClassVar[str] = "case_timeline"
    tables: ClassVar[tuple[str, ...]] = ("case_timeline",)
    handles: ClassVar[tuple[type[Any], ...]] = (*HANDLES, *ERASURES)

    def apply(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        events, erased = without_erasures(events)
        if events:
            db.insert_rows(
                tables("case_timeline"),
                COLUMNS,
                [timeline_values(positioned) for positioned in events],
            )
        if erased:  # as a rebuild from the unreadable events gives (ADR 0044)
            db.execute(
                sql(
                    "UPDATE {table} SET summary = event_type || {} "
                    "WHERE case_id IN ({cases}) AND event_type IN ({types})",
                    table=identifier(tables("case_timeline")),
                    cases=parameters(len(erased)),
                    types=parameters(len(PERSONAL_TYPES)),
                ),
                [ERASED_SUFFIX, *erased, *PERSONAL_TYPES],
            )


class CaseTimelineView:
    """Queries on `case_timeline`; time ranges are half-open: [start, end)."""

    def __init__(self, db: ProjectionDatabase, tables: TableNames = LIVE) -> None:
        self.db = db
        self.table = tables("case_timeline")

    def for_case(self, case_id: UUID) -> list[Row]:
        """The case's events, oldest first."""
        return self._rows(sql("case_id = {}"), [case_id], sql("version"))

    def by_actor(self, principal_id: str, start: datetime, end: datetime) -> list[Row]:
        """What one principal did between `start` and `end` (when it occurred)."""
        return self._rows(
            sql("principal_id = {} AND occurred_at >= {} AND occurred_at < {}"),
            [principal_id, start, end],
            IN_TIME,
        )

    def between(self, start: datetime, end: datetime, *, limit: int = 1000) -> list[Row]:
        """Events that occurred between `start` and `end`, at most `limit`."""
        return self._rows(
            sql("occurred_at >= {} AND occurred_at < {}"),
            [start, end],
            IN_TIME,
            limit,
        )

    def by_correlation(self, correlation_id: str) -> list[Row]:
        """Every event one request (or one scheduled run) recorded, in log order."""
        return self._rows(sql("correlation_id = {}"), [correlation_id], sql("position"))

    def _rows(
        self, where: Sql, params: list[object], order: Sql, limit: int | None = None
    ) -> list[Row]:
        statement = select_where(self.table, COLUMNS, where, order, limited=limit is not None)
        if limit is not None:
            params = [*params, limit]
        found = self.db.fetchall(statement, params)
        return [dict(zip(COLUMNS, values, strict=True)) for values in found]
