"""The embedded stores (SQLite, and in memory for tests) with idempotency steps.

The library's recorders, each also writing a save's idempotency step in the
transaction of its events (SQLite) or under the lock that orders them (in
memory), and reading a request's steps back (ADR 0031).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, IntegrityError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteFactory

from cases.persistence.idempotency_steps import (
    RecordedStep,
    StepToRecord,
    encode_rows,
    receipts_of,
    steps_from_rows,
    stored_moment,
)

SQLITE_FACTORY_TOPIC = "cases.persistence.embedded_stores:CasesSQLiteFactory"
MEMORY_FACTORY_TOPIC = "cases.persistence.embedded_stores:CasesMemoryFactory"


class CasesSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """Writes a save's step in the transaction of its events; a step recorded
    already (the key's primary key) fails the whole save with IntegrityError."""

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        *,
        idempotency_step: StepToRecord | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        if idempotency_step is not None and ids:
            step = idempotency_step
            rows = [
                (e.originator_id, e.originator_version, nid)
                for e, nid in zip(stored_events, ids, strict=True)
            ]
            c.execute(
                "INSERT INTO idempotency_steps "
                "(key_id, step, request_hash, receipts, decided_at, memo) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    step.key_id,
                    step.step,
                    step.request_hash,
                    encode_rows(rows),
                    stored_moment(step.decided_at),
                    step.memo,
                ),
            )
        return ids

    def select_steps(self, key_id: str) -> dict[str, RecordedStep]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT step, request_hash, receipts, decided_at, memo "
                "FROM idempotency_steps WHERE key_id = ?",
                (key_id,),
            )
            return steps_from_rows(tuple(row) for row in c.fetchall())


class CasesSQLiteFactory(SQLiteFactory):
    application_recorder_class = CasesSQLiteApplicationRecorder


class CasesMemoryApplicationRecorder(POPOApplicationRecorder):
    """Keeps steps beside the events, under one lock with them."""

    def __init__(self) -> None:
        super().__init__()
        self._steps: dict[str, dict[str, RecordedStep]] = {}
        self._steps_lock = threading.Lock()

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        idempotency_step: StepToRecord | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        if idempotency_step is None:
            return super().insert_events(stored_events, **kwargs)
        step = idempotency_step
        with self._steps_lock:
            if step.step in self._steps.get(step.key_id, {}):
                raise IntegrityError(f"step {step.step} of this request is recorded already")
            ids = super().insert_events(stored_events, **kwargs) or []
            rows = [
                (e.originator_id, e.originator_version, nid)
                for e, nid in zip(stored_events, ids, strict=True)
            ]
            self._steps.setdefault(step.key_id, {})[step.step] = RecordedStep(
                step.step, step.request_hash, receipts_of(rows), step.decided_at, step.memo
            )
            return ids

    def select_steps(self, key_id: str) -> dict[str, RecordedStep]:
        with self._steps_lock:
            return dict(self._steps.get(key_id, {}))


class CasesMemoryFactory(POPOFactory):
    def application_recorder(self) -> ApplicationRecorder:
        return CasesMemoryApplicationRecorder()
