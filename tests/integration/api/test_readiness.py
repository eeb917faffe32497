"""`/ready` tells the truth about the read models (ADR 0034): 503 naming each
projection no runner keeps up to date, or that lags beyond the settings; 200
once runners run and have caught up; on SQLite and PostgreSQL. The audit log's
tree builder (`audit_log_tree`, ADR 0043) and the outbox's follower (`outbox`,
ADR 50) are held to the same rules."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from cases.api.app import create_app
from cases.application.caller import Caller
from cases.bootstrap import Services
from cases.clock import SystemClock
from cases.db.database import open_projection_db
from cases.domain.metadata import Actor, Role, Source
from cases.followers.catalog import PROJECTIONS
from cases.followers.in_process import InProcessProjections
from cases.followers.leadership import Leadership
from cases.followers.status import TREE
from cases.outbox.derivation import OUTBOX
from cases.settings import Settings
from tests.e2e._api import PROBLEM_JSON
from tests.support.app_services import services_of
from tests.support.builders import terms

SETUP = Actor("ready-setup", Role.SYSTEM)
FOLLOWERS = sorted([*PROJECTIONS, TREE, OUTBOX])  # what /ready names
DEADLINE = 30.0  # seconds for runners to start and catch up: a correctness bound


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        log_level="WARNING",
        ready_max_lag_events=0,
        ready_max_lag_seconds=60,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The API without runners of its own (as `cases serve` on PostgreSQL)."""
    with TestClient(create_app(settings, SystemClock(), run_projections=False)) as test_client:
        yield test_client


def record_something(services: Services) -> None:
    now = services.clock.now()
    services.desk.publish_terms(Caller.new(SETUP, Source.CLI).at(now), terms(), now)


@contextmanager
def runners(settings: Settings, services: Services) -> Iterator[None]:
    """Every projection, the tree builder and the outbox's follower run, as `cases
    projections run` runs them."""
    with InProcessProjections.from_settings(
        settings, log=services.log, poll_interval=0.05, audit_log=True, outbox=True
    ):
        yield


@contextmanager
def hung_runners(settings: Settings) -> Iterator[None]:
    """Runners that took every projection's leadership and then apply nothing."""
    with ExitStack() as stack:
        for name in FOLLOWERS:
            db = open_projection_db(settings)
            stack.callback(db.close)
            leadership = Leadership(db, name)
            assert leadership.try_acquire()
            stack.callback(leadership.release)
        yield


def not_ready(response: httpx.Response, rule: str) -> dict[str, Any]:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.headers["retry-after"] == "5"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{rule}", body
    return body


def ready_within(client: TestClient, deadline: float = DEADLINE) -> httpx.Response:
    """Ask until 200 (runners start and catch up meanwhile), at most `deadline` s."""
    until = time.monotonic() + deadline
    while True:
        response: httpx.Response = client.get("/ready")
        if response.status_code == 200 or time.monotonic() > until:
            return response
        time.sleep(0.05)


def test_ready_is_503_naming_every_projection_while_no_runner_runs(
    client: TestClient,
) -> None:
    """Caught up (nothing recorded) but stopped: not ready, each projection named."""
    body = not_ready(client.get("/ready"), "projections-stopped")
    assert sorted(p["name"] for p in body["projections"]) == FOLLOWERS
    assert all(p["running"] is False for p in body["projections"])
    for name in FOLLOWERS:
        assert f"{name}: no runner is running" in body["detail"]


def test_ready_once_runners_run_and_catch_up_and_503_again_when_they_stop(
    client: TestClient, settings: Settings
) -> None:
    services = services_of(client)
    record_something(services)
    with runners(settings, services):
        response = ready_within(client)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "ready"
        assert sorted(p["name"] for p in body["projections"]) == FOLLOWERS
        assert all(p["running"] and p["lag_events"] == 0 for p in body["projections"])
    stopped = not_ready(client.get("/ready"), "projections-stopped")
    assert sorted(p["name"] for p in stopped["projections"]) == FOLLOWERS


def test_ready_is_503_naming_the_tree_builder_when_only_it_is_not_running(
    client: TestClient, settings: Settings
) -> None:
    services = services_of(client)
    record_something(services)
    with InProcessProjections.from_settings(
        settings, log=services.log, poll_interval=0.05, outbox=True
    ):
        response = ready_within(client, DEADLINE)  # the projections catch up; the tree cannot
        body = not_ready(response, "projections-stopped")
    assert [p["name"] for p in body["projections"]] == [TREE]
    assert body["projections"][0]["lag_events"] > 0
    assert f"{TREE}: no runner is running" in body["detail"]


def test_ready_is_503_naming_projections_that_lag_behind_a_runner_that_applies_nothing(
    client: TestClient, settings: Settings
) -> None:
    """Leadership held but nothing applied: running, yet behind the bound (0 events)."""
    services = services_of(client)
    with hung_runners(settings):
        assert client.get("/ready").status_code == 200  # nothing recorded: nothing to apply
        record_something(services)
        body = not_ready(client.get("/ready"), "projections-behind")
    lagging = {p["name"]: p for p in body["projections"]}
    assert "case_timeline" in lagging  # it applies support offering events
    assert TREE in lagging  # every event is the tree's
    assert all(p["running"] and p["lag_events"] > 0 for p in lagging.values())
    assert "case_timeline: 2 events and" in body["detail"]
