"""On PostgreSQL a new subject key and its digests commit without waiting for the
WAL's flush, each in one round trip; an erasure still waits for its flush (ADR
0067, amended). What the keys' connection sends is read from libpq's own trace."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.domain import case_commands as cmd
from cases.domain.metadata import Actor, Role
from cases.persistence.subject_keys import PostgresSubjectKeys
from tests.support.builders import caller, intake

ADMIN = caller(Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN))
EMAIL = str(intake()["contact"].email)


def postgres_keys(services: Services) -> PostgresSubjectKeys:
    keys = services.log.subject_keys
    if not isinstance(keys, PostgresSubjectKeys):
        pytest.skip("only PostgreSQL keeps its keys on a connection of their own")
    return keys


@contextmanager
def traced(keys: PostgresSubjectKeys, path: Path) -> Iterator[list[str]]:
    """The writes (queries) the keys' connection sends inside, one per round trip."""
    writes: list[str] = []
    with keys._conn() as conn:
        assert isinstance(conn, psycopg.Connection)
        pgconn = conn.pgconn
    with path.open("w") as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            yield writes
        finally:
            pgconn.untrace()
    for line in path.read_text().splitlines():
        parts = line.split("\t")
        if parts[0] == "F" and parts[2] in ("Query", "Parse"):
            text = parts[3].strip()
            if parts[2] == "Parse":  # after the statement's name
                text = text.split(" ", 1)[1]
            if not text.startswith('"SELECT'):
                writes.append(text)


def test_a_new_key_and_its_digests_do_not_wait_for_the_flush_an_erasure_does(
    sealed: Services, clock: ManualClock, tmp_path: Path
) -> None:
    keys = postgres_keys(sealed)
    with traced(keys, tmp_path / "intake.trace") as intake_writes:
        receipt = sealed.desk.receive_case(
            caller(), cmd.TakeIn(received_at=clock.now(), **intake())
        )
    case_id = receipt.aggregate_id

    assert len(intake_writes) == 2, intake_writes  # the key, then both digests
    assert all(w.startswith('"SET LOCAL synchronous_commit TO OFF; INSERT') for w in intake_writes)
    assert "subject_keys" in intake_writes[0]
    assert "subject_index" in intake_writes[1]
    # Both committed: the digests find the subject, its key opens the case.
    assert [row.subject for row in keys.find("email", EMAIL)] == [case_id]
    assert sealed.desk.case(case_id).contact.email == intake()["contact"].email

    with traced(keys, tmp_path / "erase.trace") as erase_writes:
        sealed.privacy.erase(ADMIN, case_id, "Article 17 request 2026-115")
    assert erase_writes, "the erasure wrote nothing on the keys' connection"
    assert not [w for w in erase_writes if "synchronous_commit" in w]
    assert keys.find("email", EMAIL) == []
