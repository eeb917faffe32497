"""A projection runner in its own process, for tests that kill it.

    python -m tests.support.projection_worker URL RUNNER_ID [--loop] [--slow S]
        [--batch-size N] [--marker PATH] [--service-levels]

It runs `AuditedCaseQueue`: the real case queue that also writes, in the same
transaction, one `applied_events` row (position, runner) per event it applies,
so a test can see which runner applied what and whether anything was applied
twice. `--slow` sleeps inside every batch, after its first writes and before
the commit, and `--marker` appends a line when a batch starts (and one to the
marker's `.written` file once its first rows are written, before the slow part),
so a test can SIGKILL the process in the middle of a batch.

With `--service-levels` it runs the service levels instead (`SlowServiceLevels`:
on PostgreSQL a batch's writes go in a pipeline, and month seals are made in the
batch, ADR 86), slow and marked the same way once the batch's writes are sent.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import ClassVar

from cases.db.database import ProjectionDatabase
from cases.db.statement import sql
from cases.followers.runner import ProjectionRunner, RunnerLoop
from cases.persistence.database_url import parse_database_url
from cases.persistence.event_log import EventLog
from cases.persistence.store import open_event_log
from cases.projections.case_queue import CaseQueueProjection
from cases.projections.projection import PositionedEvent, Projection, TableNames
from cases.reports.service_levels import ServiceLevelsProjection
from cases.settings import Settings

APPLIED_EVENTS = "CREATE TABLE applied_events (position BIGINT NOT NULL, runner TEXT NOT NULL)"


def create_applied_events(db: ProjectionDatabase) -> None:
    db.execute(APPLIED_EVENTS)


def written_marker(marker: Path) -> Path:
    """Where a batch notes that it has written its first rows (not yet committed)."""
    return marker.with_name(f"{marker.name}.written")


class Marks:
    """What a worker's projection notes of its batches: a line in `marker` when a
    batch starts, one in its `.written` file once the batch's rows are written (not
    yet committed), and then a sleep of `slow` seconds before the runner commits."""

    def __init__(self, runner_id: str, slow: float = 0.0, marker: Path | None = None) -> None:
        self.runner_id = runner_id
        self.slow = slow
        self.marker = marker

    def started(self, events: Sequence[PositionedEvent]) -> None:
        if self.marker is not None:
            self._note(self.marker, events)

    def written_then_slow(self, events: Sequence[PositionedEvent]) -> None:
        if self.marker is not None:
            self._note(written_marker(self.marker), events)
        time.sleep(self.slow)

    def _note(self, path: Path, events: Sequence[PositionedEvent]) -> None:
        with path.open("a") as marker:
            marker.write(f"{self.runner_id} {events[0].position}-{events[-1].position}\n")


class AuditedCaseQueue(CaseQueueProjection):
    """The case queue, noting each event it applies (and optionally slow)."""

    name: ClassVar[str] = CaseQueueProjection.name

    def __init__(self, runner_id: str, slow: float = 0.0, marker: Path | None = None) -> None:
        self.runner_id = runner_id
        self.marks = Marks(runner_id, slow, marker)

    def apply(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        self.marks.started(events)
        db.executemany(
            sql("INSERT INTO applied_events (position, runner) VALUES ({}, {})"),
            [(p.position, self.runner_id) for p in events],
        )
        self.marks.written_then_slow(events)
        super().apply(db, events, tables)


class SlowServiceLevels(ServiceLevelsProjection):
    """The service levels, marked and slow once a batch's writes (and seals) are
    sent, before the runner commits them."""

    name: ClassVar[str] = ServiceLevelsProjection.name

    def __init__(self, runner_id: str, slow: float = 0.0, marker: Path | None = None) -> None:
        self.marks = Marks(runner_id, slow, marker)

    def apply(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        self.marks.started(events)
        super().apply(db, events, tables)
        self.marks.written_then_slow(events)


def runner_for(
    url: str, log: EventLog, projection: Projection, batch_size: int
) -> ProjectionRunner:
    return ProjectionRunner(
        log, projection, ProjectionDatabase(parse_database_url(url)), batch_size=batch_size
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("runner_id")
    parser.add_argument("--loop", action="store_true", help="follow the log until SIGTERM")
    parser.add_argument("--slow", type=float, default=0.0)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--marker", type=Path)
    parser.add_argument("--service-levels", action="store_true")
    args = parser.parse_args()
    kind = SlowServiceLevels if args.service_levels else AuditedCaseQueue
    projection = kind(args.runner_id, args.slow, args.marker)
    log = open_event_log(Settings(database_url=args.url))
    if not args.loop:
        runner_for(args.url, log, projection, args.batch_size).catch_up()
        return
    loop = RunnerLoop(
        lambda: runner_for(args.url, log, projection, args.batch_size), poll_interval=0.05
    )

    def stop(_signal: int, _frame: FrameType | None) -> None:
        loop.stop()

    signal.signal(signal.SIGTERM, stop)
    print(f"worker {args.runner_id} pid {os.getpid()}", flush=True)  # noqa: T201
    loop.run()


if __name__ == "__main__":
    main()
