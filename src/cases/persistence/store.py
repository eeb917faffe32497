"""Open the event log on the store `CASES_DATABASE_URL` names.

On PostgreSQL the recorders are the library's with three changes (ADR 0019): a
write is one query string (one round trip, the table lock held only inside
PostgreSQL); reads and writes are tried `attempts` times after connection errors
(the library: 10), each waiting at most the pool timeout for a connection, and
then mark the store down for a second; there are no pre-pings, and the first
connection error checks the pool's idle connections instead. The API server
passes `StoreOptions` (a budget of a few seconds and an aggregate cache); other
processes keep the library's budget.
"""

from __future__ import annotations

import functools
import inspect
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
import structlog
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InterfaceError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresFactory,
)
from psycopg.sql import SQL, Composed, Identifier

from cases.domain.billing_account import BillingAccount
from cases.domain.collection_policy import CollectionPolicy
from cases.domain.support_case import SupportCase
from cases.domain.support_offering import SupportOffering
from cases.persistence.database_url import (
    SETTING,
    DatabaseUrl,
    StoreKind,
    parse_database_url,
)
from cases.persistence.event_log import EventLog
from cases.settings import Settings

logger = structlog.get_logger("cases.store")

CREATE_LOCK = 7_305_011_211  # advisory lock held while the first process creates the tables
SNAPSHOTTED = (SupportCase, SupportOffering, BillingAccount, CollectionPolicy)
LIBRARY_ATTEMPTS = 10  # eventsourcing's own @retry(max_attempts=10, wait=0.2)
RETRY_WAIT = 0.2  # seconds between attempts, as the library's
POOL_CHECK_EVERY = 1.0  # seconds: at most one check of the idle connections per pool
DOWN_FOR = 1.0  # seconds others fail at once after a read or write used up its attempts
ATTEMPTS_KEY = "POSTGRES_ATTEMPTS"  # read by CasesPostgresFactory
POOL_TIMEOUT_KEY = "POSTGRES_POOL_TIMEOUT"  # likewise (the library's is whole seconds)
FACTORY_TOPIC = "cases.persistence.store:CasesPostgresFactory"


class StoreUnavailableError(Exception):
    """Raised when the configured database cannot be opened; the message is one line."""


@dataclass(frozen=True, slots=True)
class StoreOptions:
    """How a process uses the event store beyond the library's defaults.

    On PostgreSQL one read or write takes `attempts` tries while the database is
    away, each waiting at most `pool_timeout` seconds for a connection: its budget.
    `aggregate_cache` aggregates are kept in memory and brought up to date from
    the store on each load (one query for newer events instead of the snapshot,
    the events since it and their replay)."""

    pool_timeout: float
    attempts: int
    aggregate_cache: int = 0

    @classmethod
    def for_api(cls, settings: Settings) -> StoreOptions:
        return cls(
            settings.api_store_timeout,
            settings.api_store_attempts,
            settings.api_aggregate_cache,
        )

    @property
    def worst_case(self) -> float:
        """Seconds before an unreachable database fails the read or write."""
        return self.attempts * self.pool_timeout + (self.attempts - 1) * RETRY_WAIT


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


F = TypeVar("F", bound=Callable[..., Any])


def _attempted(method: F) -> F:
    """The library's method without its 10 retries, tried `self.attempts` times;
    at once OperationalError while the store is marked down."""
    inner = inspect.unwrap(method)

    @functools.wraps(inner)
    def attempt(self: Any, *args: Any, **kwargs: Any) -> Any:
        health: StoreHealth | None = self.health
        if health is not None and health.down:
            raise OperationalError("the database could not be reached a moment ago")
        tries = 1
        while True:
            try:
                result = inner(self, *args, **kwargs)
            except (InterfaceError, OperationalError):
                if health is not None:
                    health.after_error()
                if tries >= self.attempts:
                    if health is not None:
                        health.gave_up()
                    raise
                tries += 1
                time.sleep(RETRY_WAIT)
            else:
                if health is not None:
                    health.succeeded()
                return result

    return attempt  # type: ignore[return-value]


class CasesAggregateRecorder(PostgresAggregateRecorder):
    """The snapshot store's recorder, with the factory's attempts."""

    attempts = LIBRARY_ATTEMPTS
    health: StoreHealth | None = None
    insert_events = _attempted(PostgresAggregateRecorder.insert_events)
    select_events = _attempted(PostgresAggregateRecorder.select_events)


class CasesApplicationRecorder(PostgresApplicationRecorder):
    """The event log's recorder, with the factory's attempts, writing in one statement.

    The library's write locks the events table (so notification ids commit in
    order), sends its statements in a pipeline, waits for their results, then
    sends COMMIT: the lock is held across a round trip and, in a busy server,
    across the writing thread's wait for the GIL in between. Here the same
    statements (lock timeout, lock, NOTIFY, INSERT ... RETURNING) go as one
    query string, which PostgreSQL runs as one implicit transaction and commits at
    its end: one round trip, the lock held only while PostgreSQL runs them, and
    none of psycopg's pipeline machinery (a third less CPU per write). A key
    conflict rolls it all back and still raises IntegrityError."""

    attempts = LIBRARY_ATTEMPTS
    health: StoreHealth | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        notify = SQL("NOTIFY {0}").format(Identifier(self.channel_name))
        self.write_statement: Composed = SQL("; ").join(
            [*self.lock_table_statements, notify, self.insert_events_statement]
        )

    @_attempted
    def insert_events(self, stored_events: Sequence[StoredEvent], **_: Any) -> Sequence[int] | None:
        if not stored_events:
            return None
        rows = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
        with (
            self.datastore.get_connection() as conn,
            psycopg.ClientCursor(conn) as cursor,  # binds here: one simple query
        ):
            cursor.execute(self.write_statement, (rows,))
            while not (cursor.statusmessage or "").startswith("INSERT"):
                if not cursor.nextset():
                    raise ProgrammingError("the write returned no INSERT result")
            return [row["notification_id"] for row in cursor.fetchall()]

    select_events = _attempted(PostgresApplicationRecorder.select_events)
    select_notifications = _attempted(PostgresApplicationRecorder.select_notifications)
    max_notification_id = _attempted(PostgresApplicationRecorder.max_notification_id)


class CasesPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory, its recorders retrying `POSTGRES_ATTEMPTS`
    times, each waiting up to `POSTGRES_POOL_TIMEOUT` seconds for a connection (the
    library's `POSTGRES_CONNECT_TIMEOUT` is that wait, in whole seconds only)."""

    aggregate_recorder_class = CasesAggregateRecorder
    application_recorder_class = CasesApplicationRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.attempts = int(self.env.get(ATTEMPTS_KEY) or LIBRARY_ATTEMPTS)
        pool_timeout = self.env.get(POOL_TIMEOUT_KEY)
        if pool_timeout:
            self.datastore.pool.timeout = float(pool_timeout)
        self.health = StoreHealth(self.datastore.pool.check)

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        recorder = super().aggregate_recorder(purpose)
        self._budget(recorder)
        return recorder

    def application_recorder(self) -> ApplicationRecorder:
        recorder = super().application_recorder()
        self._budget(recorder)
        return recorder

    def _budget(self, recorder: object) -> None:
        if isinstance(recorder, CasesAggregateRecorder | CasesApplicationRecorder):
            recorder.attempts = self.attempts
            recorder.health = self.health


def store_env(
    url: DatabaseUrl, settings: Settings, options: StoreOptions | None = None
) -> dict[str, str]:
    """The eventsourcing environment for the store `url` names (with `options`, else
    as the library: 10 attempts of up to the connect timeout each, no cache)."""
    cache = {}
    if options is not None and options.aggregate_cache > 0:
        cache = {
            "AGGREGATE_CACHE_MAXSIZE": str(options.aggregate_cache),
            "AGGREGATE_CACHE_FASTFORWARD": "y",  # read newer events on every load
            "DEEPCOPY_FROM_AGGREGATE_CACHE": "y",  # a refused command leaves it intact
        }
    if url.kind is StoreKind.MEMORY:
        return {"PERSISTENCE_MODULE": "eventsourcing.popo", **cache}
    if url.kind is StoreKind.SQLITE and url.path is not None:
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(url.path),
            "SQLITE_LOCK_TIMEOUT": "10",
            **cache,
        }
    return {
        **cache,
        "PERSISTENCE_MODULE": FACTORY_TOPIC,
        "POSTGRES_DBNAME": url.dbname,
        "POSTGRES_HOST": url.host,
        "POSTGRES_PORT": str(url.port),
        "POSTGRES_USER": url.user,
        "POSTGRES_PASSWORD": url.password,
        "POSTGRES_POOL_SIZE": str(settings.postgres_pool_size),
        "POSTGRES_MAX_OVERFLOW": str(settings.postgres_pool_size),
        # The library's name for how long a statement waits for a pooled connection.
        "POSTGRES_CONNECT_TIMEOUT": str(settings.postgres_connect_timeout),
        POOL_TIMEOUT_KEY: str(options.pool_timeout if options else ""),
        ATTEMPTS_KEY: str(options.attempts if options else LIBRARY_ATTEMPTS),
        # No ping before each use (a round trip per statement): a connection the
        # database dropped fails its attempt, is discarded, and the pool is checked.
        "POSTGRES_PRE_PING": "n",
        "POSTGRES_LOCK_TIMEOUT": "5",
    }


def open_event_log(settings: Settings, options: StoreOptions | None = None) -> EventLog:
    """Open (and create if needed) the event log, or fail with one clear line.

    `options` (the API server's) bound each read and write on PostgreSQL and keep
    aggregates in memory; without them reads and writes retry as the library does,
    up to about 50 s while the database is away.
    """
    url = parse_database_url(settings.effective_database_url)
    if url.kind is StoreKind.SQLITE and url.path is not None:
        try:
            url.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreUnavailableError(
                f"{SETTING}: cannot create the directory for {url.describe()}: {e.strerror}"
            ) from None
    env = store_env(url, settings, options)
    try:
        if url.kind is not StoreKind.POSTGRES:
            return _event_log(env, settings)
        with _postgres_connection(url, settings) as conn:
            if _has_event_tables(conn):
                # Every process re-running the library's DDL races with the others
                # ("tuple concurrently updated"): only the first creates the tables.
                return _event_log({**env, "CREATE_TABLE": "n"}, settings)
            conn.execute("SELECT pg_advisory_lock(%s)", (CREATE_LOCK,))
            try:
                return _event_log(env, settings)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (CREATE_LOCK,))
    except (PersistenceError, psycopg.Error, sqlite3.Error, OSError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise StoreUnavailableError(f"{SETTING}: cannot open {url.describe()}: {reason}") from None


def _event_log(env: dict[str, str], settings: Settings) -> EventLog:
    return EventLog(env, snapshot_interval=settings.snapshot_interval, snapshotted=SNAPSHOTTED)


def _has_event_tables(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    found = conn.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
        "AND tablename IN ('cases_events', 'cases_snapshots')"
    ).fetchone()
    return bool(found and found[0] == 2)


def _postgres_connection(
    url: DatabaseUrl, settings: Settings
) -> psycopg.Connection[tuple[object, ...]]:
    """Connect once, directly, so the error says why (the pool only says it timed out)."""
    try:
        return psycopg.connect(
            host=url.host,
            port=url.port,
            dbname=url.dbname,
            user=url.user,
            password=url.password or None,
            connect_timeout=settings.postgres_connect_timeout,
            autocommit=True,
        )
    except psycopg.Error as e:
        lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
        reason = "; ".join(lines) if lines else type(e).__name__
        raise StoreUnavailableError(f"{SETTING}: cannot open {url.describe()}: {reason}") from None
