"""The SQLite pool's checkouts without the library's queue and reader count
(`CasesSQLiteConnectionPool`, ADR 0059 amendment of 2026-12-05)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import ConnectionUnavailableError

from cases.persistence.recorders import CasesSQLiteConnectionPool


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[CasesSQLiteConnectionPool]:
    made = CasesSQLiteConnectionPool(db_name=str(tmp_path / "c.db"), pool_timeout=5.0)
    yield made
    made.close()


def test_one_writer_at_a_time_and_a_writer_waits_its_timeout(
    pool: CasesSQLiteConnectionPool,
) -> None:
    writer = pool.get_connection(is_writer=True)
    with pytest.raises(ConnectionUnavailableError, match="writer"):
        pool.get_connection(timeout=0.05, is_writer=True)
    pool.put_connection(writer)
    again = pool.get_connection(timeout=0.05, is_writer=True)  # free again
    assert again is writer  # given back to the pool, taken again
    pool.put_connection(again)
    assert pool.num_in_use == 0


def test_a_reader_is_not_queued_behind_a_writer_waiting_for_the_writer_lock(
    pool: CasesSQLiteConnectionPool,
) -> None:
    """The library queued every checkout behind one semaphore, which a writer
    waiting for the writer lock held: readers of a WAL file then waited too."""
    holder = pool.get_connection(is_writer=True)
    waiting = threading.Event()
    got: list[object] = []

    def second_writer() -> None:
        waiting.set()
        conn = pool.get_connection(timeout=5.0, is_writer=True)
        got.append(conn)
        pool.put_connection(conn)

    thread = threading.Thread(target=second_writer)
    thread.start()
    try:
        waiting.wait(5)
        thread.join(0.1)  # the second writer is now waiting for the writer lock
        reader = pool.get_connection(timeout=0.5, is_writer=False)
        assert reader is not holder
        pool.put_connection(reader)
    finally:
        pool.put_connection(holder)
        thread.join(5)
    assert len(got) == 1  # the waiting writer got its turn once the first gave back


def test_connections_in_use_are_bounded_and_a_checkout_waits_for_one(
    tmp_path: Path,
) -> None:
    pool = CasesSQLiteConnectionPool(
        db_name=str(tmp_path / "c.db"), pool_size=1, max_overflow=0, pool_timeout=5.0
    )
    try:
        first = pool.get_connection(is_writer=False)
        with pytest.raises(ConnectionUnavailableError):
            pool.get_connection(timeout=0.05, is_writer=False)
        with pytest.raises(ConnectionUnavailableError):
            pool.get_connection(timeout=0.05, is_writer=True)
        pool.put_connection(first)
        # The writer that timed out gave the writer lock back.
        writer = pool.get_connection(timeout=0.05, is_writer=True)
        pool.put_connection(writer)
    finally:
        pool.close()


def test_an_in_memory_database_keeps_the_librarys_interlocking() -> None:
    pool = CasesSQLiteConnectionPool(db_name="file:m?mode=memory&cache=shared", pool_timeout=5.0)
    try:
        reader = pool.get_connection(is_writer=False)
        with pytest.raises(ConnectionUnavailableError):  # readers and the writer exclude
            pool.get_connection(timeout=0.05, is_writer=True)
        pool.put_connection(reader)
    finally:
        pool.close()
