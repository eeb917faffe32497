"""How soon a thread waiting for the interpreter gets it back (issue 20, ADR 71 amendment).

A runner reading ahead has two threads: one applies a batch, statement after
statement, and waits for the server's answer to each; the other decodes the
next batch, in Python from start to end. Each answer wakes the applying thread,
which must then wait for the decoding one to let the interpreter go: that takes
the interpreter's switch interval, 5 ms by default, so a batch's few statements
each waited up to 5 ms beside the decoding, and the server's work overlapped
the decoding less than it could. At 0.5 ms the applying thread gets the
interpreter back ten times sooner after each answer; the forced switches cost
the decoding thread nothing that the counts show (ADR 71 amendment of
2026-12-04, docs/benchmarks.md).
"""

from __future__ import annotations

import sys

SWITCH_INTERVAL = 0.0005
"""Seconds a thread runs before one waiting for the interpreter is let in."""


def prompt_switching() -> None:
    """Let a waiting thread in after at most `SWITCH_INTERVAL` (for the whole
    process: the interpreter has one interval); an interval set lower stays."""
    if sys.getswitchinterval() > SWITCH_INTERVAL:
        sys.setswitchinterval(SWITCH_INTERVAL)
