"""Follow the event log and apply it to one projection, exactly once, in batches.

Each batch is one transaction on the projection database: the projection's
table changes and the new tracking position commit together, so a process
killed at any point resumes from a position that matches its tables. The
tracking row is locked first in every batch, and compared with the position
the batch was read from, so a second writer (a rebuild's swap, a runner that
lost its leadership) can never apply the same events twice.

On PostgreSQL the event log's writers hold a table lock until they commit, so
notification ids become visible in order and reading "after my position" never
skips an event that commits later.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog
from eventsourcing.persistence import PersistenceError

from cases.clock import Clock, SystemClock, wait_until
from cases.db.database import CONNECTION_ERRORS, ProjectionDatabase
from cases.followers.decoded import decoded_events
from cases.followers.leadership import Leadership
from cases.followers.tracking import Tracking
from cases.observability import metrics
from cases.persistence.event_log import EventLog
from cases.projections.projection import LIVE, PositionedEvent, Projection, TableNames

logger = structlog.get_logger("cases.projections")

RECOVERABLE: tuple[type[Exception], ...] = (*CONNECTION_ERRORS, PersistenceError)


class PositionMovedError(Exception):
    """Raised inside a batch when another writer moved the tracking position first."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    applied: int
    position: int
    more: bool = False  # the batch was full: more was recorded than it took


class Follower(Protocol):
    """What a `RunnerLoop` runs: a projection runner or the audit log's tree builder."""

    @property
    def db(self) -> ProjectionDatabase: ...

    @property
    def tracking_name(self) -> str: ...

    def step(self) -> BatchResult: ...


class ProjectionRunner:
    """Applies the event log to one projection's tables."""

    def __init__(
        self,
        log: EventLog,
        projection: Projection,
        db: ProjectionDatabase,
        *,
        batch_size: int = 1000,
        tables: TableNames = LIVE,
        tracking_name: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.log = log
        self.projection = projection
        self.db = db
        self.batch_size = batch_size
        self.tables = tables
        self.tracking_name = tracking_name or projection.name
        self.clock = clock or SystemClock()
        self.tracking = Tracking(db)
        self.topics = projection.topics()
        self.tracking.ensure(self.tracking_name)
        self.moved_to: int | None = None  # where this runner last moved tracking
        self.decoded = decoded_events(log)  # shared with the process's other followers

    @property
    def position(self) -> int:
        return self.tracking.position(self.tracking_name)

    def after(self) -> int:
        """Where the next batch starts: where this runner moved tracking last, else
        the stored position. Only a guess, as the stored one is: `apply_batch`
        compares it with the locked row, so nothing is applied twice."""
        return self.moved_to if self.moved_to is not None else self.position

    def head(self) -> int:
        return self.log.recorder.max_notification_id() or 0

    def read_batch(self, after: int, head: int) -> tuple[list[PositionedEvent], int]:
        """Events after `after` up to `head`, and the position the batch reaches."""
        notifications = self.log.recorder.select_notifications(
            start=after + 1, limit=self.batch_size, stop=head, topics=self.topics
        )
        reached = notifications[-1].id if len(notifications) == self.batch_size else head
        decoded = self.decoded.decode(notifications)
        events = [PositionedEvent(n.id, e) for n, e in zip(notifications, decoded, strict=True)]
        return events, reached

    def apply_batch(self, events: list[PositionedEvent], after: int, reached: int) -> None:
        """Apply events and move tracking from `after` to `reached`, atomically."""
        with self.db.transaction():
            if self.tracking.lock(self.tracking_name) != after:
                raise PositionMovedError(self.tracking_name)
            if events:
                self.projection.apply(self.db, events, self.tables)
            self.tracking.move(self.tracking_name, reached, self.clock.now())
        self.moved_to = reached

    def step(self) -> BatchResult:
        """Process at most one batch; return how many events it applied."""
        after = self.after()
        head = self.head()
        if head <= after and self.moved_to is not None:
            # Idle: the stored position is read again, as another writer (a
            # rebuild's swap) may have moved it since this runner did.
            self.moved_to = None
            after = self.position
        if head <= after:
            return BatchResult(0, after)
        events, reached = self.read_batch(after, head)
        try:
            self.apply_batch(events, after, reached)
        except PositionMovedError:
            logger.warning("projection_position_moved", projection=self.tracking_name)
            self.moved_to = None
            return BatchResult(0, self.position, more=True)
        except BaseException:
            self.moved_to = None  # rolled back: the stored position is the one to trust
            raise
        metrics.projection_batch_applied(self.tracking_name, len(events))
        return BatchResult(len(events), reached, more=reached < head)

    def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Apply everything recorded so far; return how many events were applied."""
        total = 0
        while True:
            result = self.step()
            total += result.applied
            if progress is not None:
                progress(result.position, self.head())
            if not result.more:  # the batch reached the head it read
                return total

    def wait_for(self, position: int, timeout: float, poll: float = 0.02) -> bool:
        """Wait (bounded) until the projection has applied `position`."""
        return wait_until(lambda: self.position >= position, timeout, poll)


class RunnerLoop:
    """Runs a projection until stopped: leads or waits, polls, survives outages."""

    def __init__(
        self,
        make_runner: Callable[[], Follower],
        *,
        poll_interval: float = 0.1,
        max_backoff: float = 5.0,
    ) -> None:
        self.make_runner = make_runner
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.stopping = threading.Event()
        self.caught_up = threading.Event()

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        backoff = self.poll_interval
        while not self.stopping.is_set():
            try:
                self._lead_and_follow()
                backoff = self.poll_interval
            except RECOVERABLE as e:
                logger.warning(
                    "projection_connection_lost", error=type(e).__name__, retry_in=backoff
                )
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    def _lead_and_follow(self) -> None:
        runner = self.make_runner()
        leadership = Leadership(runner.db, runner.tracking_name)
        try:
            while not leadership.try_acquire():
                if self.stopping.wait(self.poll_interval * 5):
                    return
            logger.info("projection_leading", projection=runner.tracking_name)
            while not self.stopping.is_set():
                # A backlog is taken a full batch after another; otherwise the loop
                # waits a poll interval after each step, busy or not, so a steady
                # stream of commands is applied in batches of what arrived
                # meanwhile, not one transaction per command for every projection.
                if runner.step().more:
                    continue
                self.caught_up.set()
                self.stopping.wait(self.poll_interval)
        finally:
            with contextlib.suppress(*RECOVERABLE):
                leadership.release()
            runner.db.close()
