"""The compliance report over a generated history (every support-case event type,
recorded through the desk): equal to a brute-force computation from the events
themselves for moments across the history, and identical on SQLite and
PostgreSQL for every grouping."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from cases.bootstrap import bootstrap
from cases.db.database import ProjectionDatabase
from cases.domain.service_clocks import ClockKind
from cases.domain.support_case import SupportCase
from cases.followers.catalog import projection_named
from cases.followers.runner import ProjectionRunner
from cases.persistence.database_url import parse_database_url
from cases.reports.compliance_report import (
    BreachCounts,
    ClockFigures,
    ComplianceReport,
    ComplianceReportView,
    Durations,
    EscalationFigures,
    GroupFigures,
    ReportRequest,
)
from cases.reports.compliance_report import TargetShare as Share
from cases.reports.compliance_sql import Dimension
from cases.reports.compliance_statements import Helpers, more_connections
from cases.settings import Settings
from tests.integration.projections.conftest import RecordedHistory
from tests.support.postgres import database_copy
from tests.support.projection_tables import events_of

E = SupportCase
CLOCK_FACTS = (
    E.ServiceClockStarted,
    E.ServiceClockBreached,
    E.ServiceClockBreachWithdrawn,
    E.ServiceClockBreachDisproved,
    E.ServiceClockFulfilled,
)


# The brute force ---------------------------------------------------------------


@dataclass
class Outcome:
    """A clock's first fulfilment and first breach, as the events tell."""

    elapsed: timedelta | None = None
    within: bool | None = None
    fulfilled: datetime | None = None
    breached_at: datetime | None = None
    breach: datetime | None = None
    withdrawn: datetime | None = None

    def done(self, m: datetime) -> bool:
        return self.fulfilled is not None and self.fulfilled <= m

    def judged(self, m: datetime) -> bool:
        if self.done(m):
            return self.within is not None
        return (
            self.breach is not None
            and self.breach <= m
            and (self.withdrawn is None or self.withdrawn > m)
        )


@dataclass
class Breach:
    clock: ClockKind
    number: int
    at: datetime
    recorded: datetime
    withdrawn: datetime | None = None

    def stands(self, m: datetime) -> bool:
        return self.recorded <= m and (self.withdrawn is None or self.withdrawn > m)


@dataclass
class Case:
    severity: str
    received_at: datetime
    recorded: datetime
    outcomes: dict[tuple[ClockKind, int], Outcome] = field(default_factory=dict)
    escalations: dict[int, tuple[datetime, timedelta | None]] = field(default_factory=dict)
    breaches: list[Breach] = field(default_factory=list)
    reopened: datetime | None = None

    def outcome(self, kind: ClockKind, number: int) -> Outcome:
        return self.outcomes.setdefault((kind, number), Outcome())


def cases_of(events: list[Any]) -> dict[UUID, Case]:
    cases: dict[UUID, Case] = {}
    for e in events:
        if isinstance(e, E.Received):
            cases[e.originator_id] = Case(e.severity.value, e.received_at, e.timestamp)
            continue
        case = cases[e.originator_id]
        if isinstance(e, E.Reopened) and case.reopened is None:
            case.reopened = e.timestamp
        elif isinstance(e, E.Escalated):
            case.escalations[e.number] = (e.timestamp, None)
        elif isinstance(e, CLOCK_FACTS):
            _clock_fact(case, e)
    return cases


def _clock_fact(case: Case, e: Any) -> None:
    outcome = case.outcome(e.clock, e.number)
    if isinstance(e, E.ServiceClockStarted) and e.clock is ClockKind.VENDOR:
        case.escalations[e.number] = (case.escalations[e.number][0], e.since_received)
    elif isinstance(e, E.ServiceClockFulfilled) and outcome.fulfilled is None:
        outcome.elapsed, outcome.fulfilled = e.elapsed, e.timestamp
        outcome.within = None if e.target is None else e.within_target
    elif isinstance(e, E.ServiceClockBreached):
        case.breaches.append(Breach(e.clock, e.number, e.at, e.timestamp))
        if outcome.breach is None:
            outcome.breached_at, outcome.breach = e.at, e.timestamp
    elif isinstance(e, (E.ServiceClockBreachWithdrawn, E.ServiceClockBreachDisproved)):
        for breach in case.breaches:
            same = (breach.clock, breach.number, breach.at) == (e.clock, e.number, e.breached_at)
            if same and breach.withdrawn is None:
                breach.withdrawn = e.timestamp
        if outcome.breached_at == e.breached_at and outcome.withdrawn is None:
            outcome.withdrawn = e.timestamp


def nearest_rank(values: list[timedelta], tenths: int) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) * tenths + 9) // 10  # ceil(n * tenths / 10)
    return ordered[k - 1]


def figures(outcomes: list[Outcome], m: datetime) -> ClockFigures:
    done = [o for o in outcomes if o.done(m)]
    times = [o.elapsed for o in done if o.elapsed is not None]
    return ClockFigures(
        Durations(len(done), nearest_rank(times, 5), nearest_rank(times, 9)),
        Share(sum(o.judged(m) for o in outcomes), sum(bool(o.within) for o in done)),
    )


def brute_force(
    cases: dict[UUID, Case], start: datetime, end: datetime, m: datetime
) -> GroupFigures:
    chosen = [c for c in cases.values() if start <= c.received_at < end and c.recorded <= m]

    def clocks(kind: ClockKind) -> list[Outcome]:
        return [o for c in chosen for (k, _), o in c.outcomes.items() if k is kind]

    escalations = [esc for c in chosen for esc in c.escalations.values() if esc[0] <= m]
    to_escalate = [t for _, t in escalations if t is not None]
    breaches: dict[str, int] = defaultdict(int)
    for breach in (b for c in chosen for b in c.breaches if b.stands(m)):
        breaches[breach.clock.value] += 1
    return GroupFigures(
        key=(),
        cases=len(chosen),
        first_response=figures(clocks(ClockKind.FIRST_RESPONSE), m),
        resolution=figures(clocks(ClockKind.RESOLUTION), m),
        next_update=figures(clocks(ClockKind.NEXT_UPDATE), m),
        breaches=BreachCounts(**breaches),
        escalations=EscalationFigures(
            escalations=len(escalations),
            escalated_cases=sum(any(e[0] <= m for e in c.escalations.values()) for c in chosen),
            time_to_escalate=Durations(
                len(to_escalate), nearest_rank(to_escalate, 5), nearest_rank(to_escalate, 9)
            ),
            vendor=figures(clocks(ClockKind.VENDOR), m),
        ),
        reopened=sum(c.reopened is not None and c.reopened <= m for c in chosen),
    )


# Stores ---------------------------------------------------------------------------


@contextmanager
def projected_copy(
    recorded: RecordedHistory, folder: Path
) -> Iterator[tuple[ProjectionDatabase, list[Any]]]:
    """A copy of the recorded store with the service-level projection caught up,
    and its support-case events."""
    with database_copy(recorded.url, folder) as url:
        services = bootstrap(Settings(database_url=url))
        db = ProjectionDatabase(parse_database_url(url))
        try:
            projection = projection_named("service_levels")
            ProjectionRunner(services.log, projection, db, batch_size=97).catch_up()
            yield db, events_of(services.log, projection)
        finally:
            db.close()
            services.close()


# Tests ------------------------------------------------------------------------------


def moments(recorded: RecordedHistory) -> list[datetime]:
    """Moments across the history, and one after it."""
    start = recorded.ended_at - timedelta(days=12)
    return [start + timedelta(days=d, hours=h) for d in (1, 4, 7, 10) for h in (3, 9)] + [
        recorded.ended_at + timedelta(days=1)
    ]


def report(
    db: ProjectionDatabase, request: ReportRequest, helpers: Helpers | None = None
) -> ComplianceReport:
    return ComplianceReportView(db, helpers=helpers).report(request)


def test_the_report_is_what_the_events_say(recorded: RecordedHistory, tmp_path: Path) -> None:
    """For moments across the history, every figure of the whole period and of a
    week inside it equals a brute-force computation from the events."""
    with projected_copy(recorded, tmp_path) as (db, events):
        cases = cases_of(events)
        assert any(c.escalations for c in cases.values())
        assert any(c.breaches for c in cases.values())
        end = recorded.ended_at
        for start, stop in ((end - timedelta(days=60), end + timedelta(days=1)),
                            (end - timedelta(days=9), end - timedelta(days=2))):  # fmt: skip
            for m in moments(recorded):
                [got] = report(db, ReportRequest(start, stop, m)).groups
                assert got == brute_force(cases, start, stop, m), (start, stop, m)


@pytest.mark.postgres
def test_sqlite_and_postgresql_give_identical_figures(
    sqlite_history: RecordedHistory, postgres_history: RecordedHistory, tmp_path: Path
) -> None:
    """The same history on both stores: every grouping, as of moments across it;
    on PostgreSQL with the statements one after the other and at once."""
    end = sqlite_history.ended_at
    assert postgres_history.ended_at == end
    start, stop = end - timedelta(days=60), end + timedelta(days=1)
    dimensions = list(Dimension)
    groupings = [g for n in range(3) for g in itertools.permutations(dimensions, n)]
    with (
        projected_copy(sqlite_history, tmp_path) as (lite, _),
        projected_copy(postgres_history, tmp_path) as (postgres, _),
    ):
        compared = 0
        for m in moments(sqlite_history)[::2]:
            for group_by in groupings:
                request = ReportRequest(start, stop, m, group_by)
                found = report(lite, request)
                assert found == report(postgres, request), (group_by, m)
                assert found == report(postgres, request, more_connections(postgres)), (group_by, m)
                compared += len(found.groups)
        assert compared > 500
