"""Moments given to the `cases` command: outside the years 1900 to 2999 (ADR 0035)
they are one usage error naming the option, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cases.cli.main import app
from cases.settings import get_settings

CASE = "6f0f9a8e-1111-4111-8111-111111111111"
PERIOD = ["--from", "2026-01-01", "--to", "2027-01-01"]

# Each command that takes a moment, with the option that takes it.
COMMANDS = {
    "collection run": (["collection", "run"], "--as-of"),
    "clocks evaluate": (["clocks", "evaluate"], "--as-of"),
    "report as of": (["report", "compliance", *PERIOD], "--as-of"),
    "report from": (["report", "compliance", "--to", "2027-01-01"], "--from"),
    "report to": (["report", "compliance", "--from", "2026-01-01"], "--to"),
    "replay case": (["replay", "case", CASE], "--as-of"),
    "replay account": (["replay", "account", CASE], "--as-of"),
    "history case": (["history", "case", CASE], "--as-of"),
}
OUT_OF_RANGE = [
    "0001-01-01T00:00:00+01:00",  # year 0 in UTC: the conversion overflowed
    "9999-12-31T23:59:59-12:00",  # year 10000 in UTC
    "1899-12-31T23:59:59+00:00",
    "3000-01-01T00:00:00+00:00",
]


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CASES_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CASES_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.mark.parametrize("moment", OUT_OF_RANGE)
@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_moment_out_of_range_is_one_usage_error(
    cli_env: Path, command: tuple[list[str], str], moment: str
) -> None:
    """The command exits 2 with the option and the span named, and no traceback."""
    args, option = command
    result = CliRunner().invoke(app, [*args, option, moment])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    text = " ".join(result.output.replace("│", " ").split())  # unboxed
    assert f"Invalid value for {option}" in text, result.output
    assert "a moment lies from 1900-01-01T00:00:00Z" in text, result.output
    assert "Traceback" not in result.output


def test_the_bounds_themselves_are_taken(cli_env: Path) -> None:
    """The first moment of 1900 and the last of 2999 are inside the span."""
    runner = CliRunner()
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    early = runner.invoke(
        app, ["report", "compliance", "--from", "1900-01-01", "--to", "2999-12-31"]
    )
    assert early.exit_code == 0, early.output
    late = runner.invoke(app, ["clocks", "evaluate", "--as-of", "1900-01-01T00:00:00-12:00"])
    assert late.exit_code == 0, late.output
    assert "0 cases evaluated" in late.output
