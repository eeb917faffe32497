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
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import psycopg
import structlog
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    IntegrityError,
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
from cases.persistence.embedded_stores import MEMORY_FACTORY_TOPIC, SQLITE_FACTORY_TOPIC
from cases.persistence.event_log import EventLog
from cases.persistence.group_commit import GroupCommit
from cases.persistence.idempotency_steps import RecordedStep, StepToRecord, steps_from_rows
from cases.persistence.outcomes import OutcomeUnknownError
from cases.persistence.waits import postgres_session_options, sqlite_busy_seconds, timed_out
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
LOCK_TIMEOUT_KEY = "POSTGRES_SESSION_LOCK_TIMEOUT"  # seconds, may be fractional (ADR 0034)
STATEMENT_TIMEOUT_KEY = "POSTGRES_STATEMENT_TIMEOUT"  # likewise
LIBRARY_LOCK_TIMEOUT = 5  # seconds a write waits for the table lock outside the API
SQLITE_LOCK_TIMEOUT = 10  # seconds a SQLite write waits for the file's lock outside the API


class StoreUnavailableError(Exception):
    """Raised when the configured database cannot be opened; the message is one line."""


@dataclass(frozen=True, slots=True)
class StoreOptions:
    """How a process uses the event store beyond the library's defaults.

    On PostgreSQL one read or write takes `attempts` tries while the database is
    away, each waiting at most `pool_timeout` seconds for a connection: its budget.
    `aggregate_cache` is how many working copies its command runner keeps
    (`cases.application.working_copies`). With `lock_timeout` and
    `statement_timeout` (seconds) the database cancels a statement that waits
    longer for a lock or runs longer (ADR 0034); on SQLite the lock timeout is
    the busy timeout."""

    pool_timeout: float
    attempts: int
    aggregate_cache: int = 0
    lock_timeout: float | None = None
    statement_timeout: float | None = None

    @classmethod
    def for_api(cls, settings: Settings) -> StoreOptions:
        return cls(
            settings.api_store_timeout,
            settings.api_store_attempts,
            settings.api_aggregate_cache,
            settings.api_lock_timeout,
            settings.api_statement_timeout,
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
    at once OperationalError while the store is marked down. A statement the
    database cancelled for waiting too long is not a lost connection: it is
    raised at once, and neither checks the pool nor marks the store down."""
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
            except (InterfaceError, OperationalError) as e:
                if timed_out(e):
                    raise
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


class _ReadsComposedOnce:
    """`select_events` with each shape of its statement composed and rendered
    once per recorder, not on every call (the library composes it each time);
    likewise the recorder's qualified table name, for the writes built here."""

    select_events_statement: Composed
    datastore: Any
    events_table_name: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._select_statements: dict[tuple[bool, bool, bool, bool], str] = {}
        self._table_sql: str | None = None

    def _table(self, conn: Any) -> str:
        """`schema.table` of this recorder's rows, rendered once."""
        if self._table_sql is None:
            table = SQL("{0}.{1}").format(
                Identifier(self.datastore.schema), Identifier(self.events_table_name)
            )
            self._table_sql = table.as_string(conn)
        return self._table_sql

    def _select_statement(self, conn: Any, key: tuple[bool, bool, bool, bool]) -> str:
        statements = self._select_statements
        statement = statements.get(key)
        if statement is None:
            has_gt, has_lte, desc, has_limit = key
            composed = self.select_events_statement
            if has_gt:
                composed += SQL(" AND originator_version > %s")
            if has_lte:
                composed += SQL(" AND originator_version <= %s")
            composed += SQL(
                " ORDER BY originator_version DESC" if desc else " ORDER BY originator_version ASC"
            )
            if has_limit:
                composed += SQL(" LIMIT %s")
            statement = statements[key] = composed.as_string(conn)
        return statement

    def _select_events(
        self,
        originator_id: Any,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        params = [originator_id, *(v for v in (gt, lte, limit) if v is not None)]
        key = (gt is not None, lte is not None, desc, limit is not None)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_statement(conn, key), params, prepare=True)
            return [
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]


class CasesAggregateRecorder(_ReadsComposedOnce, PostgresAggregateRecorder):
    """The snapshot store's recorder, with the factory's attempts, writing without
    waiting for the disk (ADR 0028).

    A snapshot is a cache of a replay: the events it summarises are durable
    already, and a snapshot lost in a crash only makes the next load replay more.
    So its transaction commits with `synchronous_commit` off: PostgreSQL answers
    once the commit is in its WAL buffers, without the 2-3 ms flush a command
    waits for, and flushes it with the next commit or within a fraction of a
    second. A snapshot already stored at that version (by another process) is
    the same state, and is left as it is."""

    attempts = LIBRARY_ATTEMPTS
    health: StoreHealth | None = None

    @_attempted
    def insert_events(self, stored_events: Sequence[StoredEvent], **_: Any) -> Sequence[int] | None:
        if not stored_events:
            return None
        rows = ", ".join(_row_literal(e) for e in stored_events)
        with (
            self.datastore.get_connection() as conn,
            psycopg.ClientCursor(conn) as cursor,  # no parameters: one simple query
        ):
            cursor.execute(
                "SET LOCAL synchronous_commit TO OFF; "  # noqa: S608 - literals built by _row_literal
                f"INSERT INTO {self._table(conn)} {_COLUMNS} VALUES {rows} ON CONFLICT DO NOTHING"
            )
        return None

    select_events = _attempted(_ReadsComposedOnce._select_events)


class CasesApplicationRecorder(_ReadsComposedOnce, PostgresApplicationRecorder):
    """The event log's recorder, with the factory's attempts, writing in one statement
    and committing concurrent writes together.

    The library's write locks the events table (so notification ids commit in
    order), sends its statements in a pipeline, waits for their results, then
    sends COMMIT: the lock is held across a round trip and, in a busy server,
    across the writing thread's wait for the GIL in between. Here the lock
    timeout, the lock and one INSERT per command go as one query string, which
    PostgreSQL runs as one implicit transaction and commits at its end: one round
    trip, the lock held only while PostgreSQL runs them and flushes the commit,
    and that flush shared by every command the process had waiting
    (`group_commit.py`, ADR 0027). The rows are written as literals built here
    (UUIDs, integers, checked topics, hex-encoded state), which costs a fraction
    of psycopg's adaptation of an array of composite values (ADR 0026). No NOTIFY
    is sent: nothing here listens (projections poll the log, ADR 0012). A command
    whose version is taken gets IntegrityError and records nothing."""

    attempts = LIBRARY_ATTEMPTS
    health: StoreHealth | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock_sql: str | None = None
        self.group_commit: GroupCommit[_CommandWrite] = GroupCommit(self._write_batch)

    def _lock(self, conn: Any) -> str:
        """The lock timeout and table lock statements, rendered once."""
        if self._lock_sql is None:
            self._lock_sql = SQL("; ").join(self.lock_table_statements).as_string(conn)
        return self._lock_sql

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        idempotency_step: StepToRecord | None = None,
        **_: Any,
    ) -> Sequence[int] | None:
        """Record one command's events (and its idempotency step) or nothing.

        A write whose connection failed after it was sent may have committed: it
        is tried again, and a retry that finds its keys taken compares what is
        stored with what it wrote. The same bytes (each event's state carries its
        command's correlation id and recorded moment) are its own commit, not a
        lost race. A write still unsettled when the attempts are spent raises
        `OutcomeUnknownError`, never a plain connection error (ADR 0031)."""
        if not stored_events:
            return None
        write = _CommandWrite(", ".join(_row_literal(e) for e in stored_events), idempotency_step)
        return self._write_until_settled(write, stored_events)

    def _write_until_settled(
        self, write: _CommandWrite, stored_events: Sequence[StoredEvent]
    ) -> list[int]:
        keys = [(_uuid(e.originator_id), int(e.originator_version)) for e in stored_events]
        health = self.health or StoreHealth(lambda: None)
        if health.down:
            raise OperationalError("the database could not be reached a moment ago")
        sent = False  # whether an attempt may have committed
        for tries in range(1, self.attempts + 1):
            try:
                ids = self.group_commit.write(write, keys)
            except IntegrityError:
                ours = self._ids_if_ours(stored_events) if sent else None
                if ours is None:
                    raise
                logger.info("ambiguous_commit_resolved", outcome="recorded")
                return ours
            except (InterfaceError, OperationalError) as e:
                if timed_out(e) and not sent:
                    raise  # cancelled by the database: rolled back, nothing recorded
                sent = sent or isinstance(e, OutcomeUnknownError)
                health.after_error()
                if tries == self.attempts:
                    health.gave_up()
                    if sent:
                        raise OutcomeUnknownError(
                            "the connection was lost while the write was committing"
                        ) from e
                    raise
                time.sleep(RETRY_WAIT)
            else:
                health.succeeded()
                return ids
        raise OperationalError("no attempt was made")  # attempts < 1

    def _ids_if_ours(self, stored_events: Sequence[StoredEvent]) -> list[int] | None:
        """The notification ids of `stored_events` if the log holds exactly them."""
        keys = ", ".join(
            f"('{_uuid(e.originator_id)}'::uuid, {int(e.originator_version)}::bigint)"
            for e in stored_events
        )
        try:
            with self.datastore.get_connection() as conn, psycopg.ClientCursor(conn) as cursor:
                cursor.execute(
                    "SELECT originator_id, originator_version, state, notification_id "  # noqa: S608 - literals built here
                    f"FROM {self._table(conn)} "
                    f"WHERE (originator_id, originator_version) IN ({keys})"
                )
                found = {
                    (r["originator_id"], r["originator_version"]): (
                        bytes(r["state"]),
                        r["notification_id"],
                    )
                    for r in cursor.fetchall()
                }
        except (InterfaceError, OperationalError) as e:
            raise OutcomeUnknownError("the write's outcome could not be read back") from e
        ids = []
        for event in stored_events:
            stored = found.get((_uuid(event.originator_id), int(event.originator_version)))
            if stored is None or stored[0] != event.state:
                return None
            ids.append(int(stored[1]))
        return ids

    def _write_batch(self, commands: Sequence[_CommandWrite]) -> list[list[tuple[UUID, int, int]]]:
        """One transaction: the lock, then each command's rows if their keys are free."""
        with (
            self.datastore.get_connection() as conn,
            psycopg.ClientCursor(conn) as cursor,  # no parameters: one simple query
        ):
            prefix, table = self._lock(conn), self._table(conn)
            inserts = [_insert_if_free(table, c.rows, c.step) for c in commands]
            results: list[list[tuple[UUID, int, int]]] = []
            try:
                cursor.execute("; ".join([prefix, *inserts]))
                while True:
                    if (cursor.statusmessage or "").startswith(("INSERT", "SELECT")):
                        results.append(
                            [
                                (
                                    r["originator_id"],
                                    r["originator_version"],
                                    r["notification_id"],
                                )
                                for r in cursor.fetchall()
                            ]
                        )
                    if not cursor.nextset():
                        break
            except psycopg.Error as e:
                if _may_have_committed(e):
                    raise OutcomeUnknownError(str(e)) from e
                raise
            if len(results) != len(commands):
                raise ProgrammingError(f"the write returned {len(results)} of {len(commands)}")
            return results

    def select_steps(self, key_id: str) -> dict[str, RecordedStep]:
        """The recorded steps of the request keyed `key_id`, by name."""
        return steps_from_rows(self._select_step_rows(key_id))

    @_attempted
    def _select_step_rows(self, key_id: str) -> list[tuple[Any, ...]]:
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(
                "SELECT step, request_hash, receipts, decided_at, memo "
                "FROM idempotency_steps WHERE key_id = %s",
                (key_id,),
            )
            return [
                (r["step"], r["request_hash"], r["receipts"], r["decided_at"], r["memo"])
                for r in cursor.fetchall()
            ]

    select_events = _attempted(_ReadsComposedOnce._select_events)
    select_notifications = _attempted(PostgresApplicationRecorder.select_notifications)
    max_notification_id = _attempted(PostgresApplicationRecorder.max_notification_id)


_COLUMNS = "(originator_id, originator_version, topic, state)"  # of a row literal, in order
_TOPIC = re.compile(r"^[A-Za-z0-9_.:]{1,500}$")


def _uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _row_literal(event: StoredEvent) -> str:
    """One event as a row of SQL literals. Nothing in it can end a literal: a
    UUID's text is hex and dashes, the version an int, the topic is checked to be
    a dotted `module:Qualified.Name`, and the state is written as hex digits."""
    if not _TOPIC.match(event.topic):
        raise ProgrammingError(f"not a topic: {event.topic[:80]!r}")
    return (
        f"('{_uuid(event.originator_id)}'::uuid, {int(event.originator_version)}::bigint, "
        f"'{event.topic}', decode('{event.state.hex()}', 'hex'))"
    )


@dataclass(frozen=True, slots=True)
class _CommandWrite:
    """One command's rows as SQL literals, and the idempotency step they complete."""

    rows: str
    step: StepToRecord | None


def _insert_if_free(table: str, rows: str, step: StepToRecord | None = None) -> str:
    """Insert `rows` unless one of their keys is taken, or their step is recorded
    already (then none: no rows return); with a step, record it beside them.
    Race-free only under the table lock the write takes first."""
    free = (
        f"NOT EXISTS (SELECT 1 FROM {table} e JOIN new n "  # noqa: S608 - a rendered identifier
        "ON e.originator_id = n.originator_id AND e.originator_version = n.originator_version)"
    )
    returning = "RETURNING originator_id, originator_version, notification_id"
    if step is None:
        return (
            f"WITH new {_COLUMNS} AS (VALUES {rows}) "  # noqa: S608 - literals built by _row_literal
            f"INSERT INTO {table} {_COLUMNS} "
            f"SELECT originator_id, originator_version, topic, state FROM new WHERE {free} "
            f"{returning}"
        )
    # Every part of a step is a checked digest, name or moment; the memo goes as hex.
    named = f"key_id = '{step.key_id}' AND step = '{step.step}'"
    memo = (
        "NULL"
        if step.memo is None
        else f"convert_from(decode('{step.memo.encode().hex()}', 'hex'), 'UTF8')"
    )
    return (
        f"WITH new {_COLUMNS} AS (VALUES {rows}), "  # noqa: S608 - literals checked above
        f"ins AS (INSERT INTO {table} {_COLUMNS} "
        f"SELECT originator_id, originator_version, topic, state FROM new WHERE {free} "
        f"AND NOT EXISTS (SELECT 1 FROM idempotency_steps WHERE {named}) {returning}), "
        "step AS (INSERT INTO idempotency_steps "
        "(key_id, step, request_hash, receipts, decided_at, memo) "
        f"SELECT '{step.key_id}', '{step.step}', '{step.request_hash}', "
        "(SELECT json_agg(json_build_array(originator_id, originator_version, "
        "notification_id))::text FROM ins), "
        f"'{step.decided_at.isoformat()}'::timestamptz, {memo} "
        "WHERE EXISTS (SELECT 1 FROM ins)) "
        "SELECT originator_id, originator_version, notification_id FROM ins"
    )


def _may_have_committed(error: psycopg.Error) -> bool:
    """Whether a write that failed so may still have committed: the connection
    broke (no SQLSTATE, or class 08) or the server was shut down under it (57P).
    Any other error the server reported rolled the transaction back."""
    state = error.sqlstate
    return state is None or state.startswith(("08", "57P"))


class CasesPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory, its recorders retrying `POSTGRES_ATTEMPTS`
    times, each waiting up to `POSTGRES_POOL_TIMEOUT` seconds for a connection (the
    library's `POSTGRES_CONNECT_TIMEOUT` is that wait, in whole seconds only).

    With `POSTGRES_SESSION_LOCK_TIMEOUT` and `POSTGRES_STATEMENT_TIMEOUT` every
    pooled connection carries both timeouts from its start (libpq `options`), and
    the write's own `SET LOCAL lock_timeout` uses the same lock timeout (the
    library's `POSTGRES_LOCK_TIMEOUT` takes whole seconds only)."""

    aggregate_recorder_class = CasesAggregateRecorder
    application_recorder_class = CasesApplicationRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.attempts = int(self.env.get(ATTEMPTS_KEY) or LIBRARY_ATTEMPTS)
        pool_timeout = self.env.get(POOL_TIMEOUT_KEY)
        if pool_timeout:
            self.datastore.pool.timeout = float(pool_timeout)
        self.health = StoreHealth(self.datastore.pool.check)
        lock_timeout = self.env.get(LOCK_TIMEOUT_KEY)
        statement_timeout = self.env.get(STATEMENT_TIMEOUT_KEY)
        if lock_timeout and statement_timeout:
            self.datastore.lock_timeout = float(lock_timeout)  # type: ignore[assignment]
            connect_kwargs = self.datastore.pool.kwargs
            if not isinstance(connect_kwargs, dict):
                raise ProgrammingError("the pool's connection arguments are not a dict")
            connect_kwargs["options"] = postgres_session_options(
                float(lock_timeout), float(statement_timeout)
            )

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
    as the library: 10 attempts of up to the connect timeout each)."""
    if url.kind is StoreKind.MEMORY:
        return {"PERSISTENCE_MODULE": MEMORY_FACTORY_TOPIC}
    if url.kind is StoreKind.SQLITE and url.path is not None:
        return {
            "PERSISTENCE_MODULE": SQLITE_FACTORY_TOPIC,
            "SQLITE_DBNAME": str(url.path),
            "SQLITE_LOCK_TIMEOUT": str(
                sqlite_busy_seconds(options.lock_timeout)
                if options and options.lock_timeout
                else SQLITE_LOCK_TIMEOUT
            ),
        }
    return {
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
        "POSTGRES_LOCK_TIMEOUT": str(LIBRARY_LOCK_TIMEOUT),
        LOCK_TIMEOUT_KEY: str(options.lock_timeout or "") if options else "",
        STATEMENT_TIMEOUT_KEY: str(options.statement_timeout or "") if options else "",
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
