"""The rows of the event log as stored, read in bulk for the audit log (ADR 0043).

`select_notifications` makes a library `Notification` per row (and, on
PostgreSQL, a dict per row); a verifier reading a million rows spends most of
its time there. Each recorder of `cases` (`recorders.py`) has `select_rows`,
which returns the five stored columns as plain tuples; a recorder without it
(another library's) is read through its notifications.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.application import Application

StoredRow = tuple[int, UUID, int, str, bytes]
"""(position, aggregate id, version, topic, state bytes as stored)."""

LAST_POSITION = 2**63 - 1
"""No position is larger (a notification id is a signed 64-bit integer)."""


@runtime_checkable
class RowReader(Protocol):
    def select_rows(self, start: int, limit: int, stop: int | None = None) -> list[StoredRow]: ...


def select_rows(
    log: Application[Any], start: int, limit: int, stop: int | None = None
) -> list[StoredRow]:
    """Up to `limit` rows from position `start` on (to `stop`, inclusive), in position order."""
    recorder = log.recorder
    if isinstance(recorder, RowReader):
        return recorder.select_rows(start, limit, stop)
    return [
        (
            n.id,
            n.originator_id if isinstance(n.originator_id, UUID) else UUID(str(n.originator_id)),
            int(n.originator_version),
            n.topic,
            bytes(n.state),
        )
        for n in recorder.select_notifications(start=start, limit=limit, stop=stop)
    ]


def row_batches(
    log: Application[Any], batch_size: int = 10_000, start: int = 1, stop: int | None = None
) -> Iterator[list[StoredRow]]:
    """Every row from position `start` on (to `stop`, inclusive), in position order,
    `batch_size` at a time."""
    while True:
        batch = select_rows(log, start, batch_size, stop)
        if batch:
            yield batch
        if len(batch) < batch_size:
            return
        start = batch[-1][0] + 1
