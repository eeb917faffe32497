"""The one event log every aggregate of `cases` is stored in.

All aggregates share one eventsourcing application (one table of events, one
notification log), so projections follow a single ordered stream.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import PersistenceError, Transcoder
from eventsourcing.utils import Environment, EnvType

from cases.persistence.idempotency_steps import RecordedStep
from cases.persistence.registry import cases_transcoder

logger = structlog.get_logger("cases.store")


def replay(aggregate: Any, events: Iterable[Any]) -> Any:
    """Apply events in order (the library's `project_aggregate` without its
    per-event runtime-checked Protocol assertion, which cost a third of a load)."""
    for event in events:
        mutate = getattr(event, "mutate", None)
        if mutate is None:  # a log's entries (e.g. a directory), not an aggregate
            return None
        aggregate = mutate(aggregate)
    return aggregate


class EventLog(Application[Any]):
    """The `cases` event store: aggregates, snapshots and the notification log."""

    name = "cases"

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        # Configuration comes only from `cases.settings` (via `env`), never from
        # stray eventsourcing variables in the process environment.
        return Environment(name, dict(env or {}))

    def construct_transcoder(self) -> Transcoder:
        return cases_transcoder()

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        snapshot_interval: int = 50,
        snapshotted: tuple[type[Any], ...] = (),
    ) -> None:
        # The library declares the intervals per class; this process's settings
        # choose them, so they are set on the instance it reads them from.
        setattr(  # noqa: B010
            self, "snapshotting_intervals", dict.fromkeys(snapshotted, snapshot_interval)
        )
        setattr(self, "snapshotting_projectors", dict.fromkeys(snapshotted, replay))  # noqa: B010
        env = {**(env or {}), "IS_SNAPSHOTTING_ENABLED": "y" if snapshotted else "n"}
        super().__init__(env)

    def recorded_steps(self, key_id: str) -> dict[str, RecordedStep]:
        """The steps recorded for the idempotent request `key_id` (ADR 0031)."""
        select = getattr(self.recorder, "select_steps", None)
        return {} if select is None else dict(select(key_id))

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
