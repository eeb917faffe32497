"""What one PostgreSQL pool's recent failures say, shared by its recorders (ADR 0019)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

logger = structlog.get_logger("cases.store")

POOL_CHECK_EVERY = 1.0  # seconds: at most one check of the idle connections per pool
DOWN_FOR = 1.0  # seconds others fail at once after a read or write used up its attempts


class StoreHealth:
    """What one pool's recent failures say, shared by its recorders.

    After a connection error it checks the pool's idle connections (at most once a
    `POOL_CHECK_EVERY`): without pre-pings, a database restart leaves every idle
    connection broken, and each would otherwise fail one attempt of a request.

    A read or write that used up its attempts marks the store down for `DOWN_FOR`
    seconds, during which others fail at once instead of spending their own
    budget. Without it, requests queued behind one another (loads of one
    aggregate share a lock in the aggregate cache) would each wait a budget more
    than the one before."""

    def __init__(self, check: Callable[[], None]) -> None:
        self._check = check
        self._lock = threading.Lock()
        self._last_check = float("-inf")
        self._down_until = float("-inf")

    @property
    def down(self) -> bool:
        return time.monotonic() < self._down_until

    def succeeded(self) -> None:
        self._down_until = float("-inf")

    def gave_up(self) -> None:
        self._down_until = time.monotonic() + DOWN_FOR

    def after_error(self) -> None:
        now = time.monotonic()
        if now - self._last_check < POOL_CHECK_EVERY or not self._lock.acquire(blocking=False):
            return
        try:
            self._last_check = now
            self._check()
        except Exception as e:  # noqa: BLE001 - a failed check only means: still down
            logger.debug("pool_check_failed", error=type(e).__name__)
        finally:
            self._lock.release()
