"""The service-level projection and the compliance report on SQLite and PostgreSQL,
against figures computed by hand (tests/support/service_level_scenario.py): cases
received outside service hours and on a holiday, a paused one, breached ones, a
breach withdrawn, an escalation and a reopen; reports as of a moment unchanged by
later events and by a rebuild; a change of terms that leaves old cases' figures
alone; the cases due for the scheduled breach evaluation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta

import pytest

from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.db.database import ProjectionDatabase
from cases.db.schema import migrate
from cases.domain import case_commands as cmd
from cases.domain.case_values import CaseCategory, Direction, ResolutionCode
from cases.domain.errors import InvalidValueError
from cases.domain.support_terms import Channel, ServiceHours, ServiceSpan, Severity
from cases.followers.catalog import projection_named
from cases.followers.rebuild import rebuild
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
    TargetShare,
)
from cases.reports.compliance_sql import Dimension
from cases.reports.service_levels import ServiceLevelsView
from cases.settings import Settings
from tests.support.builders import caller, intake
from tests.support.service_level_scenario import (
    EVALUATED_AT,
    FINAL,
    MAIN_STORY_ENDS,
    PERIOD,
    SCHEDULER,
    ServiceLevelScenario,
    hours,
    scenario_terms,
    utc,
)

D = Dimension
MINUTES = timedelta(minutes=1)


@dataclass
class Store:
    services: Services
    clock: ManualClock
    db: ProjectionDatabase

    def catch_up(self) -> None:
        ProjectionRunner(self.services.log, projection_named("service_levels"), self.db).catch_up()

    def report(
        self, as_of: datetime, *group_by: Dimension, period: tuple[datetime, datetime] = PERIOD
    ) -> ComplianceReport:
        request = ReportRequest(period[0], period[1], as_of, tuple(group_by))
        return ComplianceReportView(self.db).report(request)


@pytest.fixture
def store(empty_database_url: str) -> Iterator[Store]:
    url = empty_database_url
    migrate(parse_database_url(url))
    clock = ManualClock(utc(1, 1, 0))
    services = bootstrap(Settings(database_url=url, snapshot_interval=5), clock)
    db = ProjectionDatabase(parse_database_url(url))
    try:
        yield Store(services, clock, db)
    finally:
        db.close()
        services.close()


@pytest.fixture
def story(store: Store) -> ServiceLevelScenario:
    return ServiceLevelScenario(store.services.desk, store.clock)


def clock(
    count: int,
    median: timedelta | None,
    p90: timedelta | None,
    judged: int,
    within: int,
) -> ClockFigures:
    return ClockFigures(Durations(count, median, p90), TargetShare(judged, within))


NOTHING = clock(0, None, None, 0, 0)


# Hand-computed figures ------------------------------------------------------------


def test_each_case_keeps_its_hand_computed_times(store: Store, story: ServiceLevelScenario) -> None:
    """First response and resolution in business time, and whether within target:
    B's clocks start at the next opening, C's after two holidays and a weekend, D's
    do not count the wait on the customer, E's are late, F's breach is withdrawn."""
    story.run_until(FINAL)
    store.catch_up()
    view = ServiceLevelsView(store.db)
    expected = {
        "A": (hours(2), True, hours(9), True),
        "B": (30 * MINUTES, True, hours(2), True),
        "C": (hours(1), True, hours(5), True),
        "D": (30 * MINUTES, True, hours(3), True),
        "E": (hours(3), False, hours(10), False),
        "F": (hours(3.5), True, None, None),
        "G": (30 * MINUTES, True, hours(12), True),
    }
    found = {}
    for name, case_id in story.ids.items():
        row = view.case(case_id)
        assert row is not None
        found[name] = (
            timedelta(microseconds=row["fr_elapsed_us"]),
            row["fr_within"],
            None
            if row["res_elapsed_us"] is None
            else timedelta(microseconds=row["res_elapsed_us"]),
            row["res_within"],
        )
    assert found == expected
    # Every case of the story has its row (`found == expected` above).
    months = {name: view.case(case_id)["month"] for name, case_id in story.ids.items()}  # type: ignore[index]
    assert months == dict.fromkeys("ABDEFG", "2026-03") | {"C": "2026-04"}


def test_figures_by_severity(store: Store, story: ServiceLevelScenario) -> None:
    story.run_until(FINAL)
    store.catch_up()
    report = store.report(FINAL, D.SEVERITY)
    assert [g.key for g in report.groups] == [("critical",), ("minimal",), ("moderate",)]
    assert report.group("critical") == GroupFigures(
        key=("critical",),
        cases=2,
        first_response=clock(2, 30 * MINUTES, hours(3), 2, 1),
        resolution=clock(2, hours(2), hours(10), 2, 1),
        # B's gap was stopped by the resolution in time; E's breached, then stopped.
        next_update=clock(0, None, None, 1, 0),
        breaches=BreachCounts(first_response=1, next_update=1, resolution=1),
        escalations=EscalationFigures(),
        reopened=0,
    )
    assert report.group("moderate") == GroupFigures(
        key=("moderate",),
        cases=4,
        first_response=clock(4, 30 * MINUTES, hours(3.5), 4, 4),
        # A 9:00, D 3:00, G 12:00; F open, its breach (evaluated) counts as missed.
        resolution=clock(3, hours(9), hours(12), 4, 3),
        # D's first gap 1:30, G's 4:30; F's first and G's third are breached, open.
        next_update=clock(2, hours(1.5), hours(4.5), 4, 2),
        breaches=BreachCounts(next_update=2, resolution=2),
        escalations=EscalationFigures(
            escalations=1,
            escalated_cases=1,
            time_to_escalate=Durations(1, hours(2), hours(2)),
            vendor=clock(1, hours(9), hours(9), 1, 1),
        ),
        reopened=1,
    )
    moderate = report.group("moderate")
    assert moderate.escalation_rate == 0.25
    assert moderate.reopen_rate == pytest.approx(1 / 3)
    assert report.group("minimal") == GroupFigures(
        key=("minimal",),
        cases=1,
        first_response=clock(1, hours(1), hours(1), 1, 1),
        resolution=clock(1, hours(5), hours(5), 1, 1),
        next_update=NOTHING,
    )


def test_ungrouped_percentiles_are_nearest_rank(store: Store, story: ServiceLevelScenario) -> None:
    """First responses 0:30 0:30 0:30 1:00 2:00 3:00 3:30: the median is the 4th
    (ceil(0.5 * 7)), the p90 the 7th (ceil(0.9 * 7))."""
    story.run_until(FINAL)
    store.catch_up()
    [whole] = store.report(FINAL).groups
    assert whole.key == ()
    assert whole.cases == 7
    assert whole.first_response == clock(7, hours(1), hours(3.5), 7, 6)
    # 2:00 3:00 5:00 9:00 10:00 12:00: the 3rd and the 6th.
    assert whole.resolution == clock(6, hours(5), hours(12), 7, 5)
    assert whole.breaches.total == 7


def test_figures_by_month_customer_and_vehicle(store: Store, story: ServiceLevelScenario) -> None:
    story.run_until(FINAL)
    store.catch_up()
    by_month = store.report(FINAL, D.MONTH)
    assert [(g.key, g.cases) for g in by_month.groups] == [(("2026-03",), 6), (("2026-04",), 1)]
    by_customer = store.report(FINAL, D.CUSTOMER, D.SEVERITY)
    assert [(g.key, g.cases) for g in by_customer.groups] == [
        (("contoso", "moderate"), 3),
        (("fabrikam", "critical"), 2),
        (("northwind", "minimal"), 1),
        (("northwind", "moderate"), 1),
    ]
    by_vehicle = store.report(FINAL, D.VEHICLE)
    asfp = by_vehicle.group("advanced_support_for_partners")
    assert (asfp.cases, asfp.escalations.escalations, asfp.escalation_rate) == (1, 1, 1.0)
    assert asfp.resolution.times == Durations(1, hours(12), hours(12))
    assert asfp.escalations.vendor == clock(1, hours(9), hours(9), 1, 1)
    rest = by_vehicle.group("none")
    assert (rest.cases, rest.escalations.escalations, rest.escalation_rate) == (6, 0, 0.0)
    assert [g.key for g in by_vehicle.groups] == [("advanced_support_for_partners",), ("none",)]


def test_a_withdrawn_breach_counts_until_it_is_withdrawn(
    store: Store, story: ServiceLevelScenario
) -> None:
    """F's first response was breached by the evaluation at 14:00 (UTC) and the
    breach withdrawn at 15:00, when the call made at 12:30 was logged."""
    story.run_until(FINAL)
    store.catch_up()
    between = store.report(utc(3, 9, 14, 30), D.CUSTOMER).group("contoso")
    assert between.first_response == clock(2, 30 * MINUTES, hours(2), 3, 2)
    assert between.breaches == BreachCounts(first_response=1)
    after = store.report(utc(3, 9, 15, 30), D.CUSTOMER).group("contoso")
    assert after.first_response == clock(3, hours(2), hours(3.5), 3, 3)
    assert after.breaches == BreachCounts()


# As of a moment: stable ------------------------------------------------------------

VARIANTS: list[tuple[Dimension, ...]] = [
    (),
    (D.MONTH,),
    (D.SEVERITY,),
    (D.CUSTOMER,),
    (D.CATEGORY,),
    (D.VEHICLE,),
    (D.VEHICLE, D.CUSTOMER),
]


def test_a_report_as_of_a_moment_is_unchanged_by_later_events_and_a_rebuild(
    store: Store, story: ServiceLevelScenario
) -> None:
    story.run_until(MAIN_STORY_ENDS)
    store.catch_up()
    moments = (utc(3, 5, 12), MAIN_STORY_ENDS)
    before = {(v, m): store.report(m, *v) for v in VARIANTS for m in moments}

    story.run_until(FINAL)  # the evaluation's breaches, and C
    store.catch_up()
    assert {(v, m): store.report(m, *v) for v in VARIANTS for m in moments} == before
    later = store.report(FINAL, D.SEVERITY).group("moderate")
    assert (
        later.breaches.total
        > before[((D.SEVERITY,), MAIN_STORY_ENDS)].group("moderate").breaches.total
    )

    rebuild(store.services.log, projection_named("service_levels"), store.db)
    assert {(v, m): store.report(m, *v) for v in VARIANTS for m in moments} == before


def test_a_report_counts_only_what_was_recorded_by_its_moment(
    store: Store, story: ServiceLevelScenario
) -> None:
    """As of the evening of 2 March only A (answered) and B (received) exist."""
    story.run_until(FINAL)
    store.catch_up()
    [evening] = store.report(utc(3, 2, 19)).groups
    assert evening.cases == 2
    assert evening.first_response == clock(1, hours(2), hours(2), 1, 1)
    assert evening.resolution == NOTHING
    assert store.report(utc(3, 2, 7)).groups == (GroupFigures(key=()),)  # always one group


# A change of terms --------------------------------------------------------------


def test_new_terms_do_not_change_the_figures_of_cases_received_under_the_old(
    store: Store,
) -> None:
    """X is received under office hours (v1) and resolved after v2 (round the clock,
    shorter targets) is in force: its figures stay v1's; Y, received under v2, is
    judged by v2."""
    desk, who = store.services.desk, caller()
    v1 = scenario_terms()
    store.clock.set(utc(2, 1, 8))
    desk.publish_terms(who, v1, effective_from=utc(2, 1, 8))

    def at(moment: datetime) -> None:
        store.clock.set(moment)

    at(utc(3, 2, 8))
    x = desk.receive_case(
        who, cmd.TakeIn(received_at=utc(3, 2, 8), **intake(customer_id="contoso"))
    ).aggregate_id
    at(utc(3, 2, 8, 5))
    desk.handle(who, x, cmd.CheckServiceHealth(None))
    at(utc(3, 2, 12, 30))  # 13:30 in Stockholm: 3:30 of office hours
    desk.handle(who, x, cmd.RecordCommunication(Direction.OUTBOUND, Channel.PHONE, "On it"))
    at(utc(3, 2, 13))
    store.catch_up()
    old = store.report(utc(3, 2, 13), D.CUSTOMER)

    round_the_clock = ServiceHours(
        "Europe/Stockholm", tuple(ServiceSpan(day, time(0), time.max) for day in range(7))
    )
    targets = tuple(
        replace(t, first_response_minutes=60, next_update_minutes=120, resolution_minutes=120)
        for t in v1.targets
    )
    at(utc(3, 2, 14))
    desk.publish_terms(
        who,
        replace(v1, service_hours=round_the_clock, targets=targets),
        effective_from=utc(3, 2, 14),
    )
    at(utc(3, 3, 8))
    y = desk.receive_case(
        who, cmd.TakeIn(received_at=utc(3, 3, 8), **intake(customer_id="fabrikam"))
    ).aggregate_id
    at(utc(3, 3, 8, 5))
    desk.handle(who, y, cmd.CheckServiceHealth(None))
    at(utc(3, 3, 9))  # X: 9:00 of office hours (under v2, 25:00)
    desk.handle(who, x, cmd.Resolve(ResolutionCode.FIXED_BY_PARTNER, "Fixed."))
    at(utc(3, 3, 11, 30))
    desk.handle(who, y, cmd.RecordCommunication(Direction.OUTBOUND, Channel.PHONE, "On it"))
    at(utc(3, 3, 12))
    desk.handle(who, y, cmd.Resolve(ResolutionCode.FIXED_BY_PARTNER, "Fixed."))
    at(utc(3, 4, 0))
    store.catch_up()

    report = store.report(utc(3, 4, 0), D.CUSTOMER)
    x_figures, y_figures = report.group("contoso"), report.group("fabrikam")
    assert x_figures.first_response == clock(1, hours(3.5), hours(3.5), 1, 1)
    assert x_figures.resolution == clock(1, hours(9), hours(9), 1, 1)
    assert x_figures.breaches == BreachCounts()
    assert y_figures.first_response == clock(1, hours(3.5), hours(3.5), 1, 0)
    assert y_figures.resolution == clock(1, hours(4), hours(4), 1, 0)
    assert y_figures.breaches == BreachCounts(first_response=1, resolution=1)
    assert store.report(utc(3, 2, 13), D.CUSTOMER) == old


# The scheduled evaluation's candidates ----------------------------------------------


def test_cases_due_are_those_with_a_running_unbreached_clock_past_its_deadline(
    store: Store, story: ServiceLevelScenario
) -> None:
    view = ServiceLevelsView(store.db)
    far = utc(12, 31, 0)
    story.run_until(utc(3, 4, 9))  # D waits on the customer; A and B are resolved
    store.catch_up()
    assert view.cases_due(far) == []
    story.run_until(utc(3, 5, 8))  # E received; D still waits
    store.catch_up()
    assert view.cases_due(far) == [story.ids["E"]]
    assert view.cases_due(utc(3, 5, 8, 59)) == []  # E's first response is due 09:00 UTC

    story.run_until(MAIN_STORY_ENDS)
    store.catch_up()
    f, g = story.ids["F"], story.ids["G"]
    assert view.cases_due(utc(3, 11, 0)) == [f]  # F's first update gap, due 10 Mar 12:30
    assert view.cases_due(EVALUATED_AT) == sorted([f, g])
    first, second = sorted([f, g])
    assert view.cases_due(EVALUATED_AT, limit=1) == [first]
    assert view.cases_due(EVALUATED_AT, after=first) == [second]

    story.run_until(EVALUATED_AT)  # the evaluation records their breaches
    store.catch_up()
    assert view.cases_due(far) == []


def test_an_answer_outside_service_hours_takes_no_business_time(store: Store) -> None:
    """A billing question received and answered on a Saturday: 0:00, within target."""
    desk, who = store.services.desk, caller()
    store.clock.set(utc(2, 1, 8))
    desk.publish_terms(who, scenario_terms(), effective_from=utc(2, 1, 8))
    store.clock.set(utc(3, 7, 10))  # a Saturday
    case = desk.receive_case(
        who,
        cmd.TakeIn(
            received_at=utc(3, 7, 9), **intake(CaseCategory.BILLING, severity=Severity.MINIMAL)
        ),
    ).aggregate_id
    desk.handle(who, case, cmd.RecordCommunication(Direction.OUTBOUND, Channel.EMAIL, "Answered"))
    store.catch_up()
    [whole] = store.report(utc(3, 8, 0)).groups
    assert whole.first_response == clock(1, timedelta(0), timedelta(0), 1, 1)


def record_a_pause_logged_late(store: Store) -> None:
    """The story of the test below, up to its reply at 14:00."""
    desk, who = store.services.desk, caller()
    store.clock.set(utc(2, 1, 8))
    desk.publish_terms(who, scenario_terms(), effective_from=utc(2, 1, 8))
    store.clock.set(utc(3, 2, 8))
    case = desk.receive_case(
        who, cmd.TakeIn(received_at=utc(3, 2, 8), **intake(severity=Severity.CRITICAL))
    ).aggregate_id
    store.clock.set(utc(3, 2, 9, 30))
    desk.evaluate_service_clocks(SCHEDULER, case, utc(3, 2, 9, 30))
    store.clock.set(utc(3, 2, 9, 45))
    desk.handle(who.at(utc(3, 2, 8, 40)), case, cmd.WaitOnCustomer("Asked for logs"))
    store.clock.set(utc(3, 2, 12))
    desk.handle(
        who, case, cmd.RecordCommunication(Direction.INBOUND, Channel.EMAIL, "Logs attached")
    )
    store.clock.set(utc(3, 2, 13))
    desk.evaluate_service_clocks(SCHEDULER, case, utc(3, 2, 13))
    store.clock.set(utc(3, 2, 14))
    desk.handle(who, case, cmd.RecordCommunication(Direction.OUTBOUND, Channel.EMAIL, "Fixed"))


def test_a_pause_logged_late_withdraws_the_breach_it_disproves(store: Store) -> None:
    """ADR 33. Critical, received 08:00 UTC (09:00 in Stockholm): first response
    due 09:00. The check at 09:30 records the breach at 09:00; at 09:45 the agent
    logs that the case has waited on the customer since 08:40 (40 min of 1h): the
    breach is withdrawn. The customer answers at 12:00 (20 min remain, due 12:20),
    the check at 13:00 breaches the clock again at 12:20, and the reply at 14:00
    is late after 2h40. Each report as of a moment counts the breaches standing
    then, and a rebuild gives the same figures."""
    record_a_pause_logged_late(store)
    store.catch_up()

    def figures(as_of: datetime) -> tuple[ClockFigures, BreachCounts]:
        [whole] = store.report(as_of).groups
        return whole.first_response, whole.breaches

    moments = (utc(3, 2, 9, 40), utc(3, 2, 10), utc(3, 2, 14, 30))
    found = {m: figures(m) for m in moments}
    assert found == {
        utc(3, 2, 9, 40): (clock(0, None, None, 1, 0), BreachCounts(first_response=1)),
        utc(3, 2, 10): (NOTHING, BreachCounts()),
        utc(3, 2, 14, 30): (
            clock(1, hours(2 + 40 / 60), hours(2 + 40 / 60), 1, 0),
            BreachCounts(first_response=1),
        ),
    }
    rebuild(store.services.log, projection_named("service_levels"), store.db)
    assert {m: figures(m) for m in moments} == found


def test_reports_refuse_an_empty_period_and_repeated_dimensions() -> None:
    with pytest.raises(InvalidValueError):
        ReportRequest(utc(3, 2, 0), utc(3, 2, 0), utc(3, 3, 0))
    with pytest.raises(InvalidValueError):
        ReportRequest(utc(3, 1, 0), utc(3, 2, 0), utc(3, 3, 0), (D.MONTH, D.MONTH))
    with pytest.raises(InvalidValueError):
        ReportRequest(datetime(2026, 3, 1), utc(3, 2, 0), utc(3, 3, 0))  # noqa: DTZ001
