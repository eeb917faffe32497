"""`cases advisories sync` SIGKILLed mid-page and restarted: nothing twice, nothing missed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from cases.application.advisory_sync import AdvisorySync
from cases.bootstrap import bootstrap
from cases.domain.advisory import Advisory
from cases.settings import Settings
from tests.support.builders import T0
from tests.support.children import spawn, stop
from tests.support.postgres import throwaway_database
from tests.support.vendor_server import VendorServer, issue

SRC = Path(__file__).resolve().parents[3] / "src"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.db'}"
    else:
        with throwaway_database() as url:
            yield url


def cli_sync(url: str, vendor: VendorServer, fault: str | None = None) -> int:
    """Run `cases advisories sync` in a process of its own; its exit status."""
    env = {**os.environ, **vendor.environment(), "CASES_DATABASE_URL": url}
    env["PYTHONPATH"] = str(SRC)
    env.pop("CASES_FAULT_POINT", None)
    if fault is not None:
        env["CASES_FAULT_POINT"] = fault
    command = [sys.executable, "-c", "from cases.cli.main import main; main()"]
    process = spawn([*command, "advisories", "sync"], env=env, stdout=subprocess.DEVNULL)
    try:
        return process.wait(60)
    finally:
        stop(process)


def imported_versions(url: str) -> dict[str, int]:
    services = bootstrap(Settings(database_url=url))
    try:
        counts: dict[str, int] = {}
        for notification in services.log.recorder.select_notifications(start=1, limit=10_000):
            event = services.log.mapper.to_domain_event(notification)
            if isinstance(event, Advisory.Imported | Advisory.Revised):
                counts[event.facts.vendor_id] = counts.get(event.facts.vendor_id, 0) + 1
        return counts
    finally:
        services.close()


def test_killed_mid_page_and_restarted_records_each_version_once(store_url: str) -> None:
    with VendorServer(page_size=3) as vendor:
        vendor.issues = [issue(f"EX{100 + n}", T0 + timedelta(minutes=n)) for n in range(7)]
        assert cli_sync(store_url, vendor, "advisory-page-decided") == -signal.SIGKILL
        assert imported_versions(store_url) == {}
        assert cli_sync(store_url, vendor, "after-commit") == -signal.SIGKILL
        assert len(imported_versions(store_url)) == 3
        vendor.issues[1] = issue("EX101", T0 + timedelta(hours=1), status="restoringService")
        assert cli_sync(store_url, vendor) == 0
        counts = imported_versions(store_url)
        assert counts == {f"EX{100 + n}": 2 if n == 1 else 1 for n in range(7)}
        assert cli_sync(store_url, vendor) == 0
        assert imported_versions(store_url) == counts
    services = bootstrap(Settings(database_url=store_url))
    try:
        feed = AdvisorySync.feed_of(services.runner)
        assert feed is not None
        assert feed.imported == 8
    finally:
        services.close()
