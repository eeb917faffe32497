"""`cases history case --as-of` on the demo store, as the README shows it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cases.cli.main import app
from cases.settings import get_settings


@pytest.fixture
def demo_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The demo recorded into a fresh SQLite file; the id of its fabrikam-teams case."""
    monkeypatch.setenv("CASES_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    get_settings.cache_clear()
    demo = CliRunner().invoke(app, ["demo"])
    assert demo.exit_code == 0, demo.output
    found = re.search(r"fabrikam-teams\s+([0-9a-f-]{36})", demo.output)
    assert found is not None, demo.output
    yield found.group(1)
    get_settings.cache_clear()


def test_a_moment_before_the_case_is_refused_naming_its_first_moment(demo_case: str) -> None:
    """The demo's story moves with the calendar, so a fixed moment may precede the
    case: the refusal says from when the case can be shown, and that moment works."""
    early = CliRunner().invoke(
        app, ["history", "case", demo_case, "--as-of", "2000-01-01T00:00:00+00:00"]
    )
    assert early.exit_code == 1
    said = re.search(r"it was first recorded at (\S+)", early.output)
    assert said is not None, early.output
    first = datetime.fromisoformat(said.group(1))

    shown = CliRunner().invoke(app, ["history", "case", demo_case, "--as-of", first.isoformat()])
    assert shown.exit_code == 0, shown.output
    assert re.search(r"^\s+v1\s", shown.output, re.MULTILINE)
    assert "status new" in shown.output
