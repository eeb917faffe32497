"""What `cases.persistence.recorders` relies on in eventsourcing's PostgreSQL
recorders once they are made (ADR 0037): their statements, their datastore's
connections and pool. The checks without a server are in
`tests/unit/persistence/test_recorders_contract.py`."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg.sql import Composable, Composed

from cases.persistence.event_log import EventLog
from cases.persistence.recorders import CasesAggregateRecorder, CasesApplicationRecorder
from cases.persistence.store import StoreOptions, open_event_log
from cases.settings import Settings
from tests.support.library_contract import broken, relied_on
from tests.support.postgres import throwaway_database

MODULE = "recorders"


@pytest.fixture
def log() -> Iterator[EventLog]:
    with throwaway_database() as url:
        settings = Settings(database_url=url, api_lock_timeout=0.5, api_statement_timeout=7)
        opened = open_event_log(settings, StoreOptions.for_api(settings))
        try:
            yield opened
        finally:
            opened.close()


def _rendered(statement: object, conn: psycopg.Connection[object]) -> str:
    assert isinstance(statement, Composable)
    return statement.as_string(conn)


@pytest.mark.postgres
def test_the_recorders_statements_are_the_ones_extended_here(log: EventLog) -> None:
    """The version bounds are appended to `select_events_statement`, and the
    write sends `lock_table_statements` (with the datastore's `lock_timeout`,
    which the factory sets before the recorders are made) before its inserts."""
    assert log.snapshots is not None
    recorders = {"events": log.recorder, "snapshots": log.snapshots.recorder}
    assert isinstance(recorders["events"], CasesApplicationRecorder)
    assert isinstance(recorders["snapshots"], CasesAggregateRecorder)
    for purpose, recorder in recorders.items():
        table = relied_on(recorder, "events_table_name", MODULE)
        assert table == f"cases_{purpose}", broken("events_table_name", MODULE, table)
        select = relied_on(recorder, "select_events_statement", MODULE)
        assert isinstance(select, Composed)
        datastore = relied_on(recorder, "datastore", MODULE)
        with datastore.get_connection() as conn:
            found = _rendered(select, conn)
            assert found == f'SELECT * FROM "public"."{table}" WHERE originator_id = %s', broken(
                "PostgresAggregateRecorder.select_events_statement", MODULE, found
            )
    lock = relied_on(log.recorder, "lock_table_statements", MODULE)
    with relied_on(log.recorder, "datastore", MODULE).get_connection() as conn:
        found_lock = [_rendered(s, conn) for s in lock]
    assert found_lock == [
        "SET LOCAL lock_timeout = '0.5s'",
        'LOCK TABLE "public"."cases_events" IN EXCLUSIVE MODE',
    ], broken("PostgresApplicationRecorder.lock_table_statements", MODULE, str(found_lock))


@pytest.mark.postgres
def test_the_datastore_lends_autocommit_connections_with_dict_rows(log: EventLog) -> None:
    """A write is one query string run as one implicit transaction (ADR 0026):
    only on an autocommit connection; rows are read by column name."""
    datastore = relied_on(log.recorder, "datastore", MODULE)
    with datastore.get_connection() as conn:
        assert conn.autocommit, broken("PostgresDatastore.get_connection", MODULE, "not autocommit")
        row = conn.execute("SELECT 1 AS one").fetchone()
    assert row == {"one": 1}, broken("PostgresDatastore.get_connection", MODULE, f"rows {row!r}")


@pytest.mark.postgres
def test_the_pool_carries_what_the_factory_set(log: EventLog) -> None:
    pool = relied_on(log.recorder, "datastore", MODULE).pool
    settings = Settings()
    assert pool.timeout == settings.api_store_timeout, broken(
        "PostgresDatastore.pool.timeout", MODULE, f"{pool.timeout}"
    )
    assert "lock_timeout=500" in pool.kwargs.get("options", ""), broken(
        "PostgresDatastore.pool.kwargs", MODULE, f"{pool.kwargs.get('options')!r}"
    )
