"""How soon a thread waiting for the interpreter gets it back while a batch is
read ahead (issue 20, ADR 71 amendment).

A runner reading ahead has two threads: one applies a batch, statement after
statement, and waits for the server's answer to each; the other decodes the
next batch, in Python from start to end. Each answer wakes the applying thread,
which must then wait for the decoding one to let the interpreter go: that takes
the interpreter's switch interval, 5 ms by default, so a batch's few statements
each waited up to 5 ms beside the decoding, and the server's work overlapped
the decoding less than it could.

While at least one batch is being read ahead the interval is 0.5 ms, so the
applying thread gets the interpreter back ten times sooner after each answer;
when the last read-ahead of the process ends, the interval it found is put
back. The interval is the whole process's (the interpreter has one): an API
serving beside its followers switches faster only while they read ahead, that
is while they catch up on a backlog, not while they keep up.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SWITCH_INTERVAL = 0.0005
"""Seconds a thread runs before one waiting for the interpreter is let in, while
a batch is read ahead."""

_lock = threading.Lock()
_reading = 0  # read-aheads running in the process
_lowered_from: float | None = None  # the interval put back after the last, if lowered


@contextmanager
def prompt_switching() -> Iterator[None]:
    """The switch interval at most `SWITCH_INTERVAL` for as long as this (or any
    other read-ahead of the process) runs; the interval found put back after the last."""
    global _reading, _lowered_from  # noqa: PLW0603 - the interpreter's interval is process-wide
    with _lock:
        if _reading == 0 and sys.getswitchinterval() > SWITCH_INTERVAL:
            _lowered_from = sys.getswitchinterval()
            sys.setswitchinterval(SWITCH_INTERVAL)
        _reading += 1
    try:
        yield
    finally:
        with _lock:
            _reading -= 1
            if _reading == 0 and _lowered_from is not None:
                sys.setswitchinterval(_lowered_from)
                _lowered_from = None
