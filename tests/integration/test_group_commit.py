"""Concurrent event writes share one PostgreSQL transaction (ADR 0027).

The writes are made to meet: another connection holds the events table's lock
while the writers arrive, so the first waits inside PostgreSQL and the rest queue
behind it in the process, and are then committed together.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from cases.db.schema import migrate
from cases.persistence.database_url import parse_database_url
from cases.persistence.event_log import EventLog
from cases.persistence.idempotency_steps import StepToRecord
from cases.persistence.store import CasesApplicationRecorder, open_event_log
from cases.settings import Settings
from tests.support.postgres import throwaway_database

pytestmark = pytest.mark.postgres

TOPIC = "cases.domain.support_case:SupportCase.NoteAdded"


@pytest.fixture
def database() -> Iterator[str]:
    with throwaway_database() as url:
        yield url


@pytest.fixture
def log(database: str) -> Iterator[EventLog]:
    log = open_event_log(Settings(database_url=database, postgres_pool_size=20))
    yield log
    log.close()


def _recorder(log: EventLog) -> CasesApplicationRecorder:
    recorder = log.recorder
    assert isinstance(recorder, CasesApplicationRecorder)
    return recorder


def _events(aggregate_id: UUID, versions: range) -> list[StoredEvent]:
    return [StoredEvent(aggregate_id, v, TOPIC, f"state {v}".encode()) for v in versions]


class _Writer(threading.Thread):
    def __init__(self, recorder: CasesApplicationRecorder, events: list[StoredEvent]) -> None:
        super().__init__()
        self.recorder = recorder
        self.events = events
        self.ids: list[int] | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.ids = list(self.recorder.insert_events(self.events) or [])
        except BaseException as e:  # noqa: BLE001 - inspected by the test
            self.error = e


def _meet(database: str, recorder: CasesApplicationRecorder, writers: list[_Writer]) -> None:
    """Start the writers while the table is locked elsewhere; release it once the
    first is waiting in PostgreSQL and the others are queued in the process."""
    with (
        psycopg.connect(database) as blocker,
        psycopg.connect(database, autocommit=True) as watcher,
    ):
        blocker.execute("LOCK TABLE cases_events IN EXCLUSIVE MODE")
        writers[0].start()  # takes the lead and waits for the lock
        _until(lambda: _lock_waiters(watcher) == 1, "the first writer never waited")
        for writer in writers[1:]:
            writer.start()
        _until(lambda: recorder.group_commit.queued == len(writers) - 1, "the writers never queued")
        blocker.commit()
    for writer in writers:
        writer.join()


def _lock_waiters(watcher: psycopg.Connection[tuple[object, ...]]) -> int:
    row = watcher.execute(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'cases_events'::regclass"
    ).fetchone()
    return int(str(row[0])) if row else 0


def _until(condition: Callable[[], bool], failure: str) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.01)


def test_queued_writes_commit_in_one_transaction(database: str, log: EventLog) -> None:
    """Six commands, two transactions: the one that waited, then the five queued,
    each written as plain inserts in one try (ADR 0027 amendment)."""
    recorder = _recorder(log)
    writers = [_Writer(recorder, _events(uuid4(), range(1, 3))) for _ in range(6)]
    _meet(database, recorder, writers)

    assert [w.error for w in writers] == [None] * 6
    assert recorder.group_commit.batches == 2
    assert recorder.group_commit.writes == 6
    assert recorder.contested_batches == 0
    ids = [i for w in writers for i in w.ids or []]
    assert len(ids) == len(set(ids)) == 12
    for writer in writers:  # each command's ids in the order of its events
        assert writer.ids == sorted(writer.ids or [])
        stored = recorder.select_events(writer.events[0].originator_id)
        assert [e.state for e in stored] == [e.state for e in writer.events]


def test_a_taken_version_fails_only_its_own_command(database: str, log: EventLog) -> None:
    """Two commands in one batch claim the same versions: the first is recorded,
    the second gets IntegrityError and records nothing, the others are recorded."""
    recorder = _recorder(log)
    contested = uuid4()
    writers = [
        _Writer(recorder, _events(uuid4(), range(1, 2))),
        _Writer(recorder, _events(contested, range(1, 3))),
        _Writer(recorder, _events(uuid4(), range(1, 2))),
    ]
    _meet(database, recorder, writers)
    late = _Writer(recorder, _events(contested, range(2, 4)))  # version 2 is taken
    late.run()

    assert writers[0].error is None
    assert writers[2].error is None
    assert writers[1].error is None
    assert isinstance(late.error, IntegrityError)
    stored = recorder.select_events(contested)
    assert [e.originator_version for e in stored] == [1, 2]
    assert [e.state for e in stored] == [b"state 1", b"state 2"]


def test_in_one_batch_the_first_claim_wins(database: str, log: EventLog) -> None:
    """The same version claimed twice within one transaction: exactly one is kept."""
    recorder = _recorder(log)
    contested = uuid4()
    first = _Writer(recorder, _events(uuid4(), range(1, 2)))
    claims = [_Writer(recorder, _events(contested, range(1, 2))) for _ in range(3)]
    _meet(database, recorder, [first, *claims])

    assert first.error is None
    assert sum(1 for w in claims if w.error is None) == 1
    assert all(isinstance(w.error, IntegrityError) for w in claims if w.error is not None)
    assert [e.originator_version for e in recorder.select_events(contested)] == [1]


def test_a_lone_write_whose_step_is_recorded_records_none_of_its_rows(
    database: str, log: EventLog
) -> None:
    """A command alone in its transaction (ADR 0027 amendment): its step found
    recorded already fails the whole write, though its versions are free."""
    migrate(parse_database_url(database))
    recorder = _recorder(log)
    step = StepToRecord("a" * 64, "change:one", "b" * 64, datetime(2026, 3, 2, tzinfo=UTC))
    first, second = uuid4(), uuid4()
    recorder.insert_events(_events(first, range(1, 2)), idempotency_step=step)

    with pytest.raises(IntegrityError):
        recorder.insert_events(_events(second, range(1, 3)), idempotency_step=step)

    assert recorder.select_events(second) == []
    assert [e.originator_version for e in recorder.select_events(first)] == [1]
    assert recorder.select_steps("a" * 64)["change:one"].receipts[0].aggregate_id == first


def test_a_batch_meeting_a_stored_key_is_written_again_and_fails_only_that_command(
    database: str, log: EventLog
) -> None:
    """A version stored before the batch: the plain try fails whole and records
    nothing; the batch again records every other command, and that one gets
    IntegrityError."""
    recorder = _recorder(log)
    taken = uuid4()
    recorder.insert_events(_events(taken, range(1, 2)))
    writers = [
        _Writer(recorder, _events(uuid4(), range(1, 2))),
        _Writer(recorder, _events(uuid4(), range(1, 3))),
        _Writer(recorder, _events(taken, range(1, 2))),  # version 1 is taken
        _Writer(recorder, _events(uuid4(), range(1, 2))),
    ]
    _meet(database, recorder, writers)

    assert recorder.contested_batches == 1
    assert [w.error for w in writers[:2]] == [None, None]
    assert writers[3].error is None
    assert isinstance(writers[2].error, IntegrityError)
    for writer in (*writers[:2], writers[3]):
        stored = recorder.select_events(writer.events[0].originator_id)
        assert [e.state for e in stored] == [e.state for e in writer.events]
        assert len(writer.ids or []) == len(writer.events)
    assert [e.state for e in recorder.select_events(taken)] == [b"state 1"]
    assert len(recorder.select_events(taken)) == 1
