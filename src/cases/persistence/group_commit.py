"""Commit the event writes of concurrent commands together (ADR 0027).

Every write locks the events table so notification ids commit in order, and
PostgreSQL releases that lock only once the commit is flushed to disk: each write
held it for a WAL flush (2-3 ms on this machine's disk), which capped a whole
deployment near 400 writes a second however many workers it had.

Here the threads of a process that want to write at the same moment share one
transaction: the first to arrive writes for everyone queued (the leader); the
others wait for their own outcome. The transaction is one query string (lock
timeout, lock, then one statement per command), so one round trip and one flush
serve them all. The batch is first tried as plain inserts. If one command's
(aggregate, version) key is taken (or its step recorded), that try fails whole and
records nothing, and the batch is written again with each command's rows inserted
only if none of its keys is taken, which is race-free because the table lock is
held: that command gets `IntegrityError` (a lost race, retried on fresh state by
the command runner) while the others are recorded. A batch of one command is not
tried twice: its unique violation is its `IntegrityError` (ADR 0027 amendments).
Nothing is acknowledged before the transaction has committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from cases.observability import metrics

MAX_BATCH = 64  # commands per transaction; the rest wait for the next one

Key = tuple[UUID, int]
W = TypeVar("W")  # what one command writes, as the executor takes it
# Runs the writes (one per command, after the lock) in one transaction and
# returns, per write, the (aggregate, version, notification id) rows it inserted.
Execute = Callable[[Sequence[W]], list[list[tuple[UUID, int, int]]]]


@dataclass(eq=False)
class _Write(Generic[W]):
    statement: W
    keys: list[Key]
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # appointed to write the next batch
    ids: list[int] | None = None
    error: BaseException | None = None


class GroupCommit(Generic[W]):
    """Batches the writes of one process's threads into shared transactions."""

    def __init__(self, execute: Execute[W]) -> None:
        self._execute = execute
        self._lock = threading.Lock()
        self._queue: list[_Write[W]] = []
        self._writing = False
        self.batches = 0  # transactions run (for tests and benchmarks)
        self.writes = 0  # commands they carried

    @property
    def queued(self) -> int:
        """Writes waiting for a transaction (the leader's batch not counted)."""
        return len(self._queue)

    def write(self, statement: W, keys: list[Key]) -> list[int]:
        """Record one command's rows (`statement` inserts them if their keys are
        free); return their notification ids in the order of `keys`."""
        mine = _Write(statement, keys)
        with self._lock:
            self._queue.append(mine)
            leading = not self._writing
            if leading:
                self._writing = True
        if not leading:
            mine.done.wait()
        if mine.lead or leading:
            self._lead()
        if mine.error is not None:
            raise mine.error
        assert mine.ids is not None  # noqa: S101 - set with done, unless error is
        return mine.ids

    def _lead(self) -> None:
        """Write what is queued, then hand the lead to the next queued write."""
        with self._lock:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        try:
            outcomes: list[list[tuple[UUID, int, int]]] | None = self._execute(
                [w.statement for w in batch]
            )
        except BaseException as e:  # noqa: BLE001 - every writer of the batch gets it
            outcomes = None
            failure: BaseException | None = e
        else:
            failure = None
        self.batches += 1
        self.writes += len(batch)
        metrics.group_commit_batch(len(batch))
        for position, write in enumerate(batch):
            if outcomes is None:
                write.error = failure
            else:
                _settle(write, outcomes[position])
        with self._lock:
            successor = self._queue[0] if self._queue else None
            if successor is None:
                self._writing = False
            else:
                successor.lead = True
        for write in batch:
            write.done.set()
        if successor is not None:
            successor.done.set()


def _settle(write: _Write[W], rows: list[tuple[UUID, int, int]]) -> None:
    """A command's statement inserts all its rows or none (a key was taken)."""
    if not rows:
        write.error = IntegrityError("a version of this aggregate was recorded meanwhile")
        return
    ids = {(aggregate_id, version): nid for aggregate_id, version, nid in rows}
    write.ids = [ids[key] for key in write.keys]
