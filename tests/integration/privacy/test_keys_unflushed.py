"""A new subject key and its digests never wait for a flush of their own: on
PostgreSQL they commit on the keys' connection without waiting for the WAL's
flush (the events' commit flushes them), each in one round trip; on SQLite they
are written in the events' transaction. An erasure's writes, and a rebuild's
digests, still wait for their flush (ADR 0067, amended). What the keys'
connection sends is read from libpq's trace (PostgreSQL) and SQLite's trace
callback."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.domain import case_commands as cmd
from cases.domain.metadata import Actor, Role
from cases.persistence.subject_keys import SqlSubjectKeys
from tests.support.builders import caller, intake

ADMIN = caller(Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN))
EMAIL = str(intake()["contact"].email)


def sql_keys(services: Services) -> SqlSubjectKeys:
    keys = services.log.subject_keys
    if not isinstance(keys, SqlSubjectKeys):
        pytest.skip("the in-memory store has no keys' connection")
    return keys


@contextmanager
def traced(keys: SqlSubjectKeys, path: Path) -> Iterator[list[str]]:
    """The writes the keys' own connection sends inside (on PostgreSQL one per round
    trip, from libpq's trace; on SQLite each statement, from its trace callback)."""
    writes: list[str] = []
    with keys._conn() as conn:
        pass
    if isinstance(conn, sqlite3.Connection):
        conn.set_trace_callback(writes.append)
        try:
            yield writes
        finally:
            conn.set_trace_callback(None)
        writes[:] = [w for w in writes if not w.lstrip().upper().startswith("SELECT")]
        return
    assert isinstance(conn, psycopg.Connection)
    with path.open("w") as trace:
        conn.pgconn.trace(trace.fileno())
        conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            yield writes
        finally:
            conn.pgconn.untrace()
    for line in path.read_text().splitlines():
        parts = line.split("\t")
        if parts[0] == "F" and parts[2] in ("Query", "Parse"):
            text = parts[3].strip()
            if parts[2] == "Parse":  # after the statement's name
                text = text.split(" ", 1)[1]
            if not text.startswith('"SELECT'):
                writes.append(text)


def test_a_new_key_and_its_digests_do_not_wait_for_a_flush_of_their_own_an_erasure_does(
    sealed: Services, clock: ManualClock, tmp_path: Path
) -> None:
    keys = sql_keys(sealed)
    with traced(keys, tmp_path / "intake.trace") as intake_writes:
        receipt = sealed.desk.receive_case(
            caller(), cmd.TakeIn(received_at=clock.now(), **intake())
        )
    case_id = receipt.aggregate_id

    if keys.written_with_records:  # SQLite: in the events' transaction, not here
        assert intake_writes == []
    else:  # PostgreSQL: the key, then both digests, neither waiting for its flush
        assert len(intake_writes) == 2, intake_writes
        unflushed = '"SET LOCAL synchronous_commit TO OFF; INSERT'
        assert all(w.startswith(unflushed) for w in intake_writes)
        assert "subject_keys" in intake_writes[0]
        assert "subject_index" in intake_writes[1]
    # Both committed: the digests find the subject, its key opens the case.
    assert [row.subject for row in keys.find("email", EMAIL)] == [case_id]
    assert sealed.desk.case(case_id).contact.email == intake()["contact"].email

    with traced(keys, tmp_path / "reindex.trace") as reindex_writes:
        keys.index(case_id, "email", "karin@example.org")  # as `privacy reindex` does
    assert len(reindex_writes) == 1
    assert "synchronous_commit" not in reindex_writes[0]

    with traced(keys, tmp_path / "erase.trace") as erase_writes:
        sealed.privacy.erase(ADMIN, case_id, "Article 17 request 2026-115")
    assert erase_writes, "the erasure wrote nothing on the keys' connection"
    assert not [w for w in erase_writes if "synchronous_commit" in w]
    assert keys.find("email", EMAIL) == []
