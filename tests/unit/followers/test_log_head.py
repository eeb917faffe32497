"""The shared watch of the log's head (ADR 12, amendment "One watch of the log's
head"): many waiters, one read at a time, counted; no timing asserted."""

from __future__ import annotations

import threading

import pytest

from cases.followers.log_head import LogHead

WAITERS = 8
TIMEOUT = 30.0  # seconds: a bound for a thread to end, not a speed target


class Log:
    """A log head that moves to 1 after `reads` reads; counts them."""

    def __init__(self, reads: int, failing: int = 0) -> None:
        self.reads = 0
        self.moves_after = reads
        self.failing = failing  # the first reads fail, as during an outage
        self.lock = threading.Lock()

    def head(self) -> int:
        with self.lock:
            self.reads += 1
            if self.reads <= self.failing:
                raise ConnectionError("the log is unreachable")
            return 1 if self.reads > self.moves_after else 0


def wait_in_threads(
    watch: LogHead, stopping: threading.Event
) -> tuple[list[object], list[threading.Thread]]:
    """WAITERS threads waiting for the head to pass 0; each notes what it got
    (True, False, or the exception it met)."""
    outcomes: list[object] = []

    def wait() -> None:
        while True:
            try:
                outcomes.append(watch.wait_past(0, stopping))
            except ConnectionError as e:
                outcomes.append(e)
                continue  # its loop would back off and wait again
            return

    threads = [threading.Thread(target=wait, daemon=True) for _ in range(WAITERS)]
    for thread in threads:
        thread.start()
    return outcomes, threads


def joined(threads: list[threading.Thread]) -> bool:
    for thread in threads:
        thread.join(TIMEOUT)
    return not any(thread.is_alive() for thread in threads)


def test_many_waiters_read_the_log_once_per_read_due() -> None:
    """Eight waiters for the head to move: the log is read once per interval for
    all of them (ten reads while it stays, one that sees it move), not once per
    waiter, and every waiter wakes."""
    log = Log(reads=10)
    watch = LogHead(log.head, interval=0.001, safety=TIMEOUT * 2)
    outcomes, threads = wait_in_threads(watch, threading.Event())
    assert joined(threads)
    assert outcomes == [True] * WAITERS
    assert log.reads == watch.reads == 11


def test_a_head_already_past_wakes_without_a_read() -> None:
    log = Log(reads=0)
    watch = LogHead(log.head, interval=60.0)
    assert watch.wait_past(0, threading.Event())  # the first read is due at once
    assert watch.wait_past(0, threading.Event())
    assert log.reads == 1


def test_stopping_wakes_every_waiter() -> None:
    """With a head that never moves and reads an hour apart, a stop set (and the
    watch woken, as a loop's stop does) ends every wait at once."""
    log = Log(reads=10**9)
    watch = LogHead(log.head, interval=3600.0, safety=3600.0)
    stopping = threading.Event()
    outcomes, threads = wait_in_threads(watch, stopping)
    stopping.set()
    watch.wake()
    assert joined(threads)
    assert outcomes == [False] * WAITERS
    assert log.reads <= 1  # the first waiter's read, if it started before the stop


def test_the_safety_timeout_ends_a_wait() -> None:
    watch = LogHead(Log(reads=10**9).head, interval=0.001, safety=0.01)
    assert not watch.wait_past(0, threading.Event())


def test_a_failed_read_is_raised_to_its_reader_and_the_watch_goes_on() -> None:
    """The first three reads fail: each is raised to the waiter that made it (one
    waiter each); later reads are made, and all waiters wake when the head moves."""
    log = Log(reads=5, failing=3)
    watch = LogHead(log.head, interval=0.001, safety=TIMEOUT * 2)
    outcomes, threads = wait_in_threads(watch, threading.Event())
    assert joined(threads)
    failures = [o for o in outcomes if isinstance(o, ConnectionError)]
    assert len(failures) == 3
    assert [o for o in outcomes if o is True] == [True] * WAITERS
    assert log.reads == watch.reads == 6


@pytest.mark.parametrize("position", [1, 5])
def test_a_waiter_ahead_of_the_head_keeps_waiting(position: int) -> None:
    """A waiter whose position is at or past the head read is not woken by it."""
    watch = LogHead(Log(reads=0).head, interval=0.001, safety=0.05)
    assert not watch.wait_past(position, threading.Event())
    assert watch.reads >= 1
