"""`cases advisories sync --dry-run | sync | status | requests` on a migrated SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cases.cli.main import app
from cases.db.schema import migrate
from cases.persistence.database_url import parse_database_url
from cases.settings import get_settings
from tests.support.builders import T0
from tests.support.vendor_server import VendorServer, issue


@pytest.fixture
def vendor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[VendorServer]:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    migrate(parse_database_url(url))
    with VendorServer(page_size=2) as server:
        monkeypatch.setenv("CASES_DATABASE_URL", url)
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        server.issues = [issue(f"EX{100 + n}", T0 + timedelta(minutes=n)) for n in range(3)]
        yield server
    get_settings.cache_clear()


def cases(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_dry_run_then_sync_then_status(vendor: VendorServer) -> None:
    code, out = cases("advisories", "sync", "--dry-run")
    assert code == 0, out
    assert "3 versions would record" in out
    assert "would record: EX101 imported" in out
    code, out = cases("advisories", "status")
    assert "no advisory has been imported" in out
    code, out = cases("advisories", "sync")
    assert code == 0, out
    assert "3 versions recorded" in out
    code, out = cases("advisories", "status")
    assert "3 versions imported" in out
    assert "advisory_sync: last attempt" in out
    assert "ok; 0 failures" in out


def test_a_vendor_that_is_down_exits_3_and_shows_in_status(vendor: VendorServer) -> None:
    vendor.refuse_from = 0
    code, out = cases("advisories", "sync")
    assert code == 3
    code, out = cases("advisories", "status")
    assert "advisory_sync: last attempt" in out
    assert "1 failures since the last success" in out
    code, out = cases("advisories", "requests")
    assert code == 3
