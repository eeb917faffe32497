"""Test-only fault points: with `CASES_FAULT_POINT=NAME` in its environment, a
process kills itself (SIGKILL, no clean-up) the first time it reaches the point
NAME. End-to-end tests use it to stop a server exactly between a command's
commit and its answer. Unset (always, outside those tests), a point costs one
comparison."""

from __future__ import annotations

import os
import signal

ARMED = os.environ.get("CASES_FAULT_POINT") or None


def fault_point(name: str) -> None:
    if ARMED is not None and name == ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
