"""Garbage collection for long-running processes (the API server, projection runners).

CPython's default thresholds run a young collection every 700 net allocations and
a full one whenever a quarter more objects have survived: in a server that keeps
working copies, the app's routes and schemas and every imported module, a full
collection walked all of it and stopped the process for up to 200 ms, the largest
part of the API's latency tail (ADR 0025). What start-up allocated is frozen
(never collected: it lives as long as the process), and young collections run ten
times less often, so the few cycles a request leaves are still collected.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 7_000  # allocations less deallocations between young collections


def settle_after_start() -> None:
    """Collect once, freeze what survived, and collect young objects less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
