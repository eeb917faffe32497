"""The head of the event log, watched once for every follower of a process.

An idle follower has nothing to do until the log grows past its position. So
the followers of one process share one watch (ADR 12, amendment "One watch of
the log's head"): whichever of them is waiting when a read falls due reads the
log's head (its highest notification id, one cheap query), at most once a poll
interval, and every follower whose position the head has passed wakes. A
follower that is caught up waits for that instead of querying the log itself
every interval; after `safety` seconds without a wake it steps anyway (the
position may have moved under it: a rebuild's swap; a checkpoint may have
fallen due on the tree).

The followers it wakes together step one at a time (`turn`, ADR 91): all of
them at once took both cores for tens of milliseconds every interval, and a
command recorded meanwhile waited behind them.

There is no thread of its own: the watch lives as long as someone waits on it.
A failed read is raised to the follower that made it (its loop backs off and
reconnects, as after a failed step); the others keep waiting and the next read
falls due an interval later.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

SAFETY_TIMEOUT = 5.0  # seconds a caught-up follower waits for the head before it looks itself


class LogHead:
    """The log's head as last read, and a way to wait until it passes a position."""

    def __init__(
        self, read: Callable[[], int], interval: float, *, safety: float = SAFETY_TIMEOUT
    ) -> None:
        self._read = read
        self.interval = interval
        self.safety = safety
        self.reads = 0  # how many times the log was read (for the tests and benchmarks)
        self._head = 0
        self._read_at = -math.inf
        self._reading = False
        self._changed = threading.Condition()
        self.turn = threading.Lock()  # held by the follower stepping at the head

    def wait_past(self, position: int, stopping: threading.Event) -> bool:
        """Wait until the head is past `position` (True), or until `stopping` is
        set or the safety timeout runs out (False). Reads the head if a read is
        due and no other waiter is reading it."""
        deadline = time.monotonic() + self.safety
        while True:
            with self._changed:
                while True:
                    if self._head > position:
                        return True
                    now = time.monotonic()
                    if stopping.is_set() or now >= deadline:
                        return False
                    due = self._read_at + self.interval
                    if not self._reading and now >= due:
                        self._reading = True
                        break  # this waiter reads
                    pause = self.interval if self._reading else due - now
                    self._changed.wait(min(pause, deadline - now))
            self._read_head()

    def wake(self) -> None:
        """Wake every waiter to look at its stop flag (a loop is stopping)."""
        with self._changed:
            self._changed.notify_all()

    def _read_head(self) -> None:
        head: int | None = None
        try:
            head = self._read()
        finally:
            with self._changed:
                self.reads += 1
                self._reading = False
                self._read_at = time.monotonic()
                if head is not None:
                    self._head = head
                self._changed.notify_all()
