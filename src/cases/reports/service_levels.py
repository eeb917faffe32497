"""Service levels: the recorded facts of every case's clocks, as a compliance
report needs them, and the deadlines of the clocks still running.

Rows are written once per fact, and every column a later fact fills is paired
with the moment that fact was *recorded* (the event's timestamp), so a report
"as of" a moment M can read only what was recorded by M and give the same
figures whenever it is run, before or after a rebuild (ADR 20):

- `service_level_cases`: one row per case, from `Received` (customer, category,
  severity at receipt, the month of receipt in its service hours' time zone),
  with the first fulfilment and first breach of its first-response (`fr_`) and
  resolution (`res_`) clocks and its first reopen;
- `service_level_updates`: one row per next-update clock (`nu_`);
- `service_level_escalations`: one row per escalation, with the time it took to
  escalate and its vendor clock (`vendor_`);
- `service_level_breaches`: every breach, and when it was withdrawn (by a reply
  or a pause that came in time, ADR 33), if it was;
- `service_level_deadlines`: the clocks that may still run, their deadline while
  running and whether a breach is recorded (the scheduled breach evaluation
  reads it through `ServiceLevelsView.cases_due`).

A clock outcome is a group of columns with one prefix: `<p>_elapsed_us`,
`<p>_within` (NULL when the clock had no target), `<p>_fulfilled_recorded_at`
(its first fulfilment), `<p>_breached_at`, `<p>_breach_recorded_at` and
`<p>_breach_withdrawn_recorded_at` (its first breach). A batch is folded in
memory: each touched row is read once and written once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any, ClassVar
from uuid import UUID
from zoneinfo import ZoneInfo

from cases.db.database import ProjectionDatabase, as_moment
from cases.db.shapes import select_in
from cases.db.statement import identifier, sql
from cases.domain.service_clocks import ClockKind
from cases.domain.support_case import SupportCase
from cases.projections.projection import (
    LIVE,
    PositionedEvent,
    Projection,
    TableNames,
    writing_begins,
)
from cases.projections.rows import rows_in
from cases.reports.compliance_seal import SEAL_TABLES, SealState, seal_after, seal_state

E = SupportCase
Row = dict[str, Any]

OUTCOME = (
    "elapsed_us",
    "within",
    "fulfilled_recorded_at",
    "breached_at",
    "breach_recorded_at",
    "breach_withdrawn_recorded_at",
)
GROUPING = ("customer_id", "category", "severity", "month", "received_at")
LAST_RECORDED = "last_recorded_at"


def _outcome(prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}_{column}" for column in OUTCOME)


CASE_COLUMNS = (
    "case_id",
    *GROUPING,
    "received_recorded_at",
    "terms_version",
    *_outcome("fr"),
    *_outcome("res"),
    "reopened_recorded_at",
    "escalated_recorded_at",
    "last_recorded_at",
)
UPDATE_COLUMNS = (
    "case_id",
    "number",
    *GROUPING,
    "escalated_recorded_at",
    *_outcome("nu"),
    "last_recorded_at",
)
ESCALATION_COLUMNS = (
    "case_id",
    "number",
    *GROUPING,
    "target",
    "escalation_category",
    "vehicle",
    "vehicle_first",
    "escalated_recorded_at",
    "to_escalate_us",
    *_outcome("vendor"),
    "last_recorded_at",
)
BREACH_COLUMNS = (
    "case_id",
    "clock",
    "number",
    "breached_at",
    *GROUPING,
    "recorded_at",
    "withdrawn_recorded_at",
    "first_of_clock",
)
DEADLINE_COLUMNS = ("case_id", "clock", "number", "deadline", "breached")
MOMENTS = frozenset(
    c
    for c in (*CASE_COLUMNS, *UPDATE_COLUMNS, *ESCALATION_COLUMNS, *BREACH_COLUMNS, "deadline")
    if c.endswith("_at") or c == "deadline"
)
BOOLEANS = frozenset(
    {
        "fr_within",
        "res_within",
        "nu_within",
        "vendor_within",
        "breached",
        "first_of_clock",
        "vehicle_first",
    }
)

# Where each clock kind's outcome is kept: the table (by its key) and the prefix.
PREFIX = {
    ClockKind.FIRST_RESPONSE: "fr",
    ClockKind.RESOLUTION: "res",
    ClockKind.NEXT_UPDATE: "nu",
    ClockKind.VENDOR: "vendor",
}
# Each clock kind's outcome columns, in the order of `OUTCOME` (made once, not per fact).
OUTCOME_COLUMNS = {kind: _outcome(prefix) for kind, prefix in PREFIX.items()}
FIRST_RESPONSE, RESOLUTION = ClockKind.FIRST_RESPONSE, ClockKind.RESOLUTION
NEXT_UPDATE, VENDOR = ClockKind.NEXT_UPDATE, ClockKind.VENDOR

CLOCK_FACTS: tuple[type[Any], ...] = (
    E.ServiceClockStarted,
    E.ServiceClockPaused,
    E.ServiceClockResumed,
    E.ServiceClockRetargeted,
    E.ServiceClockBreached,
    E.ServiceClockBreachWithdrawn,
    E.ServiceClockBreachDisproved,
    E.ServiceClockFulfilled,
    E.ServiceClockStopped,
)
# The facts that withdraw a recorded breach: a reply, or a pause, that came in time.
WITHDRAWALS: tuple[type[Any], ...] = (E.ServiceClockBreachWithdrawn, E.ServiceClockBreachDisproved)


def microseconds(duration: timedelta) -> int:
    """A duration as a whole number of microseconds (exact)."""
    return (duration.days * 86_400 + duration.seconds) * 1_000_000 + duration.microseconds


def month_of(received_at: datetime, time_zone: str) -> str:
    """YYYY-MM of a moment in a time zone."""
    local = received_at.astimezone(ZoneInfo(time_zone))
    return f"{local.year:04d}-{local.month:02d}"  # as `strftime("%Y-%m")`, without its cost


def as_uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _stored_row(columns: tuple[str, ...], values: Sequence[Any]) -> Row:
    """A stored row with the store's types made Python's."""
    row = dict(zip(columns, values, strict=True))
    row["case_id"] = as_uuid(row["case_id"])
    for column in columns:
        value = row[column]
        if value is None:
            continue
        if column in MOMENTS:
            row[column] = as_moment(value)
        elif column in BOOLEANS:
            row[column] = bool(value)
    return row


_grouping_of = itemgetter(*GROUPING)

# A row's key in a batch: its case's UUID as the UUID's integer (hashed and compared
# in C, where a UUID's `__hash__` and `__eq__` are Python's), then the table's other
# key columns; the row itself keeps the UUID, for the writes (ADR 80).
Key = tuple[Any, ...]
# Rows of at most this many columns are upserted by arrays, wider ones by binary
# COPY through a staging table (psycopg dumps an array's elements in Python, a
# COPY's row in C): the cheaper of the two at each width (ADR 80). The runner
# sends a batch's statements in a pipeline, where no COPY runs: there every table
# goes by arrays (`ProjectionDatabase.upsert_rows`, ADR 86).
NARROW = 8


def _key_getter(key: tuple[str, ...]) -> Callable[[Row], Key]:
    """What gives a row's key as stored (a tuple of the values of `key`), in C for
    two or more."""
    if len(key) > 1:
        return itemgetter(*key)
    (column,) = key
    return lambda row: (row[column],)


def _batch_key_getter(key: tuple[str, ...]) -> Callable[[Row], Key]:
    """What gives a row's `Key` in a batch: its case's UUID's integer, then the
    values of the other columns of `key` (the first of which is `case_id`)."""
    others = key[1:]
    if not others:
        return lambda row: (row["case_id"].int,)
    if len(others) == 1:
        (column,) = others
        return lambda row: (row["case_id"].int, row[column])
    rest = itemgetter(*others)
    return lambda row: (row["case_id"].int, *rest(row))


class Table:
    """One table's rows touched by a batch: loaded, changed, written or deleted."""

    def __init__(self, name: str, columns: tuple[str, ...], key: tuple[str, ...]) -> None:
        if columns[: len(key)] != key or key[0] != "case_id":
            raise ValueError(f"{name}: the key's columns come first, the case's first of all")
        self.name = name
        self.columns = columns
        self.key = key
        self.rows: dict[Key, Row] = {}
        self.touched: set[Key] = set()
        self.deleted: dict[Key, Row] = {}  # the rows deleted, by their keys
        self.stored: set[Key] = set()  # the keys of the rows loaded: those stored
        self.values_of = itemgetter(*columns)  # a row's values, in column order
        self.blank: Row = dict.fromkeys(columns)  # a row of None, in column order
        self.key_of: Callable[[Row], Key] = _batch_key_getter(key)
        self.stored_key_of: Callable[[Row], Key] = _key_getter(key)
        # The recorded moments whose latest is the row's `last_recorded_at`, if it has one.
        self.recorded = (
            tuple(c for c in columns if c.endswith("_recorded_at") and c != LAST_RECORDED)
            if LAST_RECORDED in columns
            else ()
        )
        # A row's recorded moments, in C (a moment is true, None false).
        self.recorded_of: Callable[[Row], tuple[Any, ...]] = (
            itemgetter(*self.recorded, self.recorded[0]) if self.recorded else tuple
        )

    def load(self, db: ProjectionDatabase, case_ids: Iterable[UUID]) -> None:
        """The stored rows of the cases `case_ids` (distinct, in the order of their
        integers)."""
        columns, rows = self.columns, self.rows
        stored = rows_in(db, self.name, columns, "case_id", case_ids)
        if db.is_postgres:
            # Each value already of its column's Python type (a UUID, a moment, a
            # bool), and the key's columns first: the key made in C.
            width = len(self.key)
            for values in stored:
                rows[(values[0].int, *values[1:width])] = dict(zip(columns, values, strict=True))
        else:
            key_of = self.key_of
            for values in stored:
                row = _stored_row(columns, values)
                rows[key_of(row)] = row
        self.stored.update(rows)

    def get(self, key: Key) -> Row | None:
        return self.rows.get(key)

    def put(self, key: Key, row: Row) -> Row:
        """Put `row`, whose key is `key`."""
        self.rows[key] = row
        self.touched.add(key)
        self.deleted.pop(key, None)
        return row

    def put_new(self, key: Key, values: Row) -> Row:
        """Put a new row, whose key is `key`: the columns `values` names, every
        other column None."""
        return self.put(key, self.blank | values)

    def change(self, key: Key, values: Row) -> Row | None:
        row = self.rows.get(key)
        if row is not None:
            row.update(values)
            self.changed(key)
        return row

    def changed(self, key: Key) -> None:
        """The row of `key` (found by `get`) was changed in place: write it. A
        handler that already holds the row sets its columns so, without a dict of
        values made and a second lookup (ADR 80, amendment sl3)."""
        self.touched.add(key)

    def delete(self, key: Key) -> None:
        """Delete the row of `key`. A stored row is in `rows` until its first
        delete, and in `deleted` until it is put again."""
        row = self.rows.pop(key, None)
        self.touched.discard(key)
        if row is not None:
            self.deleted[key] = row

    def _note_last_recorded(self, row: Row) -> None:
        """The latest moment recorded in the row: the report finds the rows facts
        recorded after a seal touched by it (`compliance_seal`)."""
        row[LAST_RECORDED] = max(filter(None, self.recorded_of(row)))

    def write(self, db: ProjectionDatabase) -> None:
        if self.recorded:
            for key in self.touched:
                self._note_last_recorded(self.rows[key])
        # One statement each on PostgreSQL: the deletes and narrow upserts with an
        # array parameter per column, wide upserts through a staging table (ADR
        # 80); distinct keys. A row put and deleted within the batch was never
        # stored: nothing to delete.
        # Keys sort in C, as the stored keys by their UUIDs' integers.
        rows, values_of, deleted = self.rows, self.values_of, self.deleted
        gone = sorted(deleted.keys() & self.stored)
        db.delete_rows(self.name, self.key, [self.stored_key_of(deleted[key]) for key in gone])
        written = [values_of(rows[key]) for key in sorted(self.touched)]
        if len(self.columns) <= NARROW:
            db.upsert_by_arrays(self.name, self.columns, self.key, written)
        else:
            db.upsert_rows(self.name, self.columns, self.key, written, distinct=True)


class Fold:
    """One batch's changes to the five tables."""

    def __init__(self, tables: TableNames) -> None:
        self.cases = Table(tables("service_level_cases"), CASE_COLUMNS, ("case_id",))
        self.updates = Table(tables("service_level_updates"), UPDATE_COLUMNS, ("case_id", "number"))
        self.escalations = Table(
            tables("service_level_escalations"), ESCALATION_COLUMNS, ("case_id", "number")
        )
        self.breaches = Table(
            tables("service_level_breaches"),
            BREACH_COLUMNS,
            ("case_id", "clock", "number", "breached_at"),
        )
        self.deadlines = Table(
            tables("service_level_deadlines"), DEADLINE_COLUMNS, ("case_id", "clock", "number")
        )

    @property
    def all(self) -> tuple[Table, ...]:
        return (self.cases, self.updates, self.escalations, self.breaches, self.deadlines)

    def grouping(self, case_id: UUID) -> Row:
        case = self.cases.get((case_id.int,))
        if case is None:
            raise LookupError(f"service levels know no case {case_id}")
        return dict(zip(GROUPING, _grouping_of(case), strict=True))

    def outcome(self, e: Any) -> tuple[Table, Key, Row | None]:
        """Where the outcome of the clock `e` names is kept: its table, its key and
        its row (None if there is none). A next-update clock gets its row with its
        first fulfilment or breach: most are stopped unbreached by the next message
        or the resolution, and such a clock counts in no figure."""
        kind: ClockKind = e.clock
        case_id = e.originator_id
        if kind is FIRST_RESPONSE or kind is RESOLUTION:
            key: Key = (case_id.int,)
            return self.cases, key, self.cases.rows.get(key)
        key = (case_id.int, e.number)
        if kind is NEXT_UPDATE:
            updates = self.updates
            row = updates.rows.get(key)
            if row is None:  # its first fulfilment or breach
                case = self.cases.rows.get((key[0],)) or {}
                row = updates.put_new(
                    key,
                    {
                        "case_id": case_id,
                        "number": e.number,
                        "escalated_recorded_at": case.get("escalated_recorded_at"),
                        **self.grouping(case_id),
                    },
                )
            return updates, key, row
        return self.escalations, key, self.escalations.rows.get(key)

    def set_deadline(self, e: Any, deadline: datetime | None) -> None:
        case_id, clock, number = e.originator_id, str(e.clock), e.number
        key = (case_id.int, clock, number)
        deadlines = self.deadlines
        row = deadlines.rows.get(key)
        if row is None:
            deadlines.put(
                key,
                {
                    "case_id": case_id,
                    "clock": clock,
                    "number": number,
                    "deadline": deadline,
                    "breached": False,
                },
            )
        else:  # the same row, its deadline moved (a row in `rows` is not in `deleted`)
            row["deadline"] = deadline
            deadlines.changed(key)

    def mark_deadline(self, e: Any, column: str, value: object) -> None:
        """Set `column` of the clock's deadline row, if it has one."""
        key = (e.originator_id.int, str(e.clock), e.number)
        row = self.deadlines.rows.get(key)
        if row is not None:
            row[column] = value
            self.deadlines.changed(key)

    # Handlers ---------------------------------------------------------------

    def received(self, e: Any) -> None:
        levels = getattr(e, "service_levels", None)
        zone = levels.service_hours.time_zone if levels is not None else "UTC"
        self.cases.put_new(
            (e.originator_id.int,),
            {
                "case_id": e.originator_id,
                "customer_id": e.customer_id,
                # StrEnums: `str` gives the value, in C (`.value` is Python's descriptor).
                "category": str(e.category),
                "severity": str(e.severity),
                "month": month_of(e.received_at, zone),
                "received_at": e.received_at.astimezone(UTC),
                "received_recorded_at": e.timestamp,
                "terms_version": e.terms_version,
            },
        )

    def started(self, e: Any) -> None:
        self.set_deadline(e, e.deadline)
        if e.clock is VENDOR:
            self.escalations.change(
                (e.originator_id.int, e.number), {"to_escalate_us": microseconds(e.since_received)}
            )

    def paused(self, e: Any) -> None:
        self.set_deadline(e, None)

    def resumed(self, e: Any) -> None:
        self.set_deadline(e, e.deadline)

    def breached(self, e: Any) -> None:
        self.mark_deadline(e, "breached", True)
        table, key, outcome = self.outcome(e)
        _, _, _, breached_at, recorded_at, _ = OUTCOME_COLUMNS[e.clock]
        first = outcome is not None and outcome[recorded_at] is None
        case_id, clock, number = e.originator_id, str(e.clock), e.number
        self.breaches.put(
            (case_id.int, clock, number, e.at),
            {
                "case_id": case_id,
                "clock": clock,
                "number": number,
                "breached_at": e.at,
                **self.grouping(case_id),
                "recorded_at": e.timestamp,
                "withdrawn_recorded_at": None,
                "first_of_clock": first,
            },
        )
        if first and outcome is not None:  # the outcome's first breach
            outcome[breached_at] = e.at
            outcome[recorded_at] = e.timestamp
            table.changed(key)

    def withdrawn(self, e: Any) -> None:
        self.mark_deadline(e, "breached", False)
        breach = (e.originator_id.int, str(e.clock), e.number, e.breached_at)
        row = self.breaches.rows.get(breach)
        if row is not None and row["withdrawn_recorded_at"] is None:
            row["withdrawn_recorded_at"] = e.timestamp
            self.breaches.changed(breach)
        table, key, outcome = self.outcome(e)
        _, _, _, breached_at, _, withdrawn = OUTCOME_COLUMNS[e.clock]
        if (
            outcome is not None
            and outcome[breached_at] == e.breached_at
            and outcome[withdrawn] is None
        ):
            outcome[withdrawn] = e.timestamp
            table.changed(key)

    def fulfilled(self, e: Any) -> None:
        self.finished(e)
        table, key, outcome = self.outcome(e)
        elapsed, within, fulfilled, _, _, _ = OUTCOME_COLUMNS[e.clock]
        if outcome is None or outcome[fulfilled] is not None:
            return  # its first fulfilment only
        outcome[elapsed] = microseconds(e.elapsed)
        outcome[within] = None if e.target is None else e.within_target
        outcome[fulfilled] = e.timestamp
        table.changed(key)

    def finished(self, e: Any) -> None:
        """A finished clock runs no more; only a reopen resumes one (resolution)."""
        if e.clock is RESOLUTION:
            self.mark_deadline(e, "deadline", None)
        else:
            self.deadlines.delete((e.originator_id.int, str(e.clock), e.number))

    def escalated(self, e: Any) -> None:
        self.note_escalated(e)
        vehicle = str(e.vehicle) if e.vehicle is not None else None
        case = e.originator_id.int
        earlier = [
            row["vehicle"]
            for (case_id, number), row in self.escalations.rows.items()
            if case_id == case and number < e.number
        ]
        self.escalations.put_new(
            (case, e.number),
            {
                "case_id": e.originator_id,
                "number": e.number,
                "target": str(e.target),
                "escalation_category": str(e.category),
                "vehicle": vehicle,
                "vehicle_first": vehicle not in earlier,
                "escalated_recorded_at": e.timestamp,
                **self.grouping(e.originator_id),
            },
        )

    def note_escalated(self, e: Any) -> None:
        """The case's first escalation, on the case and its update rows: grouped by
        vehicle, rows of cases not escalated by the report's moment need no join."""
        case_id = e.originator_id.int
        case = self.cases.get((case_id,))
        if case is None or case["escalated_recorded_at"] is not None:
            return
        self.cases.change((case_id,), {"escalated_recorded_at": e.timestamp})
        # The batch's update rows of every case are scanned (by the keys' integers).
        for key, row in self.updates.rows.items():  # changed in place, none added
            if key[0] == case_id and row["escalated_recorded_at"] is None:
                self.updates.change(key, {"escalated_recorded_at": e.timestamp})

    def reopened(self, e: Any) -> None:
        key = (e.originator_id.int,)
        case = self.cases.get(key)
        if case is not None and case["reopened_recorded_at"] is None:
            self.cases.change(key, {"reopened_recorded_at": e.timestamp})


HANDLERS: dict[type[Any], Callable[[Fold, Any], None]] = {
    E.Received: Fold.received,
    E.ServiceClockStarted: Fold.started,
    E.ServiceClockPaused: Fold.paused,
    E.ServiceClockResumed: Fold.resumed,
    E.ServiceClockRetargeted: Fold.resumed,  # a new deadline (None while paused)
    E.ServiceClockBreached: Fold.breached,
    E.ServiceClockBreachWithdrawn: Fold.withdrawn,
    E.ServiceClockBreachDisproved: Fold.withdrawn,
    E.ServiceClockFulfilled: Fold.fulfilled,
    E.ServiceClockStopped: Fold.finished,
    E.Escalated: Fold.escalated,
    E.Reopened: Fold.reopened,
}

# What each handler reads of the rows stored before its batch, by the event's type
# (a clock fact's also by its clock): the tables whose rows of the event's case a
# batch must load first. Facts that only move a deadline read no case row.
_OUTCOMES = (
    E.ServiceClockBreached,
    E.ServiceClockBreachWithdrawn,
    E.ServiceClockBreachDisproved,
    E.ServiceClockFulfilled,
)
_CASE_READERS = frozenset((*_OUTCOMES, E.Escalated, E.Reopened))
_CLOCK_FACTS = frozenset(CLOCK_FACTS)
_WITHDRAWALS = frozenset(WITHDRAWALS)


class _Needs:
    """The cases whose stored rows of each table a batch reads (one pass over it),
    each by its UUID's integer, as in a `Key`."""

    __slots__ = (
        "breaches",
        "case_ids",
        "cases",
        "deadlines",
        "escalations",
        "received",
        "updates",
    )

    def __init__(self) -> None:
        self.case_ids: dict[int, UUID] = {}  # the batch's cases, by their integers
        self.received: set[int] = set()
        self.cases: set[int] = set()
        self.updates: set[int] = set()
        self.escalations: set[int] = set()
        self.breaches: set[int] = set()
        self.deadlines: set[int] = set()

    @classmethod
    def of(cls, events: Sequence[PositionedEvent]) -> _Needs:
        need = cls()
        received, escalated = E.Received, E.Escalated
        next_update, vendor = ClockKind.NEXT_UPDATE, ClockKind.VENDOR
        case_ids = need.case_ids
        for p in events:
            e = p.event
            kind = type(e)
            case_id = e.originator_id.int
            case_ids[case_id] = e.originator_id
            if kind is received:
                need.received.add(case_id)
                continue
            if kind in _CASE_READERS:
                need.cases.add(case_id)
            if kind is escalated:  # its first: the case's update rows too
                need.updates.add(case_id)
                need.escalations.add(case_id)
            elif kind in _CLOCK_FACTS:
                need.deadlines.add(case_id)
                clock = e.clock
                if clock is vendor:
                    need.escalations.add(case_id)
                elif clock is next_update and kind in _CASE_READERS:  # an outcome
                    need.updates.add(case_id)
                if kind in _WITHDRAWALS:
                    need.breaches.add(case_id)
        return need

    def stored(self, cases: set[int]) -> list[UUID]:
        """The UUIDs of `cases` not received in the batch, in their integers' order."""
        case_ids = self.case_ids
        return [case_ids[case] for case in sorted(cases - self.received)]


class ServiceLevelsProjection(Projection):
    """Keeps the service-level tables in step with the cases' clock facts."""

    name: ClassVar[str] = "service_levels"
    tables: ClassVar[tuple[str, ...]] = (
        "service_level_cases",
        "service_level_updates",
        "service_level_escalations",
        "service_level_breaches",
        "service_level_deadlines",
        *SEAL_TABLES,
        "service_level_partitions",  # the partitions' progress (ADR 90)
    )
    handles: ClassVar[tuple[type[Any], ...]] = tuple(HANDLERS)
    folds_then_writes: ClassVar[bool] = True
    pipelines_writes: ClassVar[bool] = True

    def apply(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        fold = Fold(tables)
        seals = seal_state(db, tables)  # read before the writes: none waits for them
        need = _Needs.of(events)
        fold.cases.load(db, need.stored(need.cases))
        fold.updates.load(db, need.stored(need.updates))
        fold.escalations.load(db, need.stored(need.escalations))
        fold.breaches.load(db, need.stored(need.breaches))
        fold.deadlines.load(db, need.stored(need.deadlines))
        for positioned in events:
            HANDLERS[type(positioned.event)](fold, positioned.event)
        writing_begins()
        for table in fold.all:
            table.write(db)
        self.seal(db, tables, events, seals)

    def seal(
        self,
        db: ProjectionDatabase,
        tables: TableNames,
        events: Sequence[PositionedEvent],
        seals: SealState | None,
    ) -> None:
        """After a batch's rows are written: seal the months its facts passed
        (`seals`: as read before the writes). A partition seals nothing (ADR 90)."""
        seal_after(db, tables, [p.event.timestamp for p in events], seals)


class ServiceLevelsView:
    """Queries on the service-level tables other than the compliance report's
    (`cases.reports.compliance_report`)."""

    def __init__(self, db: ProjectionDatabase, tables: TableNames = LIVE) -> None:
        self.db = db
        self.tables = tables

    def cases_due(
        self, moment: datetime, *, limit: int | None = None, after: UUID | None = None
    ) -> list[UUID]:
        """Cases with a running clock, not yet breached, whose deadline is at or
        before `moment`, in id order: at most `limit`, after the id `after`."""
        table = self.tables("service_level_deadlines")
        statement = sql(
            "SELECT DISTINCT case_id FROM {table} "
            "WHERE deadline IS NOT NULL AND NOT breached AND deadline <= {}",
            table=identifier(table),
        )
        params: list[object] = [moment]
        if after is not None:
            statement += sql(" AND case_id > {}")
            params.append(after)
        statement += sql(" ORDER BY case_id")
        if limit is not None:
            statement += sql(" LIMIT {}")
            params.append(limit)
        return [as_uuid(row[0]) for row in self.db.fetchall(statement, params)]

    def case(self, case_id: UUID) -> Row | None:
        """A case's row, as stored (moments and booleans made Python's)."""
        table = self.tables("service_level_cases")
        found = self.db.fetchone(select_in(table, CASE_COLUMNS, "case_id", 1), [case_id])
        return None if found is None else _stored_row(CASE_COLUMNS, found)
