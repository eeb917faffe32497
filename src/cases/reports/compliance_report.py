"""The compliance report: how the partner kept its service levels, for the cases
received in a period, as the log knew it at a moment (ADR 20).

For each group (by month of receipt, severity at receipt, customer, category
and escalation vehicle, in any combination): cases received; first-response,
resolution and next-update ("time between updates") times in business time
(median and p90, nearest rank) and the share within target; breaches by clock;
escalations (count, rate, time to escalate, vendor time and its share within
target); and the reopen rate.

Only facts recorded at or before `as_of` count, so a report asked again later,
or after a rebuild of the projection, gives the same figures. Definitions:

- a clock's *times* are those of its first fulfilment (for resolution: the first
  time the case was resolved; a reopen counts in the reopen rate instead);
- a clock is *judged* against its target once fulfilled (if it had a target), or
  while a breach of it stands unfulfilled; *within* counts the fulfilled ones
  that kept their target, so a breached clock still running counts as missed;
- the *escalation rate* is escalated cases / cases; the *reopen rate* is reopened
  cases / resolved cases;
- grouped by vehicle, a case counts under each vehicle it was escalated through
  (`indirect_provider` for an escalation to the indirect provider) and under
  `none` if it was not escalated; its escalations count under their own vehicle.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, overload

from cases.db.database import ProjectionDatabase
from cases.domain.errors import InvalidValueError
from cases.projections.projection import LIVE, TableNames
from cases.reports.compliance_columns import FigureColumns
from cases.reports.compliance_sealed import SealedReport
from cases.reports.compliance_sql import MEASURES, Dimension, ReportSql
from cases.reports.compliance_statements import Found, Helpers, Part, Statements, snapshot

# Figures ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Durations:
    """Business durations: how many, their median and 90th percentile (nearest rank)."""

    count: int = 0
    median: timedelta | None = None
    p90: timedelta | None = None


def share_of(part: int, whole: int) -> float | None:
    """`part` as a share of `whole`; none of nothing. Every share and rate of the
    report is one (the groups' properties, and JSON written from columns)."""
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class TargetShare:
    """Of the clocks judged against a target, how many kept it."""

    judged: int = 0
    within: int = 0

    @property
    def share(self) -> float | None:
        return share_of(self.within, self.judged)


@dataclass(frozen=True, slots=True)
class ClockFigures:
    times: Durations = field(default_factory=Durations)
    target: TargetShare = field(default_factory=TargetShare)


@dataclass(frozen=True, slots=True)
class BreachCounts:
    """Breaches recorded by the report's moment and not withdrawn by then."""

    first_response: int = 0
    next_update: int = 0
    resolution: int = 0
    vendor: int = 0

    @property
    def total(self) -> int:
        return self.first_response + self.next_update + self.resolution + self.vendor


@dataclass(frozen=True, slots=True)
class EscalationFigures:
    escalations: int = 0
    escalated_cases: int = 0
    time_to_escalate: Durations = field(default_factory=Durations)
    vendor: ClockFigures = field(default_factory=ClockFigures)


@dataclass(frozen=True, slots=True)
class GroupFigures:
    """The figures of one group; `key` holds its values in the order of the
    report's `group_by`. An ungrouped report has one group, with the key (),
    even when no case was received; a grouped one only the groups with cases."""

    key: tuple[str, ...]
    cases: int = 0
    first_response: ClockFigures = field(default_factory=ClockFigures)
    resolution: ClockFigures = field(default_factory=ClockFigures)
    next_update: ClockFigures = field(default_factory=ClockFigures)
    breaches: BreachCounts = field(default_factory=BreachCounts)
    escalations: EscalationFigures = field(default_factory=EscalationFigures)
    reopened: int = 0

    @property
    def resolved(self) -> int:
        return self.resolution.times.count

    @property
    def escalation_rate(self) -> float | None:
        return share_of(self.escalations.escalated_cases, self.cases)

    @property
    def reopen_rate(self) -> float | None:
        return share_of(self.reopened, self.resolved)


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """Cases received in [start, end), as recorded by `as_of`, grouped by `group_by`."""

    start: datetime
    end: datetime
    as_of: datetime
    group_by: tuple[Dimension, ...] = ()

    def __post_init__(self) -> None:
        for name in ("start", "end", "as_of"):
            moment: datetime = getattr(self, name)
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise InvalidValueError(f"{name} must have a UTC offset")
        if self.end <= self.start:
            raise InvalidValueError("the period must end after it starts")
        if len(set(self.group_by)) != len(self.group_by):
            raise InvalidValueError("group by each dimension at most once")


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    request: ReportRequest
    groups: Sequence[GroupFigures]

    def group(self, *key: str) -> GroupFigures:
        """The group with these key values; an empty one if no case fell in it."""
        return next((g for g in self.groups if g.key == key), GroupFigures(key))


# Reading the figures ---------------------------------------------------------------


_NO_COUNTS, _NO_RANKS = (0, 0, 0), (None, None)
_CLOCK_FIGURES = {name: (f"{name}_counts", f"{name}_quantiles") for name in MEASURES}


def _clock(found: dict[str, Any], name: str) -> ClockFigures:
    counts, ranks = _CLOCK_FIGURES[name]
    count, within, judged = found.get(counts, _NO_COUNTS)
    median, p90 = found.get(ranks, _NO_RANKS)
    return ClockFigures(Durations(count, median, p90), TargetShare(judged, within))


def group_figures(key: tuple[str, ...], found: dict[str, Any]) -> GroupFigures:
    """A group's figures from what the statements found (`compliance_statements`)."""
    escalations, escalated, timed = found.get("escalation_counts", _NO_COUNTS)
    median, p90 = found.get("to_escalate_quantiles", _NO_RANKS)
    return GroupFigures(
        key=key,
        cases=found.get("cases", 0),
        first_response=_clock(found, "fr"),
        resolution=_clock(found, "res"),
        next_update=_clock(found, "nu"),
        breaches=BreachCounts(**found.get("breaches", {})),
        escalations=EscalationFigures(
            escalations, escalated, Durations(timed, median, p90), _clock(found, "vendor")
        ),
        reopened=found.get("reopened", 0),
    )


class GroupsOfColumns(Sequence[GroupFigures]):
    """A report's groups kept as columns (`FigureColumns`, in key order): each
    group's figures are made when asked for; JSON and CSV are written from the
    columns (ADR 81, 2026-12-05). Equal to any sequence of the same groups."""

    def __init__(self, columns: FigureColumns) -> None:
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns)

    @overload
    def __getitem__(self, at: int) -> GroupFigures: ...

    @overload
    def __getitem__(self, at: slice) -> Sequence[GroupFigures]: ...

    def __getitem__(self, at: int | slice) -> GroupFigures | Sequence[GroupFigures]:
        if isinstance(at, slice):
            return tuple(self[i] for i in range(len(self))[at])
        at = range(len(self))[at]  # IndexError beyond the groups, as a tuple's
        return group_figures(self.columns.keys[at], self.columns.found(at))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))


class ComplianceReportView:
    """Computes compliance reports from the service-level tables.

    Where the sealed cells serve the report (ADR 30, `compliance_sealed`), it is
    computed from them, unless `sealed` is off (the figures are the same: tests
    compare both). Otherwise on PostgreSQL, given `helpers` (each call lends
    another connection to the same database), the report's statements run at
    once, one per connection, all on the snapshot of `db`'s transaction;
    otherwise one after the other on `db`.
    """

    def __init__(
        self,
        db: ProjectionDatabase,
        tables: TableNames = LIVE,
        helpers: Helpers | None = None,
        *,
        sealed: bool = True,
    ) -> None:
        self.db = db
        self.tables = tables
        self.helpers = helpers if db.is_postgres else None
        self.sealed = sealed

    def report(self, request: ReportRequest) -> ComplianceReport:
        sql = ReportSql(request.group_by, postgres=self.db.is_postgres, tables=self.tables)
        values: dict[str, object] = {
            "start": request.start,
            "end": request.end,
            "as_of": request.as_of,
        }
        statements = Statements(sql, values, len(request.group_by))
        parts = statements.parts(split=self.helpers is not None)
        with snapshot(self.db, export=self.helpers is not None) as exported:
            sealed = SealedReport(
                self.db, self.tables, request.group_by, request.as_of, self.helpers, exported
            )
            sealed_at = sealed.seal_serving(request.start, request.end) if self.sealed else None
            if sealed_at is not None:
                found = sealed.figures(request.start, request.end, sealed_at)
            elif self.helpers is None:
                found = Found.merged(len(request.group_by), [p(self.db) for p in parts]).values
            else:
                found = Found.merged(
                    len(request.group_by), self._at_once(parts, exported, self.helpers)
                ).values
        if isinstance(found, FigureColumns):
            return ComplianceReport(request, GroupsOfColumns(found.sorted()))
        return ComplianceReport(
            request, tuple(group_figures(key, found[key]) for key in sorted(found))
        )

    def _at_once(self, parts: list[Part], exported: str, helpers: Helpers) -> list[Found]:
        def on_helper(part: Part) -> Found:
            with helpers() as db, snapshot(db, exported):
                return part(db)

        with ThreadPoolExecutor(max_workers=len(parts) - 1) as pool:
            pending = [pool.submit(on_helper, part) for part in parts[1:]]
            first = parts[0](self.db)
            return [first, *(future.result() for future in pending)]
