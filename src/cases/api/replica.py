"""Queries and reports read from a PostgreSQL streaming replica (ADR 0064).

With `CASES_READ_DATABASE_URL` the API's queries and reports take a connection to
the replica; commands, idempotency keys, the audit log's routes and the outbox keep
the primary. Read-your-writes is kept by the tracking rows, which replicate with
the read models they track: a query with `min_position` waits up to
`CASES_READ_REPLICA_WAIT` for the replica's tracking to reach the position, and then
turns to the primary for the rest of that request (and the rest of the 5 s wait).
A replica that cannot be reached is left alone for `RETRY_AFTER` seconds, its
queries answered by the primary meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import structlog

from cases.api.read_pool import ReadPool
from cases.db.database import CONNECTION_ERRORS, ProjectionDatabase
from cases.db.statement import sql
from cases.persistence.database_url import DatabaseUrl, parse_database_url
from cases.persistence.waits import timed_out
from cases.settings import Settings

logger = structlog.get_logger("cases.api")

RETRY_AFTER = 5.0  # seconds a replica that failed is left alone before it is tried again
_REPLAYED = sql("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text")
_BYTES_BEHIND = sql("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), {}::pg_lsn)")
_TRACKED = sql("SELECT projection, position FROM projection_tracking")


@dataclass(frozen=True, slots=True)
class ReplicaStatus:
    """How the replica stands, for /ready: whether it answers, whether it still
    replays the primary (a promoted replica no longer does), how many bytes of WAL
    it has yet to replay, and how many log positions its read models are behind
    the primary's (the largest gap of any projection)."""

    reachable: bool
    replaying: bool = False
    lag_bytes: int | None = None
    lag_positions: int | None = None
    error: str | None = None


class ReplicaDatabase(ProjectionDatabase):
    """A request's connection to the replica, which may turn to the primary.

    Turned (`turn_to_primary`), it is a connection to the primary until it is
    closed; the replica's pool closes it instead of keeping it."""

    def __init__(
        self,
        url: DatabaseUrl,
        primary: DatabaseUrl,
        connect_timeout: int,
        waits: tuple[float, float],
        catch_up_seconds: float,
    ) -> None:
        super().__init__(url, connect_timeout, waits=waits)
        self.primary = primary
        self.catch_up_seconds = catch_up_seconds
        self.on_primary = False

    def turn_to_primary(self) -> None:
        self.url = self.primary
        self.on_primary = True
        self.connect()


class Replica:
    """The replica's connections, and whether it is worth trying now."""

    def __init__(self, pool: ReadPool) -> None:
        self.pool = pool
        self.unreachable: str | None = None
        self._retry_at = float("-inf")

    def usable(self) -> bool:
        return time.monotonic() >= self._retry_at

    def mark_down(self, error: Exception) -> None:
        text = str(error).strip()
        reason = text.splitlines()[0] if text else type(error).__name__
        if self.unreachable is None:  # once per outage, not once a request
            logger.warning("replica_unreachable", reason=reason)
        self.unreachable = reason
        self._retry_at = time.monotonic() + RETRY_AFTER
        self.pool.close()

    def mark_up(self) -> None:
        if self.unreachable is not None:
            logger.info("replica_reachable")
        self.unreachable = None

    def open(self) -> ProjectionDatabase | None:
        """A connection to the replica (blocking: call in a thread), or None while
        it cannot be reached."""
        try:
            db = self.pool.take() or self.pool.open_db()
        except CONNECTION_ERRORS as e:
            self.mark_down(e)
            return None
        self.mark_up()
        return db

    @contextmanager
    def lent(self, db: ProjectionDatabase) -> Iterator[ProjectionDatabase]:
        """Yields `db`, then keeps it for the next request, unless it turned to the
        primary or broke; a replica connection that broke marks the replica down."""
        try:
            yield db
        except CONNECTION_ERRORS as e:
            if timed_out(e):
                self._give_back(db)
            else:
                if not _on_primary(db):
                    self.mark_down(e)
                with suppress(*CONNECTION_ERRORS):
                    db.close()
            raise
        except BaseException:
            self._give_back(db)
            raise
        self._give_back(db)

    def _give_back(self, db: ProjectionDatabase) -> None:
        if _on_primary(db):
            with suppress(*CONNECTION_ERRORS):
                db.close()
        else:
            self.pool.give_back(db)

    def status(self, primary: ProjectionDatabase) -> ReplicaStatus:
        """The replica's state against the primary (blocking)."""
        db = self.open()
        if db is None:
            return ReplicaStatus(reachable=False, error=self.unreachable)
        with self.lent(db):
            replayed = db.fetchone(_REPLAYED)
            copied: dict[str, int] = dict(db.fetchall(_TRACKED))
        replaying, lsn = (bool(replayed[0]), replayed[1]) if replayed else (False, None)
        behind = primary.fetchone(_BYTES_BEHIND, (lsn,)) if lsn is not None else None
        tracked: dict[str, int] = dict(primary.fetchall(_TRACKED))
        gaps = [position - copied.get(name, 0) for name, position in tracked.items()]
        return ReplicaStatus(
            reachable=True,
            replaying=replaying,
            lag_bytes=max(int(behind[0]), 0) if behind is not None else None,
            lag_positions=max([0, *gaps]),
        )

    def close(self) -> None:
        self.pool.close()


def _on_primary(db: ProjectionDatabase) -> bool:
    return not isinstance(db, ReplicaDatabase) or db.on_primary


def serving_pool(primary: ReadPool, replica: Replica | None, db: ProjectionDatabase) -> ReadPool:
    """The pool of the server `db` is on (a report's helper connections must read
    the same server's snapshot)."""
    if replica is not None and isinstance(db, ReplicaDatabase) and not db.on_primary:
        return replica.pool
    return primary


def replica_from(settings: Settings, primary: DatabaseUrl) -> Replica | None:
    """The replica `CASES_READ_DATABASE_URL` names, or None."""
    if settings.read_database_url is None:
        return None
    url = parse_database_url(settings.read_database_url, "CASES_READ_DATABASE_URL")

    def open_db() -> ReplicaDatabase:
        return ReplicaDatabase(
            url,
            primary,
            settings.postgres_connect_timeout,
            (settings.api_lock_timeout, settings.api_statement_timeout),
            settings.read_replica_wait,
        )

    return Replica(ReadPool(open_db, size=16))
