"""Sealed compliance figures (ADR 30): a report computed from the sealed cells,
the rows touched after the seal and the period's edges is the report computed
from the rows, for every seal moment, report moment, period and grouping the
cells serve; the projection seals by itself and again after a fact recorded
late; on both stores.

The history starts two days before a UTC month ends, so the cells and the
edges of a period both hold cases."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from structlog.testing import capture_logs

from cases.bootstrap import bootstrap
from cases.clock import ManualClock
from cases.db.database import ProjectionDatabase, as_moment
from cases.db.schema import migrate
from cases.db.statement import identifier, sql
from cases.domain.audited import AuditedAggregate
from cases.domain.support_case import SupportCase
from cases.domain.support_terms import EscalationVehicle
from cases.followers.catalog import projection_named
from cases.followers.runner import ProjectionRunner
from cases.persistence.database_url import parse_database_url
from cases.projections.projection import LIVE, PositionedEvent, behind
from cases.reports.compliance_report import (
    ComplianceReport,
    ComplianceReportView,
    ReportRequest,
)
from cases.reports.compliance_seal import (
    GRACE,
    keep_moments,
    month_start,
    reseal,
    seal_after,
    seal_state,
)
from cases.reports.compliance_sealed import SealedReport
from cases.reports.compliance_sql import Dimension
from cases.reports.compliance_statements import more_connections
from cases.settings import Settings
from tests.integration.projections.conftest import STORES
from tests.support.history import DeskWriter, SupportHistory
from tests.support.postgres import throwaway_database
from tests.support.projection_tables import events_of

START = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # a Monday, two days before April
MARCH = datetime(2026, 3, 1, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, tzinfo=UTC)
MAY = datetime(2026, 5, 1, tzinfo=UTC)
D = Dimension
GROUPINGS = [
    *(
        g
        for n in range(3)
        for g in itertools.permutations((D.MONTH, D.SEVERITY, D.CATEGORY, D.VEHICLE), n)
    ),
    (D.CUSTOMER,),  # the customer cells (ADR 79)
    (D.MONTH, D.CUSTOMER),
    (D.CUSTOMER, D.MONTH),
]


@dataclasses.dataclass(frozen=True)
class Projected:
    db: ProjectionDatabase
    events: list[AuditedAggregate.Event]
    ended_at: datetime


@pytest.fixture(params=STORES, scope="module")
def projected(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Projected]:
    """A history over the end of March, recorded and projected (the runner seals)."""
    if request.param == "sqlite":
        yield from _projected(f"sqlite:///{tmp_path_factory.mktemp('sealed') / 'h.db'}")
        return
    with throwaway_database() as url:
        yield from _projected(url)


def _projected(url: str) -> Iterator[Projected]:
    migrate(parse_database_url(url))
    clock = ManualClock(START)
    services = bootstrap(Settings(database_url=url, snapshot_interval=5), clock)
    db = ProjectionDatabase(parse_database_url(url))
    try:
        SupportHistory(seed=5, cases_per_day=40, start=START).record(
            DeskWriter(services, clock), 1500
        )
        projection = projection_named("service_levels")
        ProjectionRunner(services.log, projection, db, batch_size=89).catch_up()
        events = events_of(services.log, projection)
        yield Projected(db, events, clock.now())
    finally:
        db.close()
        services.close()


def sealed_at(db: ProjectionDatabase, *moments: datetime) -> None:
    """Seal at `moments` instead, keeping the latest moment the projection saw."""
    state = seal_state(db, LIVE)
    assert state is not None
    with db.transaction():
        reseal(db, LIVE, moments, state.latest_recorded_at)


def restore(db: ProjectionDatabase) -> None:
    """The seals the projection made."""
    sealed_at(db, MARCH, APRIL)


def both(
    db: ProjectionDatabase, request: ReportRequest
) -> tuple[ComplianceReport, ComplianceReport]:
    return (
        ComplianceReportView(db).report(request),
        ComplianceReportView(db, sealed=False).report(request),
    )


def test_a_report_as_of_an_earlier_seal_is_its_cells(projected: Projected) -> None:
    """As of a seal before the latest, the report reads the cells of the seals up
    to it and no row touched after it (ADR 63), and equals the rows' report."""
    db = projected.db
    middle = APRIL + timedelta(hours=12)
    period = (datetime(2026, 3, 1, tzinfo=UTC), MAY)
    try:
        sealed_at(db, MARCH, middle, APRIL + timedelta(days=1))
        for group_by in GROUPINGS:
            request = ReportRequest(*period, middle, group_by)
            assert SealedReport(db, LIVE, group_by, middle).seal_serving(*period) == middle
            sealed, rows = both(db, request)
            assert sealed == rows, group_by
        assert sealed.groups
    finally:
        restore(db)


def test_the_history_crosses_the_month(projected: Projected) -> None:
    received = [e.received_at for e in projected.events if isinstance(e, SupportCase.Received)]
    assert min(received) < APRIL <= max(received)
    assert projected.ended_at > APRIL + timedelta(days=1)


def test_the_projection_seals_at_the_last_month_start_it_passed(projected: Projected) -> None:
    state = seal_state(projected.db, LIVE)
    assert state is not None
    latest = max(e.timestamp for e in projected.events)
    assert state.latest_recorded_at == latest
    assert month_start(latest - GRACE) == APRIL
    assert state.seals == (MARCH, APRIL)  # from the month start before the first fact


def test_sealed_figures_are_the_rows_figures(projected: Projected) -> None:
    """Chains of seals before, inside and after the history; report moments from
    the first seal on (the cells serve those from the latest seal on); periods
    of whole months, with an edge before, after, or both."""
    db, end = projected.db, projected.ended_at
    periods = [
        (datetime(2026, 3, 1, tzinfo=UTC), MAY),  # March and April whole
        (START + timedelta(hours=30), MAY),  # an edge in March, April whole
        (datetime(2026, 3, 1, tzinfo=UTC), APRIL + timedelta(days=1, hours=5)),  # edge in April
        (START + timedelta(hours=3), APRIL + timedelta(hours=40)),  # edges, no whole month
        (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),  # nothing
    ]
    compared = served = 0
    try:
        chains = [
            (START - timedelta(days=3),),
            (START + timedelta(hours=20),),
            (APRIL,),
            (MARCH, START + timedelta(hours=20), APRIL, APRIL + timedelta(hours=30)),
            (START + timedelta(hours=5), APRIL + timedelta(hours=10), end + timedelta(hours=1)),
        ]
        for chain in chains:
            sealed_at(db, *chain)
            moments = [m + d for m in chain for d in (timedelta(0), timedelta(hours=7))]
            for as_of in [*moments, end + timedelta(days=2)]:
                for (start, stop), group_by in itertools.product(periods, GROUPINGS):
                    request = ReportRequest(start, stop, as_of, group_by)
                    sealed, rows = both(db, request)
                    assert sealed == rows, (chain, as_of, start, stop, group_by)
                    report = SealedReport(db, LIVE, group_by, as_of)
                    served += report.seal_serving(start, stop) is not None
                    compared += len(rows.groups)
    finally:
        restore(db)
    assert served > 100
    assert compared > 1000


def test_a_report_is_served_from_the_latest_seal_or_exactly_an_earlier_one(
    projected: Projected,
) -> None:
    """After the latest seal and at an earlier one (ADR 63) from the cells, by
    customer too (ADR 79); between two seals from the earlier one's cells and the
    later one's changes by moment (ADR 84); before the first or by customer and
    severity from the rows."""
    period = (datetime(2026, 3, 1, tzinfo=UTC), MAY)
    restore(projected.db)  # sealed again outside a catch-up: with the changes by moment
    by_customer = SealedReport(projected.db, LIVE, (D.CUSTOMER,), projected.ended_at)
    assert by_customer.seal_serving(*period) == APRIL
    by_severity = SealedReport(projected.db, LIVE, (D.SEVERITY, D.CUSTOMER), projected.ended_at)
    assert by_severity.seal_serving(*period) is None
    assert SealedReport(projected.db, LIVE, (), projected.ended_at).seal_serving(*period) == APRIL
    assert SealedReport(projected.db, LIVE, (), APRIL).seal_serving(*period) == APRIL
    between = SealedReport(projected.db, LIVE, (), APRIL - timedelta(seconds=1))
    assert between.seal_serving(*period) == MARCH
    assert between.moments_of == APRIL
    for group_by in [(D.VEHICLE,), (D.CUSTOMER,), (D.MONTH, D.CUSTOMER)]:
        grouped = SealedReport(projected.db, LIVE, group_by, APRIL - timedelta(seconds=1))
        assert grouped.seal_serving(*period) == MARCH
    at_an_earlier_seal = SealedReport(projected.db, LIVE, (), MARCH)
    assert at_an_earlier_seal.seal_serving(*period) == MARCH
    before_the_first = SealedReport(projected.db, LIVE, (), MARCH - timedelta(seconds=1))
    assert before_the_first.seal_serving(*period) is None


def test_a_fact_recorded_late_seals_again(projected: Projected) -> None:
    """A case recorded before the seal but projected after it: the cells count it."""
    db = projected.db
    received = next(e for e in projected.events if isinstance(e, SupportCase.Received))
    late = dataclasses.replace(  # type: ignore[call-arg]
        received,
        originator_id=uuid4(),
        timestamp=APRIL - timedelta(hours=2),
        received_at=APRIL - timedelta(hours=3),
    )
    request = ReportRequest(datetime(2026, 3, 1, tzinfo=UTC), MAY, projected.ended_at)
    before = ComplianceReportView(db).report(request).groups[0].cases
    projection = projection_named("service_levels")
    with capture_logs() as logs, db.transaction():
        projection.apply(db, [PositionedEvent(10**9, late)], LIVE)
    dropped = [e for e in logs if e["event"] == "compliance_seals_dropped_for_late_fact"]
    assert [e["seals"] for e in dropped] == [[APRIL.isoformat()]]
    assert [e["sealed_at"] for e in logs if e["event"] == "compliance_sealed"] == [
        APRIL.isoformat()
    ]
    try:
        sealed, rows = both(db, request)
        assert sealed == rows
        assert rows.groups[0].cases == before + 1
        state = seal_state(db, LIVE)
        assert state is not None
        assert state.seals == (MARCH, APRIL)
    finally:
        with db.transaction():
            db.execute(
                sql("DELETE FROM service_level_cases WHERE case_id = {}"), [late.originator_id]
            )
        restore(db)


def test_sealed_cells_do_not_count_what_was_recorded_after_the_seal(
    projected: Projected,
) -> None:
    """Sealed in the middle of the history: a report as of the seal equals the
    report as of the seal from the rows; a later moment adds to it."""
    db = projected.db
    middle = APRIL + timedelta(hours=12)
    period = (datetime(2026, 3, 1, tzinfo=UTC), MAY)
    try:
        sealed_at(db, MARCH, middle)
        at_seal = ComplianceReportView(db).report(ReportRequest(*period, middle))
        later = ComplianceReportView(db).report(ReportRequest(*period, projected.ended_at))
        assert at_seal == ComplianceReportView(db, sealed=False).report(
            ReportRequest(*period, middle)
        )
        assert at_seal.groups[0].cases < later.groups[0].cases
    finally:
        restore(db)


def test_a_case_escalated_through_another_vehicle_after_the_seal_joins_its_group(
    projected: Projected,
) -> None:
    """A second escalation through another vehicle touches none of the case's
    rows, yet adds them to that vehicle's group (ADR 72): sealed just before it,
    the report by vehicle as of it equals the rows' report."""
    db = projected.db
    first = next(
        e
        for e in projected.events
        if isinstance(e, SupportCase.Escalated) and e.vehicle is not None
    )
    moment = projected.ended_at + timedelta(hours=2)
    other = next(v for v in EscalationVehicle if v is not first.vehicle)
    again = dataclasses.replace(  # type: ignore[call-arg]
        first, number=first.number + 1000, vehicle=other, timestamp=moment
    )
    period = (datetime(2026, 3, 1, tzinfo=UTC), MAY)
    with db.transaction():
        projection_named("service_levels").apply(db, [PositionedEvent(10**9, again)], LIVE)
    try:
        sealed_at(db, MARCH, moment - timedelta(microseconds=1))
        for group_by in [(D.VEHICLE,), (D.MONTH, D.VEHICLE)]:
            sealed, rows = both(db, ReportRequest(*period, moment, group_by))
            assert sealed == rows, group_by
            assert any(g.key[-1] == other.value for g in rows.groups)
        # between two seals, from the later one's changes by moment (ADR 84)
        sealed_at(db, MARCH, moment - timedelta(hours=1), moment + timedelta(hours=1))
        step = timedelta(microseconds=1)
        for as_of, group_by in itertools.product(
            (moment - step, moment, moment + step), [(D.VEHICLE,), (D.MONTH, D.VEHICLE)]
        ):
            report = SealedReport(db, LIVE, group_by, as_of)
            assert report.seal_serving(*period) == moment - timedelta(hours=1)
            sealed, rows = both(db, ReportRequest(*period, as_of, group_by))
            assert sealed == rows, (as_of, group_by)
    finally:
        with db.transaction():
            db.execute(
                sql("DELETE FROM service_level_escalations WHERE case_id = {} AND number = {}"),
                [again.originator_id, again.number],
            )
        restore(db)


@contextmanager
def breach_again(
    db: ProjectionDatabase, first: Sequence[Any], recorded: datetime, withdrawn: datetime | None
) -> Iterator[None]:
    """A copy of the breach `first` (its key) beyond its clock's first, recorded
    and `withdrawn` as given, for the length of a `with`; the projection's seals
    again after it."""
    with db.transaction():
        db.execute(
            sql(
                "INSERT INTO service_level_breaches SELECT case_id, clock, number + 1000, "
                "breached_at, customer_id, category, severity, month, received_at, {}, {}, "
                "FALSE FROM service_level_breaches WHERE case_id = {} AND clock = {} "
                "AND number = {} AND breached_at = {}"
            ),
            [recorded, withdrawn, *first],
        )
    try:
        yield
    finally:
        with db.transaction():
            db.execute(
                sql("DELETE FROM service_level_breaches WHERE case_id = {} AND number = {}"),
                [first[0], first[2] + 1000],
            )
        restore(db)


def test_a_breach_withdrawn_after_the_seal_leaves_the_next_seals_cells(
    projected: Projected,
) -> None:
    """A breach beyond its clock's first, recorded before one seal and withdrawn
    before the next: the next seal's cells take it away again (a row counted as
    of the earlier seal and not as of the later one; ADR 80's amendment)."""
    db = projected.db
    first = db.fetchone(
        sql(
            "SELECT case_id, clock, number, breached_at FROM service_level_breaches "
            "WHERE first_of_clock AND received_at >= {} ORDER BY case_id"
        ),
        [MARCH],
    )
    assert first is not None
    with breach_again(db, first, APRIL + timedelta(hours=1), APRIL + timedelta(hours=20)):
        later = APRIL + timedelta(hours=30)
        sealed_at(db, MARCH, APRIL + timedelta(hours=10), later)
        for group_by in [(), (D.MONTH, D.SEVERITY), (D.CUSTOMER,)]:
            sealed, rows = both(db, ReportRequest(MARCH, MAY, later, group_by))
            assert sealed == rows, group_by


@pytest.mark.parametrize("before_escalation", [timedelta(minutes=30), timedelta(hours=2)])
def test_a_breach_again_of_a_case_escalated_after_the_seal_leaves_the_group_none(
    projected: Projected, before_escalation: timedelta
) -> None:
    """A breach beyond its clock's first, recorded `before_escalation` its case's
    first escalation, which comes between two seals (the breach recorded after
    the first seal, or before it): by vehicle, the later seal's cells move it
    from `none` to the vehicle (its row in `none` until the escalation, ADR 80's
    amendment "veh")."""
    db = projected.db
    found = db.fetchone(
        sql(
            "SELECT b.case_id, b.clock, b.number, b.breached_at, e.escalated_recorded_at "
            "FROM service_level_breaches b JOIN service_level_escalations e "
            "ON e.case_id = b.case_id AND e.number = 1 WHERE b.first_of_clock "
            "AND e.escalated_recorded_at >= {} ORDER BY e.escalated_recorded_at, b.case_id"
        ),
        [APRIL + timedelta(hours=3)],
    )
    assert found is not None
    *first, escalated = found
    escalated = as_moment(escalated)
    with breach_again(db, first, escalated - before_escalation, None):
        later = escalated + timedelta(hours=1)
        sealed_at(db, MARCH, escalated - timedelta(hours=1), later)
        step = timedelta(microseconds=1)
        # at the later seal, and between the two from its changes by moment (ADR 84)
        moments = [later, escalated - before_escalation, escalated - step, escalated]
        for as_of, group_by in itertools.product(moments, [(D.VEHICLE,), (D.MONTH, D.VEHICLE)]):
            sealed, rows = both(db, ReportRequest(MARCH, MAY, as_of, group_by))
            assert sealed == rows, (as_of, group_by)


# Every grouping a layer serves: each keeps its changes by moment (ADR 84).
BY_MOMENT = GROUPINGS


def test_between_two_seals_the_later_seals_changes_by_moment_are_the_rows_figures(
    projected: Projected,
) -> None:
    """Between two seals (ADR 84): at, just after and just before the moments
    facts were recorded at, a microsecond after the earlier seal and before the
    later one, and hours in; every grouping the first layer serves, whole months
    and edges; served from the earlier seal's cells and the later one's changes by
    moment, and equal to the rows' report."""
    db = projected.db
    earlier, later = START + timedelta(hours=20), APRIL + timedelta(hours=30)
    recorded = sorted({e.timestamp for e in projected.events if earlier < e.timestamp < later})
    assert len(recorded) > 100
    escalated = [
        e.timestamp
        for e in projected.events
        if isinstance(e, SupportCase.Escalated) and earlier < e.timestamp < later
    ]
    assert escalated
    step = timedelta(microseconds=1)
    moments = [
        earlier + step,
        *(
            m + d
            for m in [*recorded[:: len(recorded) // 6], *escalated[:2]]
            for d in (-step, timedelta(0), step)
        ),
        APRIL - step,
        APRIL + timedelta(hours=7),
        later - step,
    ]
    periods = [
        (MARCH, MAY),
        (START + timedelta(hours=30), MAY),
        (MARCH, APRIL + timedelta(days=1, hours=5)),
    ]
    served = 0
    try:
        sealed_at(db, MARCH, earlier, later)
        for as_of in moments:
            for (start, stop), group_by in itertools.product(periods, BY_MOMENT):
                report = SealedReport(db, LIVE, group_by, as_of)
                if report.seal_serving(start, stop) is not None:
                    served += 1
                    assert report.moments_of == later
                request = ReportRequest(start, stop, as_of, group_by)
                sealed, rows = both(db, request)
                assert sealed == rows, (as_of, start, stop, group_by)
                if db.is_postgres and D.CUSTOMER in group_by:  # read beside the cells (ADR 85)
                    beside = ComplianceReportView(db, helpers=more_connections(db)).report(request)
                    assert beside == rows, (as_of, start, stop, group_by)
    finally:
        restore(db)
    assert served == len(moments) * len(periods) * len(BY_MOMENT)


def test_between_seals_without_changes_by_moment_the_rows_serve(projected: Projected) -> None:
    """A seal made before changes were kept by moment (migration 0025): a report
    between it and the seal before reads the rows, and says the same."""
    db = projected.db
    middle = APRIL + timedelta(hours=12)
    period = (MARCH, MAY)
    try:
        sealed_at(db, MARCH, APRIL, middle + timedelta(hours=6))
        with db.transaction():
            db.execute(sql("UPDATE compliance_seals SET moments = {}"), [False])
        assert SealedReport(db, LIVE, (), middle).seal_serving(*period) is None
        sealed, rows = both(db, ReportRequest(*period, middle, (D.MONTH, D.SEVERITY)))
        assert sealed == rows
    finally:
        restore(db)


# Each moment a figure of the first layer changes at, set on one row to a moment
# between two seals (ADR 84), with what makes it count: a breach before its
# withdrawal, a duration with its fulfilment, and the row's latest moment, as the
# projection writes them. (The cases' and updates' escalation moments group only
# by vehicle.)
_OUTCOME_SET = {
    "fulfilled": (
        "{p}_fulfilled_recorded_at = {{at}}, {p}_elapsed_us = 3600000000, {p}_within = TRUE"
    ),
    "breach": "{p}_breach_recorded_at = {{at}}, {p}_breached_at = {{at}}",
    "breach_withdrawn": (
        "{p}_breach_recorded_at = {{before}}, {p}_breached_at = {{before}}, "
        "{p}_breach_withdrawn_recorded_at = {{at}}"
    ),
}
SET_AT = [
    ("service_level_cases", "received_recorded_at = {at}"),
    ("service_level_cases", "reopened_recorded_at = {at}"),
    *(("service_level_cases", s.format(p=p)) for p in ("fr", "res") for s in _OUTCOME_SET.values()),
    ("service_level_updates", _OUTCOME_SET["fulfilled"].format(p="nu")),
    ("service_level_updates", _OUTCOME_SET["breach"].format(p="nu")),
    ("service_level_updates", _OUTCOME_SET["breach_withdrawn"].format(p="nu")),
    ("service_level_escalations", "escalated_recorded_at = {at}"),
    *(("service_level_escalations", s.format(p="vendor")) for s in _OUTCOME_SET.values()),
]


@pytest.mark.parametrize(("table", "assignments"), SET_AT)
def test_every_moment_a_figure_changes_at_is_kept(
    projected: Projected, table: str, assignments: str
) -> None:
    """A row's moment set between two seals: just before it, at it and just after
    it, the report from the changes by moment is the rows' report."""
    db = projected.db
    earlier, later = START + timedelta(hours=20), APRIL + timedelta(hours=30)
    at = APRIL + timedelta(hours=3, microseconds=17)
    step = timedelta(microseconds=1)
    rows_of = sql(
        "case_id = (SELECT case_id FROM {table} WHERE received_at < {cutoff} "
        "ORDER BY case_id LIMIT 1)",
        table=identifier(table),
    )
    saved = identifier(f"saved_{table}")
    values = {"cutoff": earlier, "at": at, "before": at - timedelta(hours=1)}
    with db.transaction():
        db.execute(
            sql(
                "CREATE TABLE {saved} AS SELECT * FROM {table} WHERE {rows}",
                saved=saved,
                table=identifier(table),
                rows=rows_of,
            ),
            values,
        )
        db.execute(
            sql(
                "UPDATE {table} SET {assignments}, last_recorded_at = CASE "
                "WHEN last_recorded_at > {at} THEN last_recorded_at ELSE {at} END WHERE {rows}",
                table=identifier(table),
                assignments=sql(assignments),
                rows=rows_of,
            ),
            values,
        )
    try:
        sealed_at(db, MARCH, earlier, later)
        for as_of, group_by in itertools.product(
            (at - step, at, at + step),
            [*BY_MOMENT[:4], (D.VEHICLE,), (D.SEVERITY, D.VEHICLE), (D.MONTH, D.CUSTOMER)],
        ):
            report = SealedReport(db, LIVE, group_by, as_of)
            assert report.seal_serving(MARCH, MAY) == earlier
            sealed, rows = both(db, ReportRequest(MARCH, MAY, as_of, group_by))
            assert sealed == rows, (as_of, group_by)
    finally:
        with db.transaction():
            db.execute(
                sql(
                    "DELETE FROM {table} WHERE case_id IN (SELECT case_id FROM {saved})",
                    table=identifier(table),
                    saved=saved,
                )
            )
            db.execute(
                sql(
                    "INSERT INTO {table} SELECT * FROM {saved}",
                    table=identifier(table),
                    saved=saved,
                )
            )
            db.execute(sql("DROP TABLE {saved}", saved=saved))
        restore(db)


def served_by_moment(
    db: ProjectionDatabase,
    period: tuple[datetime, datetime],
    between: datetime,
    seals: tuple[datetime, datetime],
) -> None:
    """Reports as of `between`, by a few groupings, are served from the cells up
    to the first of `seals` and the second's changes by moment, and equal the rows'."""
    for group_by in [(), (D.VEHICLE,), (D.CUSTOMER,)]:
        report = SealedReport(db, LIVE, group_by, between)
        assert report.seal_serving(*period) == seals[0]
        assert report.moments_of == seals[1]
        sealed, rows = both(db, ReportRequest(*period, between, group_by))
        assert sealed == rows, group_by


def test_seals_made_while_catching_up_keep_their_changes_by_moment_later(
    projected: Projected,
) -> None:
    """Sealed in a batch with more behind it, a seal keeps no changes by moment and
    a report between it and the seal before reads the rows; `keep_moments` adds
    them, one seal at a time, earliest first (the first seal has none to keep),
    and the report is then served from them (ADR 84)."""
    db = projected.db
    middle, later = APRIL + timedelta(hours=12), APRIL + timedelta(hours=30)
    period = (MARCH, MAY)
    try:
        with behind(more=True):
            sealed_at(db, MARCH, middle, later)
        state = seal_state(db, LIVE)
        assert state is not None
        assert state.by_moment == frozenset()
        between = APRIL + timedelta(hours=20)
        assert SealedReport(db, LIVE, (), between).seal_serving(*period) is None
        kept = []
        while (moment := keep_moments(db, LIVE)) is not None:
            kept.append(moment)
        assert kept == [middle, later]
        served_by_moment(db, period, between, (middle, later))
    finally:
        restore(db)


def test_at_the_head_each_batch_keeps_one_seals_missing_changes_by_moment(
    projected: Projected,
) -> None:
    """Seals made while catching up get their changes by moment from the batches
    that reach the log's head, one seal a batch, earliest first; a batch with more
    behind it keeps none (ADR 84)."""
    db = projected.db
    middle, later = APRIL + timedelta(hours=12), APRIL + timedelta(hours=24)
    period, between = (MARCH, MAY), APRIL + timedelta(hours=20)
    try:
        with behind(more=True):
            sealed_at(db, MARCH, middle, later)
        state = seal_state(db, LIVE)
        assert state is not None
        assert state.latest_recorded_at > later
        latest = [state.latest_recorded_at]  # a batch that seals nothing more
        for kept, said in (([middle], [middle]), ([middle, later], [later]), ([middle, later], [])):
            with behind(more=True), db.transaction():
                assert seal_after(db, LIVE, latest, seal_state(db, LIVE)) == []
            with capture_logs() as logs, db.transaction():
                assert seal_after(db, LIVE, latest, seal_state(db, LIVE)) == []
            now = seal_state(db, LIVE)
            assert now is not None
            assert now.seals == (MARCH, middle, later)
            assert now.by_moment == frozenset(kept)
            assert [e["sealed_at"] for e in logs if e["event"] == "compliance_moments_kept"] == [
                m.isoformat() for m in said
            ]
        served_by_moment(db, period, between, (middle, later))
    finally:
        restore(db)
