"""The scheduled service-level check, on SQLite and PostgreSQL: the projection
names the cases with a deadline behind them; each breach is recorded once, at its
deadline, by the run or by the next command on the case."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from cases.application.caller import Caller
from cases.application.clock_run import run_clock_evaluation
from cases.bootstrap import Services, bootstrap
from cases.cli.main import app
from cases.clock import ManualClock
from cases.db.database import ProjectionDatabase
from cases.db.schema import migrate
from cases.domain import case_commands as cmd
from cases.domain.case_values import Direction
from cases.domain.errors import EvaluationInFutureError
from cases.domain.metadata import Actor, Role, Source
from cases.domain.service_clocks import ClockKind
from cases.domain.support_case import SupportCase
from cases.domain.support_terms import Channel, Severity
from cases.followers.catalog import projection_named
from cases.followers.runner import ProjectionRunner
from cases.persistence.database_url import parse_database_url
from cases.reports.service_levels import ServiceLevelsView
from cases.settings import Settings, get_settings
from tests.support.builders import caller, intake, terms
from tests.support.postgres import throwaway_database

STOCKHOLM = ZoneInfo("Europe/Stockholm")
MONDAY_9 = datetime(2026, 3, 2, 9, 0, tzinfo=STOCKHOLM)
SCHEDULER = Caller.new(Actor("clock-evaluation", Role.SYSTEM), Source.SCHEDULER)


def at(hour: int, minute: int = 0) -> datetime:
    return MONDAY_9.replace(hour=hour, minute=minute)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cases.db'}"
        migrate(parse_database_url(url))
        yield url
    else:
        with throwaway_database() as url:
            migrate(parse_database_url(url))
            yield url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY_9 - timedelta(days=1))


@pytest.fixture
def services(url: str, clock: ManualClock) -> Iterator[Services]:
    services = bootstrap(Settings(database_url=url), clock)
    try:
        yield services
    finally:
        services.close()


@pytest.fixture
def view(url: str, services: Services) -> Iterator[ServiceLevelsView]:
    db = ProjectionDatabase(parse_database_url(url))
    try:
        yield ServiceLevelsView(db)
    finally:
        db.close()


def catch_up(services: Services, view: ServiceLevelsView) -> None:
    ProjectionRunner(services.log, projection_named("service_levels"), view.db).catch_up()


def three_cases(services: Services, clock: ManualClock) -> dict[str, UUID]:
    """Received Monday 09:00: `silent` (critical, unanswered: due 10:00),
    `answered` (critical, answered 09:20: next update due 11:20), `waiting`
    (critical, answered and waiting on the customer: clocks paused)."""
    desk, agent = services.desk, caller()
    desk.publish_terms(agent, terms(), effective_from=clock.now())
    clock.set(at(9))
    ids = {
        name: desk.receive_case(
            agent, cmd.TakeIn(received_at=at(9), **intake(severity=Severity.CRITICAL))
        ).aggregate_id
        for name in ("silent", "answered", "waiting")
    }
    clock.set(at(9, 20))
    for name in ("answered", "waiting"):
        desk.handle(
            agent, ids[name], cmd.RecordCommunication(Direction.OUTBOUND, Channel.PHONE, "On it")
        )
    desk.handle(agent, ids["waiting"], cmd.WaitOnCustomer("Needs the message headers"))
    return ids


class TestClockRun:
    def test_records_each_due_breach_once_at_its_deadline(
        self, services: Services, clock: ManualClock, view: ServiceLevelsView
    ) -> None:
        ids = three_cases(services, clock)
        clock.set(at(10, 31))
        catch_up(services, view)
        assert view.cases_due(at(10, 30)) == [ids["silent"]]
        summary = run_clock_evaluation(
            services.desk, SCHEDULER, at(10, 30), view.cases_due(at(10, 30))
        )
        assert [(b.case_id, b.clock, b.breached_at) for b in summary.breaches] == [
            (ids["silent"], ClockKind.FIRST_RESPONSE, at(10))
        ]
        case = services.desk.case(ids["silent"])
        assert case.clock(ClockKind.FIRST_RESPONSE).breached_at == at(10)
        last = services.audit.history(SupportCase, ids["silent"])[-1]
        assert last.meta.source is Source.SCHEDULER
        catch_up(services, view)
        assert view.cases_due(at(10, 30)) == []

    def test_a_second_run_at_the_same_moment_records_nothing(
        self, services: Services, clock: ManualClock
    ) -> None:
        ids = three_cases(services, clock)
        clock.set(at(12))
        everything = list(ids.values())
        first = run_clock_evaluation(services.desk, SCHEDULER, at(11, 30), everything)
        head = services.log.recorder.max_notification_id()
        again = run_clock_evaluation(services.desk, SCHEDULER, at(11, 30), everything)
        assert {(b.case_id, b.clock) for b in first.breaches} == {
            (ids["silent"], ClockKind.FIRST_RESPONSE),
            (ids["answered"], ClockKind.NEXT_UPDATE),
        }
        assert again.breaches == ()
        assert again.evaluated == 3
        assert services.log.recorder.max_notification_id() == head

    def test_the_next_command_records_a_breach_the_run_has_not(
        self, services: Services, clock: ManualClock
    ) -> None:
        """Nobody ran the check; the reply at 10:15 records the 10:00 breach first."""
        ids = three_cases(services, clock)
        clock.set(at(10, 15))
        services.desk.handle(
            caller(),
            ids["silent"],
            cmd.RecordCommunication(Direction.OUTBOUND, Channel.EMAIL, "Sorry for the wait"),
        )
        history = services.audit.history(SupportCase, ids["silent"])
        names = [e.event_type.rsplit(".", 1)[-1] for e in history][-4:]
        assert names == [
            "ServiceClockBreached",
            "CommunicationRecorded",
            "ServiceClockFulfilled",
            "ServiceClockStarted",
        ]
        first_response = services.desk.case(ids["silent"]).clock(ClockKind.FIRST_RESPONSE)
        assert (first_response.breached_at, first_response.elapsed) == (
            at(10),
            timedelta(hours=1, minutes=15),
        )

    def test_refuses_a_moment_still_to_come(self, services: Services, clock: ManualClock) -> None:
        ids = three_cases(services, clock)
        with pytest.raises(EvaluationInFutureError):
            run_clock_evaluation(services.desk, SCHEDULER, at(11), list(ids.values()))


def test_cases_clocks_evaluate_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cases clocks evaluate --as-of` catches the projection up, records the
    breach and says so; run again, it records nothing."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    migrate(parse_database_url(url))
    clock = ManualClock(MONDAY_9 - timedelta(days=1))
    services = bootstrap(Settings(database_url=url), clock)
    try:
        ids = three_cases(services, clock)
    finally:
        services.close()
    monkeypatch.setenv("CASES_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        as_of = at(10, 30).astimezone(UTC).isoformat()
        first = runner.invoke(app, ["clocks", "evaluate", "--as-of", as_of])
        second = runner.invoke(app, ["clocks", "evaluate", "--as-of", as_of])
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 0, first.output
    assert f"{ids['silent']}  first response clock 1 breached at 2026-03-02T10:00:00+01:00" in (
        first.output
    )
    assert "1 cases evaluated, 1 breaches recorded, 0 failed." in first.output
    assert second.exit_code == 0, second.output
    assert "0 cases evaluated, 0 breaches recorded" in second.output
