"""The in-memory store keeps no tree (it has no SQL tables, as for projections):
the audit commands refuse it in one line, exit 2."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cases.cli.main import app
from cases.settings import get_settings


@pytest.fixture
def memory_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CASES_DATABASE_URL", "memory://")
    monkeypatch.setenv("CASES_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("memory_store")
@pytest.mark.parametrize("command", [["audit", "verify"], ["audit", "checkpoint"]])
def test_the_memory_store_is_refused_in_one_line(command: list[str]) -> None:
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2
    assert "need a SQLite or PostgreSQL store, not in-memory store" in result.output
