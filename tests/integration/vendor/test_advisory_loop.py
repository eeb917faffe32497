"""The scheduled advisory sync beside the projection runners, in the serving
process on SQLite (and on PostgreSQL when asked): it imports, and a vendor that
goes down shows in /ready's details without making the service unready."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cases.api.app import create_app
from cases.application.advisory_sync import AdvisorySync
from cases.clock import SystemClock
from cases.settings import Settings
from tests.support.app_services import services_of
from tests.support.builders import T0
from tests.support.vendor_server import VendorServer, issue

DEADLINE = 30.0  # seconds: a correctness bound, not a speed target


@pytest.fixture
def vendor() -> Iterator[VendorServer]:
    with VendorServer(page_size=2) as server:
        server.issues = [issue(f"EX{100 + n}", T0) for n in range(3)]
        yield server


@pytest.fixture
def client(database_url: str, tmp_path: Path, vendor: VendorServer) -> Iterator[TestClient]:
    if database_url.startswith("memory"):
        pytest.skip("the loop notes its attempts in the read-model store")
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        advisory_sync_seconds=0.1,
        log_level="WARNING",
        **vendor.settings(),
    )
    if database_url.startswith("postgres"):
        from cases.db.schema import migrate  # noqa: PLC0415 - PostgreSQL only
        from cases.persistence.database_url import parse_database_url  # noqa: PLC0415

        migrate(parse_database_url(database_url))
    app = create_app(settings, SystemClock(), run_projections=True)
    with TestClient(app) as test_client:
        yield test_client


def eventually(found: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("not within the deadline")


def vendor_syncs(client: TestClient) -> list[dict[str, Any]]:
    """The syncs /ready details: a 503 (read models still catching up on a busy
    machine) names them too."""
    response = client.get("/ready")
    if response.status_code not in (200, 503):
        return []
    syncs: list[dict[str, Any]] = response.json().get("vendor_syncs", [])
    return syncs


def test_the_loop_imports_and_a_vendor_down_shows_in_ready(
    client: TestClient, vendor: VendorServer
) -> None:
    ok = eventually(lambda: len(vendor_syncs(client)) == 2 and vendor_syncs(client))
    assert [(s["name"], s["last_error"], s["failures"]) for s in ok] == [
        ("advisory_sync", None, 0),
        ("vendor_requests", None, 0),
    ]
    feed = AdvisorySync.feed_of(services_of(client).runner)  # noted after the whole sync
    assert feed is not None
    assert feed.imported == 3
    vendor.refuse_from = 0
    (failed,) = eventually(
        lambda: [
            s for s in vendor_syncs(client) if s["name"] == "advisory_sync" and s["failures"] >= 1
        ]
    )
    assert "503" in failed["last_error"] or "attempts" in failed["last_error"]
    assert failed["last_success_at"] is not None
    # the vendor still down, the service is (or soon is) ready all the same
    assert eventually(lambda: client.get("/ready").status_code == 200)
