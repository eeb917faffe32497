"""Snapshots of aggregates, taken from the objects in hand: the one module that
overrides eventsourcing's snapshotting (ADR 0007, 0028, 0037).

What it relies on in eventsourcing (9.5), checked by
`tests/unit/persistence/test_snapshots_contract.py`:

- `Application.save()` calling the private `Application._take_snapshots(
  processing_event)` once its events are recorded, with a `ProcessingEvent`
  whose `events` are the saved events and whose `aggregates` are the saved
  aggregates by id;
- the application attributes `snapshotting_intervals` and
  `snapshotting_projectors` (class variables in the library, set here on the
  instance: this process's settings choose the interval), `snapshots` (the
  snapshot store, None unless `IS_SNAPSHOTTING_ENABLED`) and `snapshot_class`;
- the aggregate's `Snapshot` class with `take(aggregate)`, and each event's
  `mutate(aggregate)` (the projector `replay`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import PersistenceError

logger = structlog.get_logger("cases.store")

SNAPSHOTTING_ENABLED_KEY = "IS_SNAPSHOTTING_ENABLED"


def replay(aggregate: Any, events: Iterable[Any]) -> Any:
    """Apply events in order (the library's `project_aggregate` without its
    per-event runtime-checked Protocol assertion, which cost a third of a load)."""
    for event in events:
        mutate = getattr(event, "mutate", None)
        if mutate is None:  # a log's entries (e.g. a directory), not an aggregate
            return None
        aggregate = mutate(aggregate)
    return aggregate


def snapshotting_env(snapshotted: tuple[type[Any], ...]) -> dict[str, str]:
    """The library's switch for a snapshot store, on when anything is snapshotted."""
    return {SNAPSHOTTING_ENABLED_KEY: "y" if snapshotted else "n"}


class SnapshotsInHand(Application[Any]):
    """Snapshots every `interval` events of the snapshotted classes, from the
    aggregate just saved rather than reloaded from the store."""

    def configure_snapshots(self, interval: int, snapshotted: tuple[type[Any], ...]) -> None:
        """Set before the library's `__init__`: the library declares the intervals
        per class; this process's settings choose them, so they are set on the
        instance it reads them from."""
        setattr(self, "snapshotting_intervals", dict.fromkeys(snapshotted, interval))  # noqa: B010
        setattr(self, "snapshotting_projectors", dict.fromkeys(snapshotted, replay))  # noqa: B010

    def _take_snapshots(self, processing_event: ProcessingEvent[Any]) -> None:
        """Snapshot each saved aggregate one of whose new events reached its class's
        interval, from the object just saved (ADR 0028).

        The library reloads the aggregate from the store at that version (a read
        and a replay of up to an interval's events) to snapshot it; the object in
        hand already is that state (or a later version's, when one command's
        events cross the interval, which is an equally valid snapshot). The
        snapshot is taken after the command's events have committed and only
        saves later loads some replay: failing to store one must not turn an
        acknowledged command into an error (the next interval takes another)."""
        intervals: dict[type[Any], int] = self.snapshotting_intervals or {}
        if self.snapshots is None or not intervals:
            return
        due: dict[Any, Any] = {}
        for event in processing_event.events:
            aggregate = processing_event.aggregates.get(event.originator_id)
            interval = intervals.get(type(aggregate)) if aggregate is not None else None
            if interval is not None and event.originator_version % interval == 0:
                due[event.originator_id] = aggregate
        if not due:
            return
        snapshots = []
        for aggregate in due.values():
            snapshot_class = getattr(type(aggregate), "Snapshot", self.snapshot_class)
            if snapshot_class is not None:
                snapshots.append(snapshot_class.take(aggregate))
        try:
            self.snapshots.put(snapshots)
        except PersistenceError as e:
            logger.warning("snapshot_not_taken", error=type(e).__name__)
