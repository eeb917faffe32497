"""A new subject key and its digests never wait for a flush of their own: on
PostgreSQL they commit on the keys' connection without waiting for the WAL's
flush (the events' commit flushes them), together in one round trip; on SQLite they
are written in the events' transaction. An erasure's writes, and a rebuild's
digests, still wait for their flush (ADR 0067, amended). What the keys'
connection sends is read from libpq's trace (PostgreSQL) and SQLite's trace
callback."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest

from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.domain import case_commands as cmd
from cases.domain.erasure import SubjectKind
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
    else:  # PostgreSQL: the key and both digests in one write not waiting for its flush
        assert len(intake_writes) == 1, intake_writes
        (write,) = intake_writes
        assert write.startswith('"WITH written AS (INSERT INTO "cases_keys"."subject_keys"')
        assert 'INSERT INTO "cases_keys"."subject_index"' in write
        assert "set_config('synchronous_commit', 'off', true)" in write
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


def test_the_unflushed_write_leaves_the_keys_connection_flushing(
    sealed: Services, clock: ManualClock
) -> None:
    """`set_config(..., true)` is local to the write's own transaction: the next
    write on the keys' connection (an erasure) waits for its flush again."""
    keys = sql_keys(sealed)
    sealed.desk.receive_case(caller(), cmd.TakeIn(received_at=clock.now(), **intake()))
    with keys._conn() as conn:
        if not isinstance(conn, psycopg.Connection):
            pytest.skip("SQLite writes the key in the events' transaction")
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)


def test_a_key_stored_first_by_another_process_is_taken_and_the_event_sealed_again(
    sealed: Services, other_process: Services, clock: ManualClock
) -> None:
    """Two processes making the first key of one subject: the second to store it
    takes the first one's key, seals its event again under it and stores no
    digests of its own key (ADR 0067, amended)."""
    mine, theirs = sql_keys(sealed), sql_keys(other_process)
    if not mine.written_ahead_together:
        pytest.skip("SQLite writes the key in the events' transaction")
    subject = uuid4()
    my_cipher = mine.for_writing(subject, SubjectKind.CONTACT)
    their_cipher = theirs.for_writing(subject, SubjectKind.CONTACT)
    assert my_cipher is not None
    assert their_cipher is not None
    assert theirs.write_ahead(subject, [("email", "first@example.org")])

    assert not mine.write_ahead(subject, [("email", "second@example.org")])

    taken = mine.for_writing(subject, SubjectKind.CONTACT)
    assert taken is not None
    assert taken is not my_cipher
    nonce = b"\x00" * 12
    sealed_by_theirs = their_cipher.encrypt(nonce, b"text", subject.bytes)
    assert taken.decrypt(nonce, sealed_by_theirs, subject.bytes) == b"text"
    assert [row.subject for row in mine.find("email", "first@example.org")] == [subject]
    assert mine.find("email", "second@example.org") == []
