"""Queries and reports read from a real PostgreSQL streaming replica (ADR 0064):
the replica answers them, a query with `min_position` the replica has not replayed
is answered by the primary past the bound (and by the replica within it), reads
fail over to the primary while the replica is away, and `/ready` shows it.

The replica is a `pg_basebackup -R` copy of the test server, one per module
(`tests.support.replica`); it copies the whole cluster, so these are slow."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cases.api.app import create_app
from cases.api.state import ApiState
from cases.clock import ManualClock, wait_until
from cases.db.schema import migrate
from cases.domain.metadata import Role
from cases.persistence.database_url import parse_database_url
from cases.settings import Settings
from tests.integration.api.conftest import T0
from tests.integration.api.test_accounts_api import Api
from tests.integration.api.test_customers_api import customer_body
from tests.support.postgres import throwaway_database
from tests.support.replica import ReplicaServer, replication_unavailable, streaming_replica
from tests.support.tcp_proxy import tcp_proxy

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CATCH_UP = 30.0  # seconds for the replica to replay what the primary wrote: a correctness bound
ASYNC_COMMITS = 20  # commits each checked on the replica the moment it has caught up


@pytest.fixture(scope="module")
def replica() -> Iterator[ReplicaServer]:
    reason = replication_unavailable()
    if reason is not None:
        pytest.skip(f"no streaming replica: {reason}")
    with streaming_replica() as server:
        yield server


@pytest.fixture
def primary_url(replica: ReplicaServer) -> Iterator[str]:
    """A migrated database on the primary, replayed by the replica."""
    with throwaway_database() as url:
        migrate(parse_database_url(url))
        caught_up(replica)
        yield url


def caught_up(replica: ReplicaServer) -> None:
    assert replica.caught_up(CATCH_UP), f"the replica did not catch up: {replica.log_tail()}"


def test_caught_up_covers_commits_the_primary_has_not_yet_written(
    replica: ReplicaServer, primary_url: str
) -> None:
    """The projection runners commit with synchronous_commit=off (ADR 0028): such a
    commit returns while its WAL is still in the primary's buffers, past the
    position it has written. Once `caught_up` returns, the replica has the rows of
    every commit made before it was asked, however recent."""
    options = "-c synchronous_commit=off"
    with (
        psycopg.connect(primary_url, autocommit=True, options=options) as primary,
        psycopg.connect(replica.url_of(primary_url), autocommit=True) as copy,
    ):
        primary.execute("CREATE TABLE written (n integer)")
        for n in range(1, ASYNC_COMMITS + 1):
            primary.execute("INSERT INTO written VALUES (%s)", (n,))
            caught_up(replica)
            assert copy.execute("SELECT max(n) FROM written").fetchone() == (n,)


@contextmanager
def api_on(primary_url: str, read_url: str, tmp_path: Path, wait: float = 0.3) -> Iterator[Api]:
    settings = Settings(
        database_url=primary_url,
        read_database_url=read_url,
        read_replica_wait=wait,
        data_dir=tmp_path,
        log_level="WARNING",
    )
    with TestClient(create_app(settings, ManualClock(T0), run_projections=True)) as client:
        api = Api(client, ManualClock(T0), {})
        api.principal("sales", Role.SALES_AGENT)
        api.principal("auditor", Role.AUDITOR)
        yield api


def state_of(api: Api) -> ApiState:
    app = api.client.app
    assert isinstance(app, FastAPI)
    state: ApiState = app.state.api
    return state


def register(api: Api, customer_id: str) -> int:
    """Register a customer; the log position reached."""
    position: int = api.post("/customers", customer_body(customer_id), who="sales")["position"]
    return position


def registered(api: Api, replica: ReplicaServer, customer_id: str) -> None:
    """Register a customer, and return once the replica's read model shows it."""
    position = register(api, customer_id)
    assert customer(api, customer_id, min_position=position) == 200
    caught_up(replica)


def customer(api: Api, customer_id: str, **params: Any) -> int:
    return api.call("GET", f"/customers/{customer_id}", "auditor", params=params).status_code


def test_queries_and_reports_are_read_from_the_replica(
    replica: ReplicaServer, primary_url: str, tmp_path: Path
) -> None:
    """While the replica replays nothing, a query without min_position does not
    see a new customer: the replica answered it; the report runs there too."""
    with api_on(primary_url, replica.url_of(primary_url), tmp_path) as api:
        position = register(api, "contoso")
        assert customer(api, "contoso", min_position=position) == 200
        with replica.replay_paused():
            position = register(api, "fabrikam")
            assert customer(api, "fabrikam") == 404
            report = api.call(
                "GET",
                "/reports/compliance",
                "auditor",
                params={"from": "2026-03-01", "to": "2026-04-01"},
            )
            assert report.status_code == 200, report.text
        # The primary's read model has the customer once this answers; the replica
        # then, once it has replayed the primary.
        assert customer(api, "fabrikam", min_position=position) == 200
        caught_up(replica)
        assert customer(api, "fabrikam") == 200


def test_a_query_the_replica_has_not_replayed_is_answered_by_the_primary(
    replica: ReplicaServer, primary_url: str, tmp_path: Path
) -> None:
    """Past the bound, the request turns to the primary, which has the customer;
    the turned connection is not kept in the replica's pool."""
    with api_on(primary_url, replica.url_of(primary_url), tmp_path) as api:
        registered(api, replica, "contoso")
        assert customer(api, "contoso") == 200
        with replica.replay_paused():
            position = register(api, "fabrikam")
            assert customer(api, "fabrikam", min_position=position) == 200
            assert customer(api, "fabrikam") == 404  # still the stale replica
        replicas = state_of(api).replica
        assert replicas is not None
        assert replicas.unreachable is None


def test_a_query_waits_for_the_replica_within_the_bound(
    replica: ReplicaServer, primary_url: str, tmp_path: Path
) -> None:
    """Replay resumes while the query waits: the replica answers, its connection
    kept for the next request."""
    with api_on(primary_url, replica.url_of(primary_url), tmp_path, wait=5.0) as api:
        registered(api, replica, "contoso")
        assert customer(api, "contoso") == 200
        with replica.admin() as admin:
            admin.execute("SELECT pg_wal_replay_pause()")
            position = register(api, "fabrikam")
            resume = threading.Timer(0.5, admin.execute, ("SELECT pg_wal_replay_resume()",))
            resume.start()
            try:
                assert customer(api, "fabrikam", min_position=position) == 200
            finally:
                resume.join()
        replicas = state_of(api).replica
        assert replicas is not None
        kept = replicas.pool.take()
        assert kept is not None, "the replica's connection was not kept"
        replicas.pool.give_back(kept)


def test_reads_fail_over_to_the_primary_while_the_replica_is_away(
    replica: ReplicaServer, primary_url: str, tmp_path: Path
) -> None:
    """The request that finds the replica gone answers 503 with Retry-After (as a
    primary restart does, ADR 0019); the following ones read from the primary, and
    /ready says the replica is unreachable without making the service unready."""
    with (
        tcp_proxy("127.0.0.1", replica.port) as proxy,
        api_on(primary_url, replica.url_of(primary_url, proxy.port), tmp_path) as api,
    ):
        registered(api, replica, "contoso")
        assert customer(api, "contoso") == 200  # a replica connection now idle
        assert ready(api)["replica"]["reachable"] is True
        proxy.go_down()
        position = register(api, "fabrikam")
        first = api.call("GET", "/customers/fabrikam", "auditor")
        assert first.status_code == 503, first.text
        assert "Retry-After" in first.headers
        assert customer(api, "fabrikam", min_position=position) == 200
        shown = ready(api)["replica"]
        assert shown["reachable"] is False
        assert shown["error"]


def ready(api: Api, replica_caught_up: bool = False) -> dict[str, Any]:
    """/ready's answer once the runners have caught up (200), and, if asked, the
    replica's read models too."""
    answers: list[Any] = []

    def is_ready() -> bool:
        response = api.client.get("/ready")
        answers.append(response.json())
        shown = answers[-1].get("replica") or {}
        return response.status_code == 200 and (
            not replica_caught_up or shown.get("lag_positions") == 0
        )

    assert wait_until(is_ready, CATCH_UP), answers[-1]
    found: dict[str, Any] = answers[-1]
    return found


def test_ready_shows_the_replica_caught_up(
    replica: ReplicaServer, primary_url: str, tmp_path: Path
) -> None:
    with api_on(primary_url, replica.url_of(primary_url), tmp_path) as api:
        registered(api, replica, "contoso")
        shown = ready(api, replica_caught_up=True)["replica"]
        assert shown["reachable"] is True
        assert shown["replaying"] is True
        assert shown["lag_positions"] == 0
        assert shown["lag_bytes"] is not None
