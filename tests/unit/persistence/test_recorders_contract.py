"""What `cases.persistence.recorders` relies on in eventsourcing (ADR 0037).

Without a database: presence, callability and signatures, and the behaviour of
the embedded recorders. The PostgreSQL recorders' instance attributes (their
statements, the datastore's pool) need a server:
`tests/integration/test_recorders_contract.py`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import OperationalError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
)

from cases.persistence.recorders import (
    SQLITE_POOL_ARGUMENTS,
    CasesAggregateRecorder,
    CasesApplicationRecorder,
    CasesMemoryApplicationRecorder,
    CasesMemoryFactory,
    CasesSQLiteApplicationRecorder,
    CasesSQLiteConnectionPool,
    CasesSQLiteFactory,
)
from tests.support.library_contract import broken, relied_on, relied_on_callable, shape

MODULE = "recorders"


def test_the_postgres_reads_are_wrapped_by_the_library_retry_that_is_unwrapped() -> None:
    """`inspect.unwrap` strips the library's @retry (10 attempts) so only ours
    apply: it must still be a functools.wraps decorator over these methods."""
    for name, expected in (
        ("select_notifications", "(self, start, limit, stop, topics, *, inclusive_of_start)"),
        ("max_notification_id", "(self)"),
    ):
        method = relied_on_callable(PostgresApplicationRecorder, name, MODULE, expected)
        assert hasattr(method, "__wrapped__"), broken(
            f"PostgresApplicationRecorder.{name}", MODULE, "no longer wrapped by @retry"
        )


def test_the_postgres_recorders_have_the_methods_overridden() -> None:
    expected = "(self, originator_id, *, gt, lte, desc, limit)"
    relied_on_callable(PostgresAggregateRecorder, "select_events", MODULE, expected)
    relied_on_callable(
        PostgresAggregateRecorder, "insert_events", MODULE, "(self, stored_events, **kwargs)"
    )
    # Ours are called as the library's are.
    for ours in (CasesAggregateRecorder, CasesApplicationRecorder):
        assert shape(ours.select_events) == expected


def test_the_postgres_factory_and_datastore_have_what_the_factory_sets() -> None:
    relied_on_callable(PostgresFactory, "__init__", MODULE, "(self, env)")
    relied_on_callable(PostgresFactory, "aggregate_recorder", MODULE, "(self, purpose)")
    relied_on_callable(PostgresFactory, "application_recorder", MODULE, "(self)")
    for name in ("aggregate_recorder_class", "application_recorder_class"):
        assert isinstance(relied_on(PostgresFactory, name, MODULE), type)
    relied_on_callable(PostgresDatastore, "get_connection", MODULE, "(self)")
    # A datastore opens no connection until it is used.
    datastore = PostgresDatastore("db", "127.0.0.1", 5432, "user", "", lock_timeout=5)
    try:
        assert relied_on(datastore, "lock_timeout", MODULE) == 5
        assert relied_on(datastore, "schema", MODULE) == "public"
        pool = relied_on(datastore, "pool", MODULE)
        assert isinstance(relied_on(pool, "timeout", MODULE), float)
        assert isinstance(relied_on(pool, "kwargs", MODULE), dict), broken(
            "PostgresDatastore.pool.kwargs", MODULE, "no longer a dict"
        )
        assert callable(relied_on(pool, "check", MODULE))
    finally:
        datastore.close()


class _Probe(SQLiteApplicationRecorder):
    """Records what the library hands `_insert_events`."""

    seen: list[tuple[type, dict[str, Any]]]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self.seen.append((type(c), kwargs))
        return super()._insert_events(c, stored_events, **kwargs)


def test_sqlite_insert_events_hands_its_keywords_to_insert_events_in_the_transaction() -> None:
    """The SQLite recorder writes a step by overriding the private
    `_insert_events`: it must be called with `insert_events`'s keyword
    arguments and a cursor of the write's transaction, and return the ids."""
    expected = "(self, c, stored_events, **kwargs)"
    relied_on_callable(SQLiteApplicationRecorder, "_insert_events", MODULE, expected)
    relied_on_callable(
        SQLiteApplicationRecorder, "insert_events", MODULE, "(self, stored_events, **kwargs)"
    )
    relied_on_callable(SQLiteDatastore, "transaction", MODULE, "(self, *, commit)")
    assert shape(CasesSQLiteApplicationRecorder._insert_events) == (
        "(self, c, stored_events, *, idempotency_step, **kwargs)"
    )
    recorder = _Probe(SQLiteDatastore(":memory:"))
    recorder.seen = []
    recorder.create_table()
    event = StoredEvent(uuid4(), 1, "cases.domain.support_case:SupportCase.Received", b"{}")
    ids = recorder.insert_events([event], idempotency_step="marker")
    seen = [(cursor, keywords.get("idempotency_step")) for cursor, keywords in recorder.seen]
    assert seen == [(SQLiteCursor, "marker")], broken(
        "SQLiteApplicationRecorder.insert_events", MODULE, f"called _insert_events so: {seen}"
    )
    assert list(ids or []) == [1], broken(
        "SQLiteApplicationRecorder._insert_events", MODULE, f"returned {ids}, not the ids"
    )


def test_the_sqlite_factory_makes_the_recorder_class_it_names() -> None:
    assert relied_on(SQLiteFactory, "application_recorder_class", MODULE)
    factory = CasesSQLiteFactory({"SQLITE_DBNAME": ":memory:"})
    try:
        assert isinstance(factory.application_recorder(), CasesSQLiteApplicationRecorder), broken(
            "SQLiteFactory.application_recorder_class", MODULE, "no longer used"
        )
    finally:
        factory.close()


def test_the_memory_recorder_is_made_without_arguments_and_takes_keywords() -> None:
    relied_on_callable(POPOApplicationRecorder, "__init__", MODULE, "(self)")
    relied_on_callable(
        POPOApplicationRecorder, "insert_events", MODULE, "(self, stored_events, **kwargs)"
    )
    relied_on_callable(POPOFactory, "application_recorder", MODULE, "(self)")
    recorder = CasesMemoryFactory({}).application_recorder()
    assert isinstance(recorder, CasesMemoryApplicationRecorder)
    event = StoredEvent(uuid4(), 1, "cases.domain.support_case:SupportCase.Received", b"{}")
    assert list(recorder.insert_events([event]) or []) == [1], broken(
        "POPOApplicationRecorder.insert_events", MODULE, "no longer returns the ids"
    )


class _SnapshotProbe(SQLiteAggregateRecorder):
    """Records what the library hands the snapshot recorder's `_insert_events`."""

    seen: list[tuple[Any, dict[str, Any]]]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self.seen.append((c.sqlite_cursor, kwargs))
        return super()._insert_events(c, stored_events, **kwargs)


def test_sqlite_snapshot_recorder_hands_its_keywords_and_the_sqlite_cursor_on() -> None:
    """A snapshot's new subject key is written by `_insert_events` of the snapshot
    recorder (ADR 0067 amended): it must get `insert_events`'s keywords and a
    cursor whose `sqlite_cursor` is the transaction's sqlite3 cursor."""
    relied_on_callable(
        SQLiteAggregateRecorder, "_insert_events", MODULE, "(self, c, stored_events, **kwargs)"
    )
    recorder = _SnapshotProbe(SQLiteDatastore(":memory:"), "stored_snapshots")
    recorder.seen = []
    recorder.create_table()
    snapshot = StoredEvent(uuid4(), 5, "cases.domain.support_case:SupportCase.Snapshot", b"{}")
    recorder.insert_events([snapshot], subject_rows="marker")
    seen = [(type(cursor), keywords.get("subject_rows")) for cursor, keywords in recorder.seen]
    assert seen == [(sqlite3.Cursor, "marker")], broken(
        "SQLiteAggregateRecorder.insert_events", MODULE, f"called _insert_events so: {seen}"
    )


def test_the_sqlite_factory_pools_connections_as_the_library_does_keeping_statements(
    tmp_path: Path,
) -> None:
    """`CasesSQLiteFactory` replaces its datastore's pool before any connection is
    opened, with the library's arguments (ADR 0059 amendment of 2026-12-05): the
    library's `SQLiteConnectionPool` must still take them and its connections be
    `SQLiteConnection`s around a sqlite3 connection in autocommit, in WAL mode."""
    relied_on_callable(SQLiteConnectionPool, "_create_connection", MODULE, "(self)")
    relied_on_callable(SQLiteConnectionPool, "_get_connection", MODULE, "(self, timeout)")
    relied_on_callable(SQLiteConnectionPool, "put_connection", MODULE, "(self, conn)")
    relied_on_callable(SQLiteConnectionPool, "_time_remaining", MODULE, "(timeout, started)")
    relied_on_callable(
        SQLiteConnectionPool, "get_connection", MODULE, "(self, timeout, *, is_writer)"
    )
    relied_on_callable(SQLiteConnection, "__init__", MODULE, "(self, sqlite_conn, max_age)")
    factory = CasesSQLiteFactory({"SQLITE_DBNAME": str(tmp_path / "c.db")})
    try:
        pool = factory.datastore.pool
        assert isinstance(pool, CasesSQLiteConnectionPool)
        for name in ("_writer_lock", "_num_writers", "_mutually_exclusive_read_write", "_closed"):
            relied_on(pool, name, MODULE)  # the checkout's bookkeeping, shared with the library's
        for name in SQLITE_POOL_ARGUMENTS:  # made with them, kept under their names
            assert name in shape(SQLiteConnectionPool.__init__), broken(
                "SQLiteConnectionPool.__init__", MODULE, f"no argument {name}"
            )
            relied_on(pool, name, MODULE)
        with factory.datastore.get_connection(commit=False) as conn:
            assert isinstance(conn, SQLiteConnection)
            sqlite_conn = conn.cursor().sqlite_cursor.connection
            assert sqlite_conn.isolation_level is None
            assert sqlite_conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        factory.close()


def test_sqlite_commands_statements_are_compiled_once_not_at_every_use(tmp_path: Path) -> None:
    """A working copy's command reads the newer events, then writes: with the
    library's cache of one statement each was compiled again every time. SQLite
    asks a connection's authorizer about every column and table a statement reads
    or writes while compiling it, never while running it (sqlite3's `commit()`
    compiles its COMMIT each time, outside the cache: not counted)."""
    factory = CasesSQLiteFactory({"SQLITE_DBNAME": str(tmp_path / "c.db")})
    asked: list[int] = []

    def authorize(action: int, *_: object) -> int:
        if action in (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_READ):
            asked.append(action)
        return sqlite3.SQLITE_OK

    try:
        recorder = factory.application_recorder()
        assert isinstance(recorder, CasesSQLiteApplicationRecorder)
        recorder.create_table()
        case_id = uuid4()
        topic = "cases.domain.support_case:SupportCase.Received"

        def command(version: int) -> None:
            recorder.select_events(case_id, gt=version - 1)
            recorder.insert_events([StoredEvent(case_id, version, topic, b"{}")])

        with factory.datastore.get_connection(commit=False) as conn:
            conn.cursor().sqlite_cursor.connection.set_authorizer(authorize)
        command(1)  # compiles the read and the write (again: a new authorizer)
        assert sqlite3.SQLITE_INSERT in asked
        assert sqlite3.SQLITE_READ in asked
        asked.clear()
        for version in range(2, 12):
            command(version)
        assert asked == []
        assert [e.originator_version for e in recorder.select_events(case_id)] == list(range(1, 12))
    finally:
        factory.close()


def test_the_sqlite_read_of_events_raises_the_librarys_errors(tmp_path: Path) -> None:
    """The read runs outside the library's transaction, which translated sqlite3's
    errors: it must raise the library's as before (the API maps them)."""
    factory = CasesSQLiteFactory({"SQLITE_DBNAME": str(tmp_path / "c.db")})
    try:
        recorder = factory.application_recorder()
        assert isinstance(recorder, CasesSQLiteApplicationRecorder)
        with factory.datastore.transaction(commit=True) as c:
            c.execute(f"DROP TABLE {recorder.events_table_name}")
        with pytest.raises(OperationalError, match="no such table"):
            recorder.select_events(uuid4())
    finally:
        factory.close()
