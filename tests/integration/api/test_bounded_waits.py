"""Bounded waits (ADR 0034): while another connection holds a lock on the events
table, a request answers 503 `store-busy` with `Retry-After` within the lock
timeout, records nothing, and the API answers again once the lock is released;
on PostgreSQL and SQLite, through FastAPI's TestClient."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from cases.api.app import create_app
from cases.application.caller import Caller
from cases.clock import SystemClock
from cases.db.schema import migrate
from cases.domain.metadata import Actor, Role, Source
from cases.domain.support_case import SupportCase
from cases.persistence.database_url import parse_database_url
from cases.settings import Settings
from tests.e2e._api import PROBLEM_JSON, intake
from tests.support import children
from tests.support.app_services import services_of
from tests.support.builders import terms
from tests.support.postgres import throwaway_database
from tests.support.tcp_proxy import tcp_proxy

LOCK_TIMEOUT = 0.5  # seconds: the setting under test
MARGIN = 2.0  # seconds a request may take beyond the lock timeout (a correctness bound)
SETUP = Actor("waits-setup", Role.SYSTEM)


class Api:
    """The app on one store, a helpdesk agent's token and one open case."""

    def __init__(self, client: TestClient, token: str, case_id: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.case_id = case_id

    def note(self, text: str) -> httpx.Response:
        response: httpx.Response = self.client.post(
            f"/cases/{self.case_id}/notes", json={"text": text}, headers=self.headers
        )
        return response

    def state(self) -> httpx.Response:
        response: httpx.Response = self.client.get(
            f"/cases/{self.case_id}/state", headers=self.headers
        )
        return response

    def notes_recorded(self) -> list[str]:
        log = services_of(self.client).log
        events = log.recorder.select_events(UUID(self.case_id))
        decoded = [log.mapper.to_domain_event(stored) for stored in events]
        return [e.text for e in decoded if isinstance(e, SupportCase.NoteAdded)]


@contextmanager
def serving(database_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        log_level="WARNING",
        api_lock_timeout=LOCK_TIMEOUT,
        api_statement_timeout=5.0,
    )
    with TestClient(create_app(settings, SystemClock(), run_projections=True)) as client:
        services = services_of(client)
        yesterday = services.clock.now() - timedelta(days=1)
        setup = Caller.new(SETUP, Source.CLI)
        services.desk.publish_terms(setup.at(yesterday), terms(), yesterday)
        token = services.principals.create(setup, name="Agent", role=Role.HELPDESK_AGENT).token
        opened = client.post(
            "/cases", json=intake("contoso"), headers={"Authorization": f"Bearer {token}"}
        )
        assert opened.status_code == 201, opened.text
        yield Api(client, token, opened.json()["id"])


def timed(send: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


def assert_busy(response: httpx.Response, elapsed: float, bound: float) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["type"] == "/problems/store-busy", body
    assert "nothing was recorded" in body["detail"]
    assert elapsed < bound + MARGIN, f"answered after {elapsed:.1f}s, bound {bound}s"


@contextmanager
def postgres_lock(database_url: str, mode: str) -> Iterator[None]:
    """Another session holds `mode` on the events table until the block ends."""
    with psycopg.connect(database_url) as holder:
        holder.execute(f"LOCK TABLE cases_events IN {mode} MODE")  # in its transaction
        try:
            yield
        finally:
            holder.rollback()


HOLD_SQLITE_LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
"""


@contextmanager
def sqlite_write_lock(database_url: str) -> Iterator[None]:
    """Another process holds the SQLite file's write lock until the block ends."""
    path = str(parse_database_url(database_url).path)
    holder = children.spawn(
        [sys.executable, "-c", HOLD_SQLITE_LOCK, path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)
        children.forget(holder)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with throwaway_database() as url:
        migrate(parse_database_url(url))
        yield url


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["ACCESS EXCLUSIVE", "EXCLUSIVE"])
def test_a_lock_on_the_events_table_answers_503_in_time_then_the_api_recovers(
    postgres_url: str, tmp_path: Path, mode: str
) -> None:
    """ACCESS EXCLUSIVE blocks the command's load and the read; EXCLUSIVE (what
    writers take) lets the load through and blocks the write itself: either way the
    statement is cancelled after the lock timeout, nothing is recorded, and the
    same requests succeed once the lock is gone."""
    with serving(postgres_url, tmp_path) as api:
        with postgres_lock(postgres_url, mode):
            answer, elapsed = timed(lambda: api.note("while locked"))
            assert_busy(answer, elapsed, LOCK_TIMEOUT)
            if mode == "ACCESS EXCLUSIVE":
                read, elapsed = timed(api.state)
                assert_busy(read, elapsed, LOCK_TIMEOUT)
        assert "while locked" not in api.notes_recorded()
        after = api.note("after the lock")
        assert after.status_code == 200, after.text
        assert api.state().status_code == 200
        assert api.notes_recorded().count("after the lock") == 1


@pytest.mark.postgres
def test_the_api_starts_and_serves_while_new_connections_take_longer_than_a_request_waits(
    postgres_url: str, tmp_path: Path
) -> None:
    """A loaded machine: each new connection takes longer than a request's pool
    timeout (1 s). Start-up waits for its connections as long as connecting may
    take; the pool it then holds serves commands within the request's budget."""
    url = parse_database_url(postgres_url)
    with tcp_proxy(url.host, url.port) as proxy:
        proxy.connect_delay = 1.3
        with serving(proxy.url_to(postgres_url), tmp_path) as api:
            noted = api.note("through slow connections")
            assert noted.status_code == 200, noted.text
            assert api.notes_recorded() == ["through slow connections"]


def test_a_write_lock_on_the_sqlite_file_answers_503_in_time_then_the_api_recovers(
    tmp_path: Path,
) -> None:
    """Another process holding the file's write lock: a command waits at most the
    busy timeout (the lock timeout rounded up to whole seconds), records nothing;
    reads go on (WAL); the command succeeds once the lock is released."""
    database_url = f"sqlite:///{tmp_path / 'events.db'}"
    with serving(database_url, tmp_path) as api:
        with sqlite_write_lock(database_url):
            answer, elapsed = timed(lambda: api.note("while locked"))
            assert_busy(answer, elapsed, 1.0)
            assert api.state().status_code == 200
        assert "while locked" not in api.notes_recorded()
        after = api.note("after the lock")
        assert after.status_code == 200, after.text
        assert api.notes_recorded().count("after the lock") == 1
