"""`cases report compliance` on a real SQLite file holding the service-level
scenario: the hand-computed figures as CSV, JSON and a table, a note when the
read model is behind, and one-line refusals."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cases.bootstrap import Services, bootstrap
from cases.cli.main import app
from cases.clock import ManualClock
from cases.db.database import ProjectionDatabase
from cases.db.schema import migrate
from cases.domain import case_commands as cmd
from cases.followers.catalog import projection_named
from cases.followers.runner import ProjectionRunner
from cases.persistence.database_url import parse_database_url
from cases.settings import get_settings
from tests.support.builders import caller, intake
from tests.support.service_level_scenario import FINAL, ServiceLevelScenario, utc

PERIOD = ["--from", "2026-03-01", "--to", "2026-05-01"]
AS_OF = ["--as-of", FINAL.isoformat()]


@pytest.fixture
def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    """The scenario on a SQLite file, its read model caught up."""
    monkeypatch.setenv("CASES_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CASES_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    url = parse_database_url(settings.effective_database_url)
    assert url.path is not None
    url.path.parent.mkdir(parents=True, exist_ok=True)
    migrate(url)
    clock = ManualClock(utc(1, 1, 0))
    services = bootstrap(settings, clock)
    try:
        ServiceLevelScenario(services.desk, clock).run_until(FINAL)
        db = ProjectionDatabase(url)
        try:
            ProjectionRunner(services.log, projection_named("service_levels"), db).catch_up()
        finally:
            db.close()
        yield services
    finally:
        services.close()
        get_settings.cache_clear()


def report(*args: str) -> Result:
    return CliRunner().invoke(app, ["report", "compliance", *args])


def test_csv_by_severity(services: Services) -> None:
    result = report(*PERIOD, *AS_OF, "--by", "severity", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    rows = {r["severity"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert list(rows) == ["critical", "minimal", "moderate"]
    critical = rows["critical"]
    assert (critical["cases"], critical["breaches_total"]) == ("2", "3")
    assert critical["first_response_median_seconds"] == "1800.000000"
    assert critical["first_response_p90_seconds"] == "10800.000000"
    assert critical["first_response_share_within_target"] == "0.500000"
    assert rows["moderate"]["reopen_rate"] == "0.333333"


def test_json_by_customer_and_vehicle(services: Services) -> None:
    result = report(*PERIOD, *AS_OF, "--by", "customer", "--by", "vehicle", "--format", "json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["group_by"] == ["customer", "vehicle"]
    keys = [(g["group"]["customer"], g["group"]["vehicle"], g["cases"]) for g in body["groups"]]
    assert keys == [
        ("contoso", "none", 3),
        ("fabrikam", "none", 2),
        ("northwind", "advanced_support_for_partners", 1),
        ("northwind", "none", 1),
    ]
    escalated = body["groups"][2]["escalations"]
    assert escalated["time_to_escalate"]["median_seconds"] == 7200.0
    assert escalated["vendor"]["share_within_target"] == 1.0


def test_a_table_for_people(services: Services) -> None:
    result = report(*PERIOD, *AS_OF, "--by", "severity")
    assert result.exit_code == 0, result.output
    text = result.stdout
    for expected in ("critical", "moderate", "minimal", "0:30 / 3:00", "50.0 %", "2:00 / 2:00"):
        assert expected in text, expected


def test_a_moment_before_the_story_finds_no_case(services: Services) -> None:
    result = report(*PERIOD, "--as-of", "2026-03-01T00:00:00+00:00", "--format", "json")
    assert result.exit_code == 0, result.output
    [whole] = json.loads(result.stdout)["groups"]
    assert whole["cases"] == 0


def test_a_note_when_the_read_model_is_behind(services: Services) -> None:
    services.desk.receive_case(caller(), cmd.TakeIn(received_at=utc(4, 7, 12), **intake()))
    result = report(*PERIOD, *AS_OF, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "note: the service_levels read model is behind the log" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--from", "2026-05-01", "--to", "2026-03-01"], 1, "the period must end after it starts"),
        ([*PERIOD, "--as-of", "2999-01-01T00:00:00+00:00"], 2, "still to come"),
        (["--from", "yesterday", "--to", "2026-03-01"], 2, "neither a day"),
        ([*PERIOD, "--as-of", "2026-04-01T12:00:00"], 2, "UTC offset"),
        ([*PERIOD, "--by", "colour"], 2, "colour"),
    ],
)
def test_refusals(services: Services, args: list[str], code: int, says: str) -> None:
    result = report(*args)
    assert result.exit_code == code, result.output
    assert says in result.output


def test_the_in_memory_store_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASES_DATABASE_URL", "memory://")
    get_settings.cache_clear()
    try:
        result = report(*PERIOD)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "reports need a SQLite or PostgreSQL store" in result.stderr


def test_a_store_that_cannot_be_read_is_refused_in_one_line_as_the_projections_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that is not a database: `report` exits 2 with the one line
    `projections status` gives (one `store_or_exit` for both)."""
    garbage = tmp_path / "cases.db"
    garbage.write_bytes(b"not a database, " * 512)
    monkeypatch.setenv("CASES_DATABASE_URL", f"sqlite:///{garbage}")
    get_settings.cache_clear()
    try:
        refused = report(*PERIOD)
        status = CliRunner().invoke(app, ["projections", "status"])
    finally:
        get_settings.cache_clear()
    assert refused.exit_code == status.exit_code == 2
    [line] = refused.stderr.strip().splitlines()
    assert line == status.stderr.strip()
    assert line.startswith("error: CASES_DATABASE_URL: cannot open ")
    assert line.endswith(": file is not a database")
