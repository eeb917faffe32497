"""The service levels' sealer: the month seals made beside their partitions (ADR 90).

A follower of the partitions' progress, not of the log. Each step is one
transaction holding the seals (`lock_seals`: a partition unsealing for a late
fact waits for it, and it for that partition): it reads the log's head, then the
partitions' positions and moments, and makes at most one seal by
`sealable`'s latest moment, as one runner seals a month once a fact recorded
`GRACE` after it is seen. Once every partition is at the head, it keeps one
seal's changes by moment a step (ADR 84), as one runner does a batch.

It leads under the projection's own name, so one runner of the service levels
and a sealer never run at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from cases.db.database import ProjectionDatabase
from cases.fault_points import fault_point
from cases.followers.runner import BatchResult
from cases.persistence.event_log import EventLog
from cases.projections.layout import LayoutError, parts_of
from cases.projections.projection import LIVE, TableNames, behind
from cases.reports.compliance_seal import (
    add_seal,
    keep_moments,
    lock_seals,
    note_latest,
    seal_state,
    seals_due,
)
from cases.reports.service_level_partitions import PartitionProgress, read_progress, sealable
from cases.reports.service_levels import ServiceLevelsProjection

logger = structlog.get_logger("cases.projections")

PAUSE = 0.05
"""Seconds a step waits when partitions are behind and nothing was due: their
progress, not the log's head, is what it waits for."""


class Sealer:
    """Seals the service levels' months once every partition has passed them."""

    tracking_name = ServiceLevelsProjection.name  # its leadership (no tracking row)
    takes_turns = False  # it waits inside its step for the partitions (PAUSE)

    def __init__(
        self,
        log: EventLog,
        db: ProjectionDatabase,
        *,
        tables: TableNames = LIVE,
        pause: float = PAUSE,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.log = log
        self.db = db
        self.tables = tables
        self.pause = pause
        self.sleep = sleep

    def head(self) -> int:
        return self.log.head()

    def step(self) -> BatchResult:
        """Make at most one seal, or keep one seal's changes by moment; `applied`
        says whether it did. `more` while it did; `position` the least
        partition's (the head once all are there)."""
        with self.db.transaction():
            lock_seals(self.db, self.tables)
            head = self.log.head()
            progress = read_progress(self.db, self.tables)
            done = self._seal(progress, head)
        least = min((p.position for p in progress), default=0)
        if not done and least < head:
            self.sleep(self.pause)  # the partitions are behind: wait for their progress
        return BatchResult(int(done), min(least, head), more=done)

    def _seal(self, progress: list[PartitionProgress], head: int) -> bool:
        name = ServiceLevelsProjection.name
        parts = parts_of({p.name: p.position for p in progress}, name)
        if parts == 1:
            raise LayoutError(f"{name} is kept by one runner: its sealer has nothing to do")
        found = sealable(progress, parts, head)
        if found is None:
            return False
        earliest, latest = found
        db, tables = self.db, self.tables
        state = seal_state(db, tables)
        seals = [] if state is None else list(state.seals)
        at_head = all(p.position >= head for p in progress)
        greatest = max(p.latest for p in progress if p.latest is not None)
        with behind(more=not at_head):  # sealed while catching up: no changes by moment
            due = seals_due(seals, earliest, latest)
            if due:
                started = time.perf_counter()
                add_seal(db, tables, due[0], seals[-1] if seals else None)
                fault_point("seal-made")  # its cells written, not committed
                logger.info(
                    "compliance_sealed",
                    sealed_at=due[0].isoformat(),
                    seconds=round(time.perf_counter() - started, 3),
                )
            if state is None or greatest > state.latest_recorded_at:
                note_latest(db, tables, greatest)
            if due:
                return True
            return at_head and keep_moments(db, tables, state) is not None
