"""The event store's bounded waits (ADR 0034), a contract with eventsourcing's
PostgreSQL datastore: the API's options reach every pooled connection and the
write's own lock timeout; other processes keep the library's unbounded
statements. And what counts as a statement cancelled for waiting too long."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from cases.persistence.database_url import parse_database_url
from cases.persistence.store import (
    CasesApplicationRecorder,
    StoreOptions,
    open_event_log,
)
from cases.persistence.waits import timed_out
from cases.settings import Settings
from tests.support.postgres import throwaway_database
from tests.support.tcp_proxy import tcp_proxy

SLOW_CONNECT = 1.3  # seconds a new connection takes: longer than the API's pool timeout


@pytest.fixture
def database() -> Iterator[str]:
    with throwaway_database() as url:
        yield url


def _session_setting(recorder: CasesApplicationRecorder, name: str) -> str:
    with recorder.datastore.get_connection() as conn:
        row = conn.execute(f"SHOW {name}").fetchone()  # a fixed setting name
    assert row is not None
    return str(next(iter(row.values())))


@pytest.mark.postgres
def test_the_api_options_set_both_timeouts_on_pooled_connections_and_the_write(
    database: str,
) -> None:
    settings = Settings(database_url=database, api_lock_timeout=1.5, api_statement_timeout=7)
    log = open_event_log(settings, StoreOptions.for_api(settings))
    try:
        recorder = log.recorder
        assert isinstance(recorder, CasesApplicationRecorder)
        assert _session_setting(recorder, "lock_timeout") == "1500ms"
        assert _session_setting(recorder, "statement_timeout") == "7s"
        with recorder.datastore.get_connection() as conn:
            assert "lock_timeout = '1.5s'" in recorder._lock(conn)
    finally:
        log.close()


@pytest.mark.postgres
def test_other_processes_keep_unbounded_statements(database: str) -> None:
    log = open_event_log(Settings(database_url=database))
    try:
        recorder = log.recorder
        assert isinstance(recorder, CasesApplicationRecorder)
        assert _session_setting(recorder, "statement_timeout") == "0"
        with recorder.datastore.get_connection() as conn:
            assert "lock_timeout = '5s'" in recorder._lock(conn)
    finally:
        log.close()


@pytest.mark.postgres
def test_the_api_opens_the_store_while_new_connections_are_slower_than_its_pool_timeout(
    database: str,
) -> None:
    """Opening takes a pooled connection (the library registers its type adapters):
    that waits the connect timeout, and reads and writes after it the API's own."""
    url = parse_database_url(database)
    with tcp_proxy(url.host, url.port) as proxy:
        proxy.connect_delay = SLOW_CONNECT
        settings = Settings(database_url=proxy.url_to(database), api_store_timeout=1.0)
        log = open_event_log(settings, StoreOptions.for_api(settings))
        try:
            recorder = log.recorder
            assert isinstance(recorder, CasesApplicationRecorder)
            assert recorder.datastore.pool.timeout == 1.0
            assert log.head() == 0
        finally:
            log.close()


def _wrapped(error: Exception) -> OperationalError:
    """As eventsourcing wraps a driver's error (`raise ... from e`)."""
    wrapped = OperationalError(str(error))
    wrapped.__cause__ = error
    return wrapped


class TestTimedOut:
    def test_cancelled_and_lock_not_available_statements_timed_out(self) -> None:
        assert timed_out(psycopg.errors.QueryCanceled("canceling statement"))
        assert timed_out(_wrapped(psycopg.errors.LockNotAvailable("lock timeout")))

    def test_a_busy_sqlite_file_timed_out(self) -> None:
        assert timed_out(_wrapped(sqlite3.OperationalError("database is locked")))

    def test_a_lost_connection_did_not(self) -> None:
        assert not timed_out(_wrapped(psycopg.OperationalError("server closed the connection")))
        assert not timed_out(psycopg.InterfaceError("the connection is closed"))
        assert not timed_out(sqlite3.OperationalError("unable to open database file"))
