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

While behind (a batch came back full), the runner reads and decodes the next
batch on a thread of its own while it applies the one in hand (ADR 71,
amendment "Read the next batch while applying one"): the client's decoding and
the server's work on the batch overlap instead of taking turns. The batch read
ahead is only data; it is used by the next step if that step starts where it
was read from, and dropped otherwise (a refused or failed batch, a moved
position). Each step joins its reader before it returns, so no thread outlives
a step.

A runner given a `catch_up_batch_size` takes larger batches while far behind on
PostgreSQL (ADR 89; a rebuild and `run --once` do by default): a case's events
fold into one row write more often, and each batch's fixed work is shared by more
events. Near the head it takes `batch_size`, so a read's `min_position` wait is as
short as before. On SQLite a batch keeps `batch_size`: its transaction holds the
one writer lock the commands need too.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog
from eventsourcing.persistence import Notification, PersistenceError

from cases.clock import Clock, SystemClock, wait_until
from cases.db.database import CONNECTION_ERRORS, ProjectionDatabase
from cases.followers.decoded import decoded_events
from cases.followers.leadership import Leadership
from cases.followers.log_head import LogHead
from cases.followers.switching import prompt_switching
from cases.followers.tracking import Tracking
from cases.observability import metrics
from cases.persistence.event_log import EventLog
from cases.projections.layout import PARTITIONABLE, refuse_partitioned
from cases.projections.projection import (
    LIVE,
    PositionedEvent,
    Projection,
    TableNames,
    behind,
    on_writing_begins,
)

logger = structlog.get_logger("cases.projections")

RECOVERABLE: tuple[type[Exception], ...] = (*CONNECTION_ERRORS, PersistenceError)

CATCH_UP_FACTOR = 5
"""The batch of a projection catching up alone while far behind, in batch sizes
(ADR 89)."""


def catch_up_batch(batch_size: int, asked: int | None = None) -> int:
    """The batch a projection catching up alone (a rebuild, `run --once`) takes
    while far behind: the one `asked` for, else `CATCH_UP_FACTOR` times its batch
    size."""
    return batch_size * CATCH_UP_FACTOR if asked is None else asked


def refuse_smaller_catch_up(batch_size: int, catch_up_batch_size: int) -> None:
    """A ValueError if the catch-up batch is smaller than the batch."""
    if catch_up_batch_size < batch_size:
        raise ValueError(
            f"the catch-up batch ({catch_up_batch_size}) is smaller than the batch "
            f"size ({batch_size})"
        )


class PositionMovedError(Exception):
    """Raised inside a batch when another writer moved the tracking position first."""


@dataclass(frozen=True, slots=True)
class ReadBatch:
    """A batch read and decoded: the events after `after` up to `head` (or the
    first `batch_size` of them), and the position the batch reaches."""

    after: int
    head: int
    events: list[PositionedEvent]
    reached: int

    @property
    def full(self) -> bool:
        """The batch stopped short of the head it read: more is waiting."""
        return self.reached < self.head


class ReadAhead:
    """One batch read and decoded on a thread of its own (the runner applies the
    batch before it meanwhile). A failed read leaves no batch: the step that
    wanted it reads for itself, and meets the failure there if it lasts."""

    def __init__(
        self,
        read: Callable[[int], ReadBatch],
        after: int,
        name: str,
        until: threading.Event | None = None,
    ) -> None:
        self.after = after
        self.until = until  # set when the read may start; None: at once
        self._batch: ReadBatch | None = None
        self._thread = threading.Thread(
            target=self._read, args=(read,), name=f"read-ahead {name}", daemon=True
        )
        self._thread.start()

    def _read(self, read: Callable[[int], ReadBatch]) -> None:
        if self.until is not None:
            self.until.wait()
        try:
            with prompt_switching():  # the applying thread gets the interpreter back sooner
                self._batch = read(self.after)
        except Exception:  # the next step reads for itself, and meets it if it lasts
            logger.debug("projection_read_ahead_failed", exc_info=True)

    def join(self) -> ReadBatch | None:
        if self.until is not None:
            self.until.set()  # a batch that never said its writes began: read now
        self._thread.join()
        return self._batch


@dataclass(frozen=True, slots=True)
class BatchResult:
    applied: int
    position: int
    more: bool = False  # the batch was full: more was recorded than it took


class Follower(Protocol):
    """What a `RunnerLoop` runs: a projection runner or the audit log's tree builder.
    `takes_turns`: whether its steps at the head wait for their turn (ADR 91); one
    that waits inside its step (the sealer) must not hold the others up."""

    @property
    def db(self) -> ProjectionDatabase: ...

    @property
    def tracking_name(self) -> str: ...

    @property
    def takes_turns(self) -> bool: ...

    def head(self) -> int: ...

    def step(self) -> BatchResult: ...


class ProjectionRunner:
    """Applies the event log to one projection's tables."""

    takes_turns = True

    def __init__(
        self,
        log: EventLog,
        projection: Projection,
        db: ProjectionDatabase,
        *,
        batch_size: int = 1000,
        catch_up_batch_size: int | None = None,
        tables: TableNames = LIVE,
        tracking_name: str | None = None,
        clock: Clock | None = None,
        read_ahead: bool = True,
    ) -> None:
        if catch_up_batch_size is not None:
            refuse_smaller_catch_up(batch_size, catch_up_batch_size)
        self.log = log
        self.projection = projection
        self.db = db
        self.batch_size = batch_size
        # The batch while at least that many positions wait: PostgreSQL only (ADR 89).
        self.catch_up_batch_size = batch_size
        if catch_up_batch_size is not None and db.is_postgres:
            self.catch_up_batch_size = catch_up_batch_size
        self.tables = tables
        self.tracking_name = tracking_name or projection.name
        self.clock = clock or SystemClock()
        self.tracking = Tracking(db)
        self.topics = projection.topics()
        if self.tracking_name == projection.name and projection.name in PARTITIONABLE:
            refuse_partitioned(db, projection.name)  # its partitions keep it (ADR 90)
        self.tracking.ensure(self.tracking_name)
        self.moved_to: int | None = None  # where this runner last moved tracking
        self.decoded = decoded_events(log)  # shared with the process's other followers
        self.read_ahead = read_ahead  # read the next batch while applying a full one
        self.ahead: ReadBatch | None = None  # the next batch, read while the last applied

    @property
    def position(self) -> int:
        return self.tracking.position(self.tracking_name)

    def after(self) -> int:
        """Where the next batch starts: where this runner moved tracking last, else
        the stored position. Only a guess, as the stored one is: `apply_batch`
        compares it with the locked row, so nothing is applied twice."""
        return self.moved_to if self.moved_to is not None else self.position

    def head(self) -> int:
        return self.log.head()

    def batch_limit(self, after: int, head: int) -> int:
        """How many events a batch after `after` may take: the catch-up batch while at
        least that many log positions wait up to `head`, else the batch size."""
        catch_up = self.catch_up_batch_size
        return catch_up if head - after >= catch_up else self.batch_size

    def read_batch(self, after: int, head: int) -> tuple[list[PositionedEvent], int]:
        """Events after `after` up to `head`, and the position the batch reaches."""
        limit = self.batch_limit(after, head)
        notifications = self.notifications(after, head, limit)
        reached = notifications[-1].id if len(notifications) == limit else head
        decoded = self.decoded.decode(notifications)
        events = [PositionedEvent(n.id, e) for n, e in zip(notifications, decoded, strict=True)]
        return events, reached

    def notifications(self, after: int, head: int, limit: int) -> Sequence[Notification]:
        """At most `limit` of the projection's notifications after `after` up to
        `head`, in order (a partition's runner reads only its own, ADR 90)."""
        return self.log.recorder.select_notifications(
            start=after + 1, limit=limit, stop=head, topics=self.topics
        )

    def apply_batch(self, events: list[PositionedEvent], after: int, reached: int) -> None:
        """Apply events and move tracking from `after` to `reached`, atomically.
        A projection that `pipelines_writes` has the batch's statements sent in a
        pipeline (PostgreSQL): its writes do not wait for the server, the commit
        does, and raises the first error among them (ADR 86)."""
        with (
            self.db.pipeline() if self.projection.pipelines_writes else contextlib.nullcontext(),
            self.db.transaction(),
        ):
            if self.tracking.lock(self.tracking_name) != after:
                raise PositionMovedError(self.tracking_name)
            if events:
                self.projection.apply(self.db, events, self.tables)
            self.tracking.move(self.tracking_name, reached, self.clock.now())
        self.moved_to = reached

    def read_from(self, after: int) -> ReadBatch:
        """The head, then the batch after `after` up to it (a read-ahead's work)."""
        return self.read(after, self.head())

    def read(self, after: int, head: int) -> ReadBatch:
        events, reached = self.read_batch(after, head)
        return ReadBatch(after, head, events, reached)

    def step(self) -> BatchResult:
        """Process at most one batch; return how many events it applied."""
        after = self.after()
        batch, self.ahead = self.ahead, None
        if batch is None or batch.after != after:  # none read ahead, or from elsewhere
            head = self.head()
            if head <= after and self.moved_to is not None:
                # Idle: the stored position is read again, as another writer (a
                # rebuild's swap) may have moved it since this runner did.
                self.moved_to = None
                after = self.position
            if head <= after:
                return BatchResult(0, after)
            batch = self.read(after, head)
        ahead = self._read_ahead(batch)
        try:
            with (
                on_writing_begins(ahead.until.set if ahead and ahead.until else None),
                behind(batch.full),
            ):
                self.apply_batch(batch.events, after, batch.reached)
        except PositionMovedError:
            self.moved_to = None
            self._drop(ahead)
            logger.warning("projection_position_moved", projection=self.tracking_name)
            return BatchResult(0, self.position, more=True)
        except BaseException:
            self.moved_to = None  # rolled back: the stored position is the one to trust
            self._drop(ahead)
            raise
        if ahead is not None:
            self.ahead = ahead.join()
        metrics.projection_batch_applied(self.tracking_name, len(batch.events))
        return BatchResult(len(batch.events), batch.reached, more=batch.full)

    def _read_ahead(self, batch: ReadBatch) -> ReadAhead | None:
        """The next batch read on a thread while this full one is applied: at
        once, or, for a projection that folds then writes, once its writes begin."""
        if not (self.read_ahead and batch.full):
            return None
        until = threading.Event() if self.projection.folds_then_writes else None
        return ReadAhead(self.read_from, batch.reached, self.tracking_name, until)

    @staticmethod
    def _drop(ahead: ReadAhead | None) -> None:
        """Wait for a read-ahead's thread and throw its batch away: it was read
        from a position this runner no longer trusts."""
        if ahead is not None:
            ahead.join()

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
    """Runs a projection until stopped: leads or waits, follows the log's head,
    survives outages. With `head`, the process's shared watch of the log (ADR 12,
    amendment "One watch of the log's head"); without, a watch of its own."""

    def __init__(
        self,
        make_runner: Callable[[], Follower],
        *,
        poll_interval: float = 0.1,
        max_backoff: float = 5.0,
        head: LogHead | None = None,
    ) -> None:
        self.make_runner = make_runner
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.head = head
        self.stopping = threading.Event()
        self.caught_up = threading.Event()

    def stop(self) -> None:
        self.stopping.set()
        if self.head is not None:
            self.head.wake()

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
        watch = self.head or LogHead(runner.head, self.poll_interval)
        try:
            while not leadership.try_acquire():
                if self.stopping.wait(self.poll_interval * 5):
                    return
            logger.info("projection_leading", projection=runner.tracking_name)
            at_head = False
            while not self.stopping.is_set():
                # A backlog is taken a full batch after another; otherwise the loop
                # waits for the head of the log to pass its position. The head is
                # read once a poll interval (by one waiter for the whole process),
                # so a steady stream of commands is applied in batches of what
                # arrived meanwhile, not one transaction per command for every
                # projection, and an idle process reads the log once an interval.
                # Woken there, the followers of the process step one at a time
                # (ADR 91); a backlog's batches take no turn.
                with watch.turn if at_head and runner.takes_turns else contextlib.nullcontext():
                    result = runner.step()
                at_head = not result.more
                if result.more:
                    continue
                self.caught_up.set()
                watch.wait_past(result.position, self.stopping)
        finally:
            with contextlib.suppress(*RECOVERABLE):
                leadership.release()
            runner.db.close()
