"""Every recorder and infrastructure factory of `cases`: the one module that
subclasses eventsourcing's recorders and reaches into their non-public parts.

What it relies on in eventsourcing (9.5), checked by
`tests/unit/persistence/test_recorders_contract.py` and, on a live database,
`tests/integration/test_recorders_contract.py` (ADR 0037):

- PostgreSQL (`eventsourcing.postgres`): the recorders' `datastore` and its
  `get_connection()` (autocommit connections with dict rows, raising psycopg's
  integrity errors as the library's `IntegrityError`: a lone command's write
  relies on it, `tests/integration/test_group_commit.py`), `schema`,
  `lock_timeout` (read when a recorder is made) and `pool` (psycopg_pool:
  `timeout`, `kwargs`, `check()`); the recorders' `events_table_name`,
  `select_events_statement` (`SELECT * … WHERE originator_id = %s`, to which the
  version bounds are appended; its rows read by position) and
  `lock_table_statements` (the lock timeout, then the table lock);
  `select_notifications` and `max_notification_id` wrapped by the library's
  `@retry` (unwrapped here with `inspect.unwrap`, so that only our attempts
  apply); the factory's `env`, `datastore`, `aggregate_recorder_class` and
  `application_recorder_class`, and `Application.save(**kwargs)` passing its
  keyword arguments on to `insert_events`.
- SQLite (`eventsourcing.sqlite`): `SQLiteApplicationRecorder._insert_events(c,
  stored_events, **kwargs)` and `SQLiteAggregateRecorder._insert_events`, called
  inside the write's transaction with `insert_events`'s keyword arguments (the
  former returning the notification ids), and the cursor's `sqlite_cursor`; the
  recorder's `datastore.transaction(commit=False)`; the factory's
  `application_recorder_class` and `aggregate_recorder_class`, and its
  `datastore.pool` (replaced before any connection is opened); the pool's
  arguments kept as attributes of the same names, its `_create_connection`,
  `_get_connection(timeout)`, `put_connection`, `_time_remaining`, `_writer_lock`,
  `_num_writers`, `_closed` and `_mutually_exclusive_read_write`, and
  `SQLiteConnection(sqlite_conn, max_age)` (ADR 0059 amendment of 2026-12-05).
- In memory (`eventsourcing.popo`): `POPOApplicationRecorder()` made without
  arguments and `POPOFactory.application_recorder()`.

On PostgreSQL the recorders are the library's with three changes (ADR 0019): a
write is one query string (one round trip, the table lock held only inside
PostgreSQL, `event_sql.py`); reads and writes are tried `attempts` times after
connection errors (the library: 10), each waiting at most the pool timeout for a
connection, and then mark the store down for a second; there are no pre-pings,
and the first connection error checks the pool's idle connections instead
(`store_health.py`). The embedded recorders also write a save's idempotency
step in the transaction of its events (SQLite) or under the lock that orders
them (in memory), and read a request's steps back (ADR 0031). The SQLite
recorders also write, in the same transaction, the new subject key and search
digests a sealed record carries (`StoredWithSubject`, ADR 0067 amended).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from uuid import UUID

import psycopg
import structlog
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    ConnectionPoolClosedError,
    ConnectionUnavailableError,
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    Notification,
    NotSupportedError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresFactory,
)
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteFactory,
)
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from cases.fault_points import fault_point
from cases.persistence.event_rows import LAST_POSITION, StoredRow
from cases.persistence.event_sql import (
    COLUMNS,
    CommandWrite,
    as_uuid,
    insert_if_free,
    insert_plainly,
    may_have_committed,
    row_literal,
)
from cases.persistence.group_commit import GroupCommit
from cases.persistence.idempotency_steps import (
    RecordedStep,
    StepToRecord,
    encode_rows,
    receipts_of,
    steps_from_rows,
    stored_moment,
)
from cases.persistence.loading import (
    events_after_statement,
    latest_snapshot_statement,
    latest_statement,
    split_latest,
)
from cases.persistence.outcomes import OutcomeUnknownError
from cases.persistence.sealing_mapper import StoredWithSubject
from cases.persistence.statement import identifier
from cases.persistence.store_health import StoreHealth
from cases.persistence.subject_keys import KeyMadeElsewhereError, SubjectRows
from cases.persistence.waits import postgres_session_options, timed_out

logger = structlog.get_logger("cases.store")

LIBRARY_ATTEMPTS = 10  # eventsourcing's own @retry(max_attempts=10, wait=0.2)
RETRY_WAIT = 0.2  # seconds between attempts, as the library's
ATTEMPTS_KEY = "POSTGRES_ATTEMPTS"  # read by CasesPostgresFactory
POOL_TIMEOUT_KEY = "POSTGRES_POOL_TIMEOUT"  # likewise (the library's is whole seconds)
LOCK_TIMEOUT_KEY = "POSTGRES_SESSION_LOCK_TIMEOUT"  # seconds, may be fractional (ADR 0034)
STATEMENT_TIMEOUT_KEY = "POSTGRES_STATEMENT_TIMEOUT"  # likewise
POSTGRES_FACTORY_TOPIC = "cases.persistence.recorders:CasesPostgresFactory"
SQLITE_FACTORY_TOPIC = "cases.persistence.recorders:CasesSQLiteFactory"
MEMORY_FACTORY_TOPIC = "cases.persistence.recorders:CasesMemoryFactory"


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


EventsShape = tuple[bool, bool, bool, bool]
"""Which of `select_events`' options a read uses: newer than, up to, newest first, a limit."""


def events_shape(
    originator_id: Any, gt: int | None, lte: int | None, desc: bool, limit: int | None
) -> tuple[EventsShape, list[Any]]:
    """A `select_events` read's shape and its parameters, in the statement's order."""
    params = [originator_id, *(v for v in (gt, lte, limit) if v is not None)]
    return (gt is not None, lte is not None, desc, limit is not None), params


def events_tail(shape: EventsShape, placeholder: str) -> str:
    """What a read of `shape` adds to the library's `select_events_statement`
    (which selects one aggregate's events), in the store's `placeholder`."""
    has_gt, has_lte, desc, has_limit = shape
    tail = f" AND originator_version > {placeholder}" if has_gt else ""
    tail += f" AND originator_version <= {placeholder}" if has_lte else ""
    tail += " ORDER BY originator_version DESC" if desc else " ORDER BY originator_version ASC"
    return tail + (f" LIMIT {placeholder}" if has_limit else "")


class _ReadsComposedOnce:
    """`select_events` with each shape of its statement composed and rendered
    once per recorder, not on every call (the library composes it each time);
    likewise the recorder's qualified table name, for the writes built here."""

    select_events_statement: Composed
    datastore: Any
    events_table_name: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._select_statements: dict[EventsShape, str] = {}
        self._table_sql: str | None = None

    def _table(self, conn: Any) -> str:
        """`schema.table` of this recorder's rows, rendered once."""
        if self._table_sql is None:
            table = SQL("{0}.{1}").format(
                Identifier(self.datastore.schema), Identifier(self.events_table_name)
            )
            self._table_sql = table.as_string(conn)
        return self._table_sql

    def _select_statement(self, conn: Any, key: EventsShape) -> str:
        statements = self._select_statements
        statement = statements.get(key)
        if statement is None:
            composed = self.select_events_statement + SQL(events_tail(key, "%s"))
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
        key, params = events_shape(originator_id, gt, lte, desc, limit)
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            # The library's `SELECT *`: the table's columns in order, id, version, topic, state.
            curs.execute(self._select_statement(conn, key), params, prepare=True)
            return [StoredEvent(row[0], row[1], row[2], bytes(row[3])) for row in curs.fetchall()]


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
        rows = ", ".join(row_literal(e) for e in stored_events)
        with (
            self.datastore.get_connection() as conn,
            psycopg.ClientCursor(conn) as cursor,  # no parameters: one simple query
        ):
            cursor.execute(
                "SET LOCAL synchronous_commit TO OFF; "  # noqa: S608 - literals built by row_literal
                f"INSERT INTO {self._table(conn)} {COLUMNS} VALUES {rows} ON CONFLICT DO NOTHING"
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
        self._latest_sql: dict[tuple[str, bool], str] = {}
        self.group_commit: GroupCommit[CommandWrite] = GroupCommit(self._write_batch)
        self.contested_batches = 0  # batches written again, each command's rows if free

    @_attempted
    def select_latest(
        self, originator_id: Any, snapshots: Any, lte: int | None = None
    ) -> tuple[StoredEvent | None, list[StoredEvent]]:
        """The latest snapshot in `snapshots` (a recorder) and the events after it,
        in one statement (`cases.persistence.loading`)."""
        key = (snapshots.events_table_name, lte is not None)
        params = {"originator_id": originator_id, "lte": lte}
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            statement = self._latest_sql.get(key)
            if statement is None:
                schema = self.datastore.schema
                composed = latest_statement(
                    identifier(schema, self.events_table_name),
                    identifier(schema, key[0]),
                    upto=key[1],
                )
                statement = self._latest_sql[key] = composed.postgres(conn)
            curs.execute(statement, params, prepare=True)
            return split_latest(originator_id, curs.fetchall())

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
        write = CommandWrite(", ".join(row_literal(e) for e in stored_events), idempotency_step)
        return self._write_until_settled(write, stored_events)

    def _write_until_settled(
        self, write: CommandWrite, stored_events: Sequence[StoredEvent]
    ) -> list[int]:
        keys = [(as_uuid(e.originator_id), int(e.originator_version)) for e in stored_events]
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
            f"('{as_uuid(e.originator_id)}'::uuid, {int(e.originator_version)}::bigint)"
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
            stored = found.get((as_uuid(event.originator_id), int(event.originator_version)))
            if stored is None or stored[0] != event.state:
                return None
            ids.append(int(stored[1]))
        return ids

    def _write_batch(self, commands: Sequence[CommandWrite]) -> list[list[tuple[UUID, int, int]]]:
        """One transaction: the lock, then every command's rows as plain inserts;
        if one of them finds a key taken (or its step recorded), the batch again
        with each command's rows inserted only if free, so only its own fails
        (ADR 0027, amendments of 2026-12-04). A command alone: its rows, or a
        unique violation for the whole."""
        with (
            self.datastore.get_connection() as conn,
            # No parameters: one simple query, never prepared; rows as tuples.
            psycopg.ClientCursor(conn, row_factory=tuple_row) as cursor,
        ):
            prefix, table = self._lock(conn), self._table(conn)
            plain = [insert_plainly(table, c.rows, c.step) for c in commands]
            try:
                return self._run_batch(cursor, prefix, plain)
            except psycopg.errors.UniqueViolation:  # rolled back whole: nothing recorded
                if len(commands) == 1:
                    raise  # its own answer: the one command's key or step is taken
                self.contested_batches += 1
            return self._run_batch(
                cursor, prefix, [insert_if_free(table, c.rows, c.step) for c in commands]
            )

    @staticmethod
    def _run_batch(
        cursor: Any, prefix: str, inserts: list[str]
    ) -> list[list[tuple[UUID, int, int]]]:
        results: list[list[tuple[UUID, int, int]]] = []
        try:
            cursor.execute("; ".join([prefix, *inserts]), prepare=False)
            while True:
                if (cursor.statusmessage or "").startswith(("INSERT", "SELECT")):
                    results.append(cursor.fetchall())
                if not cursor.nextset():
                    break
        except psycopg.Error as e:
            if may_have_committed(e):
                raise OutcomeUnknownError(str(e)) from e
            raise
        if len(results) != len(inserts):
            raise ProgrammingError(f"the write returned {len(results)} of {len(inserts)}")
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

    @_attempted
    def select_rows(self, start: int, limit: int, stop: int | None = None) -> list[StoredRow]:
        """Up to `limit` rows of the log from position `start` on (to `stop`, inclusive), as
        stored (ADR 0043): tuples in binary format, no notification objects (the verifier's
        read)."""
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row, binary=True) as cursor,
        ):
            cursor.execute(
                "SELECT notification_id, originator_id, originator_version, topic, state "  # noqa: S608 - a rendered identifier
                f"FROM {self._table(conn)} WHERE notification_id >= %s "
                "AND notification_id <= %s ORDER BY notification_id LIMIT %s",
                (start, LAST_POSITION if stop is None else stop, limit),
                prepare=True,
            )
            rows: list[StoredRow] = cursor.fetchall()
            return rows

    @_attempted
    def select_partition(
        self, start: int, stop: int, limit: int, topics: Sequence[str], *, part: int, parts: int
    ) -> list[Notification]:
        """As `select_notifications` from `start` to `stop` of `topics`, of the
        aggregates whose id's last byte is `part` modulo `parts` only (ADR 90). The
        server filters them, so a partition's runner reads and decodes its own."""
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor(row_factory=tuple_row) as cursor,
        ):
            # The planner takes the filter for rare and reads in parallel workers:
            # 9.5 against 2 ms a batch of 1 000 (EXPLAIN ANALYZE, ADR 90).
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            cursor.execute(
                "SELECT notification_id, originator_id, originator_version, topic, state "  # noqa: S608 - a rendered identifier
                f"FROM {self._table(conn)} WHERE notification_id >= %s "
                "AND notification_id <= %s AND topic = ANY(%s) "
                "AND get_byte(uuid_send(originator_id), 15) %% %s = %s "
                "ORDER BY notification_id LIMIT %s",
                (start, stop, list(topics), parts, part, limit),
                prepare=True,
            )
            return [
                Notification(
                    id=row[0],
                    originator_id=row[1],
                    originator_version=row[2],
                    topic=row[3],
                    state=bytes(row[4]),
                )
                for row in cursor.fetchall()
            ]

    select_events = _attempted(_ReadsComposedOnce._select_events)
    select_notifications = _attempted(PostgresApplicationRecorder.select_notifications)
    max_notification_id = _attempted(PostgresApplicationRecorder.max_notification_id)


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
        # A recorder's construction takes a connection (the library registers its
        # type adapters): it waits the connect timeout, as opening a connection may
        # take on a loaded machine; reads and writes wait the pool timeout after it.
        self.connect_wait = self.datastore.pool.timeout
        pool_timeout = self.env.get(POOL_TIMEOUT_KEY)
        self.pool_timeout = float(pool_timeout) if pool_timeout else self.connect_wait
        self.datastore.pool.timeout = self.pool_timeout
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
        with self._constructing():
            recorder = super().aggregate_recorder(purpose)
        self._budget(recorder)
        return recorder

    def application_recorder(self) -> ApplicationRecorder:
        with self._constructing():
            recorder = super().application_recorder()
        self._budget(recorder)
        return recorder

    @contextlib.contextmanager
    def _constructing(self) -> Iterator[None]:
        self.datastore.pool.timeout = self.connect_wait
        try:
            yield
        finally:
            self.datastore.pool.timeout = self.pool_timeout

    def _budget(self, recorder: object) -> None:
        if isinstance(recorder, CasesAggregateRecorder | CasesApplicationRecorder):
            recorder.attempts = self.attempts
            recorder.health = self.health


def _subject_rows(stored_events: Sequence[StoredEvent]) -> list[SubjectRows]:
    return [
        e.subject_rows
        for e in stored_events
        if type(e) is StoredWithSubject and e.subject_rows is not None
    ]


_LIBRARY_ERRORS: tuple[tuple[type[sqlite3.Error], type[PersistenceError]], ...] = (
    (sqlite3.InterfaceError, InterfaceError),
    (sqlite3.DataError, DataError),
    (sqlite3.OperationalError, OperationalError),
    (sqlite3.IntegrityError, IntegrityError),
    (sqlite3.InternalError, InternalError),
    (sqlite3.ProgrammingError, ProgrammingError),
    (sqlite3.NotSupportedError, NotSupportedError),
    (sqlite3.DatabaseError, DatabaseError),
    (sqlite3.Error, PersistenceError),
)


@contextlib.contextmanager
def _as_library_errors() -> Iterator[None]:
    """sqlite3's errors raised as the library's, as its SQLite transactions raise them."""
    try:
        yield
    except sqlite3.Error as e:
        for theirs, library in _LIBRARY_ERRORS:
            if isinstance(e, theirs):
                raise library(e) from e
        raise


class WritesSubjectRows(SQLiteAggregateRecorder):
    """Writes the subject keys and digests that sealed records carry in the records'
    own transaction (one commit: no event is ever stored without its key), then
    lets the keys hold a new key; a failed write makes them forget it."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        rows = _subject_rows(stored_events)
        if not rows:
            return super().insert_events(stored_events, **kwargs)
        try:
            ids = super().insert_events(stored_events, subject_rows=rows, **kwargs)
        except BaseException:
            for each in rows:
                each.keys.not_recorded(each)
            raise
        for each in rows:
            each.keys.recorded(each)
        return ids

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        *,
        subject_rows: Sequence[SubjectRows] = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        if subject_rows:
            try:
                subject_rows[0].keys.write_with_record(c.sqlite_cursor, subject_rows)
            except KeyMadeElsewhereError as e:  # retried on fresh state, as a lost race
                raise IntegrityError(str(e)) from e
        return super()._insert_events(c, stored_events, **kwargs)


class CasesSQLiteAggregateRecorder(WritesSubjectRows):
    """The snapshot store's recorder: a snapshot's new subject key in its transaction."""


class CasesSQLiteApplicationRecorder(WritesSubjectRows, SQLiteApplicationRecorder):
    """Writes a save's step in the transaction of its events; a step recorded
    already (the key's primary key) fails the whole save with IntegrityError.
    Reads the latest snapshot and the events after it in one transaction."""

    _latest_sql: dict[tuple[str, bool], tuple[str, str]] | None = None
    _select_statements: dict[EventsShape, str] | None = None  # by shape, made once

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """The library's read of an aggregate's events, run as one statement on its
        own: SQLite runs a lone SELECT in a read transaction of its own, so the
        library's BEGIN and ROLLBACK around it added two calls and nothing else (a
        working copy's read of newer events, once a command; ADR 0059 amendment of
        2026-12-05)."""
        key, params = events_shape(
            originator_id.hex if isinstance(originator_id, UUID) else originator_id,
            gt,
            lte,
            desc,
            limit,
        )
        statements = self._select_statements
        if statements is None:
            statements = self._select_statements = {}
        statement = statements.get(key)
        if statement is None:
            statement = statements[key] = self.select_events_statement + events_tail(key, "?")
        with self.datastore.get_connection(commit=False) as conn, _as_library_errors():
            cursor = conn.cursor().sqlite_cursor
            try:
                rows = cursor.execute(statement, params).fetchall()
            finally:
                cursor.close()
        convert = self.convert_originator_id
        return [StoredEvent(convert(r[0]), r[1], r[2], r[3]) for r in rows]

    def select_latest(
        self, originator_id: Any, snapshots: Any, lte: int | None = None
    ) -> tuple[StoredEvent | None, list[StoredEvent]]:
        """The latest snapshot in `snapshots` (a recorder) and the events after it,
        in one transaction (`cases.persistence.loading`)."""
        key = (snapshots.events_table_name, lte is not None)
        cache = self._latest_sql
        if cache is None:
            cache = self._latest_sql = {}
        statements = cache.get(key)
        if statements is None:
            statements = cache[key] = (
                latest_snapshot_statement(identifier(key[0]), upto=key[1]).sqlite(),
                events_after_statement(identifier(self.events_table_name), upto=key[1]).sqlite(),
            )
        stored_id = originator_id.hex if isinstance(originator_id, UUID) else originator_id
        params: dict[str, Any] = {"originator_id": stored_id, "lte": lte, "gt": 0}
        snapshot = None
        with self.datastore.transaction(commit=False) as c:
            c.execute(statements[0], params)
            row = c.fetchone()
            if row is not None:
                snapshot = StoredEvent(originator_id, row[0], row[1], row[2])
                params["gt"] = row[0]
            c.execute(statements[1], params)
            events = [StoredEvent(originator_id, r[0], r[1], r[2]) for r in c.fetchall()]
        return snapshot, events

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        *,
        idempotency_step: StepToRecord | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        if idempotency_step is not None and ids:
            step = idempotency_step
            rows = [
                (e.originator_id, e.originator_version, nid)
                for e, nid in zip(stored_events, ids, strict=True)
            ]
            c.execute(
                "INSERT INTO idempotency_steps "
                "(key_id, step, request_hash, receipts, decided_at, memo) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    step.key_id,
                    step.step,
                    step.request_hash,
                    encode_rows(rows),
                    stored_moment(step.decided_at),
                    step.memo,
                ),
            )
        fault_point("before-commit")  # all of the save written, none committed
        return ids

    def select_steps(self, key_id: str) -> dict[str, RecordedStep]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT step, request_hash, receipts, decided_at, memo "
                "FROM idempotency_steps WHERE key_id = ?",
                (key_id,),
            )
            return steps_from_rows(tuple(row) for row in c.fetchall())

    def select_rows(self, start: int, limit: int, stop: int | None = None) -> list[StoredRow]:
        """Up to `limit` rows of the log from position `start` on (to `stop`, inclusive), as
        stored (ADR 0043)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT rowid, originator_id, originator_version, topic, state "  # noqa: S608 - the library's table name
                f"FROM {self.events_table_name} WHERE rowid >= ? AND rowid <= ? "
                "ORDER BY rowid LIMIT ?",
                (start, LAST_POSITION if stop is None else stop, limit),
            )
            return [(r[0], UUID(r[1]), r[2], r[3], bytes(r[4])) for r in c.fetchall()]


SQLITE_STATEMENTS_KEPT = 128  # sqlite3's default cache of compiled statements a connection
# What the library's SQLite pool is made with, each kept as an attribute of the same name.
SQLITE_POOL_ARGUMENTS = (
    "db_name",
    "lock_timeout",
    "pool_size",
    "max_overflow",
    "pool_timeout",
    "max_age",
    "pre_ping",
)


class CasesSQLiteConnectionPool(SQLiteConnectionPool):
    """The library's pool, its connections keeping their compiled statements.

    The library opens each connection with `cached_statements=True`, which sqlite3
    reads as a cache of one statement: every statement but a repeat of the one
    before is compiled again, and a command runs several in turn (BEGIN, the read
    of newer events, the inserts). These connections keep sqlite3's default 128
    (ADR 0059 amendment of 2026-12-05); otherwise they are opened as the library
    opens them (`tests/unit/persistence/test_recorders_contract.py` checks that
    its pool still takes these arguments and makes `SQLiteConnection`s)."""

    def get_connection(
        self, timeout: float | None = None, *, is_writer: bool | None = None
    ) -> SQLiteConnection:
        """A connection, as the library's pool gives one, without the bookkeeping
        only an in-memory database needs (ADR 0059 amendment of 2026-12-05).

        The library first queues every request behind one semaphore and counts
        readers under a condition, so that an in-memory database can keep readers
        and the writer apart; a file in WAL mode lets them run together, and about
        a third of the instructions of a command on a working copy went to those
        two checkouts. Here a writer still waits for the one writer lock (one
        transaction writing at a time in this process), a connection is still
        taken from, or made by, the library's `_get_connection` (which waits for
        one to come back when all are in use) and given back by its
        `put_connection`; readers are not counted. An in-memory database gets
        the library's path."""
        if self._mutually_exclusive_read_write:
            return super().get_connection(timeout, is_writer=is_writer)
        if self._closed:
            raise ConnectionPoolClosedError
        timeout = self.pool_timeout if timeout is None else timeout
        started = time.time()
        writer = is_writer is True
        if writer and not self._writer_lock.acquire(timeout=timeout):
            raise ConnectionUnavailableError("Timed out waiting for return of writer")
        try:
            conn = self._get_connection(timeout=self._time_remaining(timeout, started))
        except BaseException:
            if writer:
                self._writer_lock.release()
            raise
        if writer:
            self._num_writers += 1
        conn.is_writer = True if writer else None  # `put_connection` then counts no reader
        return conn

    def _create_connection(self) -> SQLiteConnection:
        try:
            c = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # autocommit: the library's BEGIN starts a transaction
                cached_statements=SQLITE_STATEMENTS_KEPT,
                timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
            )
        except (sqlite3.Error, TypeError) as e:
            raise InterfaceError(e) from e
        if not self.is_sqlite_memory_mode and not self.is_journal_mode_wal:
            (mode,) = c.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                c.execute("PRAGMA journal_mode=WAL")
                self.journal_mode_was_changed_to_wal = True
            self.is_journal_mode_wal = True
        c.row_factory = sqlite3.Row
        return SQLiteConnection(sqlite_conn=c, max_age=self.max_age)


class CasesSQLiteFactory(SQLiteFactory):
    aggregate_recorder_class = CasesSQLiteAggregateRecorder
    application_recorder_class = CasesSQLiteApplicationRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        made = self.datastore.pool  # no connection opened yet: replaced by one of ours
        arguments = {name: getattr(made, name) for name in SQLITE_POOL_ARGUMENTS}
        self.datastore.pool = CasesSQLiteConnectionPool(**arguments)
        made.close()


class CasesMemoryApplicationRecorder(POPOApplicationRecorder):
    """Keeps steps beside the events, under one lock with them."""

    def __init__(self) -> None:
        super().__init__()
        self._steps: dict[str, dict[str, RecordedStep]] = {}
        self._steps_lock = threading.Lock()

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        idempotency_step: StepToRecord | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        if idempotency_step is None:
            return super().insert_events(stored_events, **kwargs)
        step = idempotency_step
        with self._steps_lock:
            if step.step in self._steps.get(step.key_id, {}):
                raise IntegrityError(f"step {step.step} of this request is recorded already")
            ids = super().insert_events(stored_events, **kwargs) or []
            rows = [
                (e.originator_id, e.originator_version, nid)
                for e, nid in zip(stored_events, ids, strict=True)
            ]
            self._steps.setdefault(step.key_id, {})[step.step] = RecordedStep(
                step.step, step.request_hash, receipts_of(rows), step.decided_at, step.memo
            )
            return ids

    def select_steps(self, key_id: str) -> dict[str, RecordedStep]:
        with self._steps_lock:
            return dict(self._steps.get(key_id, {}))

    def select_rows(self, start: int, limit: int, stop: int | None = None) -> list[StoredRow]:
        """Up to `limit` rows of the log from position `start` on (to `stop`, inclusive), as
        stored (ADR 0043)."""
        return [
            (n.id, as_uuid(n.originator_id), n.originator_version, n.topic, bytes(n.state))
            for n in self.select_notifications(start=start, limit=limit, stop=stop)
        ]


class CasesMemoryFactory(POPOFactory):
    def application_recorder(self) -> ApplicationRecorder:
        return CasesMemoryApplicationRecorder()
