"""Idle followers of one process read the log through one watch of its head
(ADR 12, amendment "One watch of the log's head"), on both stores: the reads of
the log are counted, not timed.

Every follower `cases projections run` runs is here: the read models, the audit
log's tree builder and the outbox's follower. The watch's safety timeout is set
far beyond the tests' bounds, so only the watch can wake a follower."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from cases.audit_log.tree_store import TreeStore
from cases.bootstrap import Services
from cases.db.database import ProjectionDatabase
from cases.followers.in_process import InProcessProjections
from cases.followers.outbox import OUTBOX
from cases.followers.runner import RunnerLoop
from cases.followers.tracking import Tracking
from cases.settings import Settings
from tests.integration.projections.test_runner import receive_a_case, wait_until

BOUND = 30.0  # seconds: a correctness bound, not a speed target
NO_SAFETY = 3600.0  # the watch's safety timeout here: never reached
READS = ("max_notification_id", "select_notifications", "select_rows")


class CountedReads:
    """The log's reads, counted (and the head's, made to fail on demand)."""

    def __init__(self, recorder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.failing = 0  # how many of the next reads of the head fail
        self.failed = 0
        self.lock = threading.Lock()
        for name in READS:
            if hasattr(recorder, name):
                monkeypatch.setattr(recorder, name, self._counted(getattr(recorder, name), name))

    def _counted(self, read: Callable[..., Any], name: str) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                self.count += 1
                if name == "max_notification_id" and self.failing:
                    self.failing -= 1
                    self.failed += 1
                    raise psycopg.OperationalError("the log's connection was lost")
            return read(*args, **kwargs)

        return counted


@pytest.fixture
def projections(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[InProcessProjections, CountedReads]]:
    """Every follower a runner process has, started and caught up, the log's
    reads counted from the start."""
    runners = InProcessProjections.from_settings(
        settings, poll_interval=0.02, audit_log=True, outbox=True
    )
    runners.head.safety = NO_SAFETY
    reads = CountedReads(runners.log.recorder, monkeypatch)
    runners.start()
    try:
        assert wait_until(lambda: all(loop.caught_up.is_set() for loop in loops(runners)), BOUND)
        yield runners, reads
    finally:
        runners.stop()
    assert runners.failures == {}


def loops(runners: InProcessProjections) -> list[RunnerLoop]:
    return [loop for loop in runners.loops.values() if isinstance(loop, RunnerLoop)]


def test_idle_followers_read_the_log_once_an_interval_between_them(
    projections: tuple[InProcessProjections, CountedReads],
) -> None:
    """While nothing is written, every read of the log is the watch's: one per
    interval for the whole process, not one per follower (ten here)."""
    runners, reads = projections
    assert len(loops(runners)) == len(runners.names) + 2  # the tree, the outbox
    counted, watched = reads.count, runners.head.reads
    assert wait_until(lambda: reads.count - counted >= 40, BOUND)
    logged, by_watch = reads.count - counted, runners.head.reads - watched
    assert logged <= by_watch + 2  # a read in flight at either end


def test_a_caught_up_follower_wakes_for_an_event_written_later(
    projections: tuple[InProcessProjections, CountedReads],
    services: Services,
    db: ProjectionDatabase,
) -> None:
    """An event written after every follower went idle is applied by each: the
    read models, the outbox's follower and the audit log's tree."""
    runners, _ = projections
    watched = runners.head.reads
    assert wait_until(lambda: runners.head.reads > watched, BOUND)  # all waiting on it
    receipt = receive_a_case(services, notes=1)
    assert runners.wait_for(receipt.position, BOUND)
    assert wait_until(lambda: Tracking(db).position(OUTBOX) >= receipt.position, BOUND)
    assert wait_until(lambda: TreeStore(db).head().position >= receipt.position, BOUND)


def test_stopping_ends_every_wait(projections: tuple[InProcessProjections, CountedReads]) -> None:
    """Stopped while they wait for the head (which would not wake them for an
    hour), every follower's thread ends."""
    runners, _ = projections
    threads = [t for t in threading.enumerate() if t.name.startswith("projection-")]
    assert len(threads) >= len(loops(runners))
    runners.stop(timeout=BOUND)
    assert [t.name for t in threads if t.is_alive()] == []


def test_a_lost_connection_of_the_watch_recovers(
    projections: tuple[InProcessProjections, CountedReads], services: Services
) -> None:
    """The watch's next reads of the head fail, as when its connection is lost:
    the followers that made them back off and reconnect, and an event written
    meanwhile is applied by every read model afterwards."""
    runners, reads = projections
    with reads.lock:
        reads.failing = 3
    assert wait_until(lambda: reads.failed == 3, BOUND)
    receipt = receive_a_case(services)
    assert runners.wait_for(receipt.position, BOUND)
