"""The `cases` command line on a real SQLite file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cases.cli.main import app
from cases.settings import get_settings


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CASES_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CASES_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_demo_records_cases_and_prints_a_readable_history(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert (cli_env / "cases.db").exists()
    assert "Recorded 4 support cases" in result.output
    assert "vehicle-not-held: the partner does not hold premier support" in result.output
    assert "Escalation 1 to the vendor through advanced support for partners" in result.output
    assert "Reopened: Calls drop again after 60 minutes" in result.output
    assert "Recorded 4 billing accounts" in result.output
    assert "fabrikam: suspended sub-bp-40" in result.output
    assert "Access reinstated: Microsoft 365 Business Premium (sub-bp-40)" in result.output
    assert "Exchange Online (Plan 1)" not in result.output.split("Access suspended")[-1]


def test_the_demo_can_run_again_on_the_same_store(cli_env: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["demo"]).exit_code == 0
    second = runner.invoke(app, ["demo"])
    assert second.exit_code == 0, second.output


def history_versions(output: str) -> dict[int, str]:
    """`cases history case` output as {version: the summary line under it}."""
    lines = output.splitlines()
    return {
        int(match.group(1)): lines[index + 1].strip()
        for index, line in enumerate(lines)
        if (match := re.match(r"\s+v(\d+)\s", line))
    }


def test_history_shows_a_case_at_a_version(cli_env: Path) -> None:
    runner = CliRunner()
    demo = runner.invoke(app, ["demo"])
    found = re.search(r"fabrikam-teams\s+([0-9a-f-]{36})", demo.output)
    assert found is not None, demo.output
    case_id = found.group(1)
    everything = runner.invoke(app, ["history", "case", case_id])
    assert everything.exit_code == 0, everything.output
    [escalated] = [
        version
        for version, summary in history_versions(everything.output).items()
        if summary.startswith("Escalation 1 to the vendor")
    ]
    result = runner.invoke(app, ["history", "case", case_id, "--version", str(escalated)])
    assert result.exit_code == 0, result.output
    assert "status escalated" in result.output
    assert list(history_versions(result.output)) == list(range(1, escalated + 1))


def test_an_unknown_case_is_a_clear_refusal(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["history", "case", "00000000-0000-0000-0000-000000000000"])
    assert result.exit_code == 1
    assert "refused (not-found): no support case has the id" in result.output


def test_a_bad_database_url_is_one_line_naming_the_setting(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASES_DATABASE_URL", "mysql://localhost/cases")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        (
            "error: CASES_DATABASE_URL: unsupported scheme 'mysql' in 'mysql://localhost/cases'; "
            "use sqlite:///PATH or postgresql://USER@HOST:PORT/DBNAME"
        )
    ]
