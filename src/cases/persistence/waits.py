"""Bounded waits: how long the API server's statements may wait, and how a wait
that ran out is told from a lost connection (ADR 0034).

On PostgreSQL the server's connections carry a `lock_timeout` and a
`statement_timeout`; on SQLite its connections carry a busy timeout. A statement
that runs out of either is cancelled by the database, and the transaction it
belonged to is rolled back: unlike a connection lost at commit, nothing it wrote
can have been recorded. So the request answers 503 saying so, the connection is
kept (it is fine), and the store is not taken for down.
"""

from __future__ import annotations

import math
import sqlite3

import psycopg

# SQLSTATE 57014 (a statement or lock timeout cancelled it) and 55P03 (NOWAIT or
# lock_timeout): both abort the statement and its transaction.
_POSTGRES_CANCELLED = (psycopg.errors.QueryCanceled, psycopg.errors.LockNotAvailable)
_SQLITE_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


def timed_out(error: BaseException) -> bool:
    """Whether `error` (or what it wraps, as eventsourcing's errors wrap the
    driver's) is a statement the database cancelled for waiting too long."""
    seen: BaseException | None = error
    for _ in range(5):  # the library wraps once; the group commit hands it on as is
        if seen is None:
            return False
        if isinstance(seen, _POSTGRES_CANCELLED):
            return True
        if isinstance(seen, sqlite3.OperationalError):
            code = getattr(seen, "sqlite_errorcode", None)
            if code is not None:
                return code & 0xFF in _SQLITE_BUSY
            return "locked" in str(seen)
        seen = seen.__cause__
    return False


def postgres_session_options(lock_timeout: float, statement_timeout: float) -> str:
    """libpq `options` that set both timeouts for every statement of a session."""
    return (
        f"-c lock_timeout={_milliseconds(lock_timeout)} "
        f"-c statement_timeout={_milliseconds(statement_timeout)}"
    )


def sqlite_busy_seconds(lock_timeout: float) -> int:
    """eventsourcing takes SQLite's busy timeout in whole seconds: round up."""
    return max(1, math.ceil(lock_timeout))


def _milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))
