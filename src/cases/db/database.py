"""One connection to the read-model tables, on SQLite or PostgreSQL.

Statements are composed once (`cases.db.statement`, ADR 40) and rendered by
each driver's own rules; a plain string is taken only without parameters (a
fixed statement). Values are adapted on the way in: moments are stored as UTC (timestamptz
on PostgreSQL, ISO-8601 text on SQLite, which sorts correctly), UUIDs and
Decimals as text where the store has no type for them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from itertools import repeat
from operator import attrgetter
from typing import Any
from uuid import UUID

import orjson
import psycopg
from psycopg.abc import Buffer
from psycopg.adapt import Dumper
from psycopg.pq import PipelineStatus, TransactionStatus
from psycopg.types.array import ListBinaryDumper
from psycopg.types.uuid import UUIDBinaryDumper

from cases.db.shapes import (
    copy_in,
    delete_arrays,
    delete_keyed,
    empty_table,
    insert,
    staging_table,
    upsert,
    upsert_arrays,
    upsert_staged,
)
from cases.db.statement import Sql
from cases.persistence.database_url import DatabaseUrl, StoreKind, parse_database_url
from cases.persistence.idempotency_steps import stored_moment
from cases.persistence.waits import postgres_session_options
from cases.settings import Settings

Row = tuple[Any, ...]
Params = Sequence[object] | Mapping[str, object]
SQLITE_BUSY_TIMEOUT = 30.0  # seconds a runner's or the CLI's write waits for the file's lock

# Errors after which a runner reconnects instead of dying.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
)


class EnumValueDumper(Dumper):
    """An enum member as its value (psycopg's own dumps a plain Enum's name; a
    StrEnum is a str and never reaches this), its type left to the server."""

    def dump(self, obj: Any) -> bytes:
        return str(obj.value).encode()


# A binary array's element of 16 bytes: its length, before the bytes.
_SIXTEEN = (16).to_bytes(4)
_uuid_int = attrgetter("int")


class ArrayBinaryDumper(ListBinaryDumper):
    """psycopg's binary array dumper, but a one-dimensional array of UUIDs (no
    NULL) made in C, each element from the UUID's integer: psycopg's own dumps
    element by element in Python, calling the UUID dumper for each (ADR 80,
    amendment sl3). The same bytes."""

    def _dump_list(self, items: list[Any], dim: int, dims: list[int], data: list[Buffer]) -> int:
        if len(dims) == 1 and type(self.sub_dumper) is UUIDBinaryDumper:
            try:
                elements = _SIXTEEN.join(map(int.to_bytes, map(_uuid_int, items), repeat(16)))
            except AttributeError:  # a None among them: psycopg's own, which sends NULL
                pass
            else:
                data.append(_SIXTEEN)
                data.append(elements)
                return 0
        return super()._dump_list(items, dim, dims, data)


def _json_value(value: object) -> object:
    """What orjson does not write itself: a Decimal as its exact text (the
    server reads a numeric column from it)."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"no JSON form for {type(value).__name__}")


def as_moment(value: object) -> datetime:
    """A stored moment as a datetime (SQLite keeps them as ISO text)."""
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def utc_text(moment: datetime) -> str:
    """A moment as fixed-width UTC ISO text, so text order is time order."""
    return stored_moment(moment)


class ProjectionDatabase:
    """A connection for projection tables, with the store's dialect hidden.

    With `durable_commits` off (a projection runner's writes, ADR 0028) a
    PostgreSQL commit does not wait for its flush to disk: a read model and its
    tracking position commit together, so a crash can only take both back to an
    earlier position, from which the runner applies the same events again (as
    SQLite's WAL mode with `synchronous=NORMAL` already does here).

    With `waits` (lock timeout, statement timeout; an API request's connection,
    ADR 0034) a statement waits at most that long for a lock (SQLite: for the
    file's write lock) and, on PostgreSQL, runs at most that long."""

    def __init__(
        self,
        url: DatabaseUrl,
        connect_timeout: int = 5,
        *,
        durable_commits: bool = True,
        waits: tuple[float, float] | None = None,
    ) -> None:
        if url.kind is StoreKind.MEMORY:
            raise ValueError("projections need a SQLite or PostgreSQL store")
        self.url = url
        self.connect_timeout = connect_timeout
        self.durable_commits = durable_commits
        self.waits = waits
        self.is_postgres = url.kind is StoreKind.POSTGRES
        self._sqlite: sqlite3.Connection | None = None
        self._postgres: psycopg.Connection[Row] | None = None
        # PostgreSQL, this session's: the staging tables made (by the table they
        # stage for) and each table's column types (upsert_rows).
        self._staged: dict[str, str] = {}
        # The staging tables holding rows in the open transaction (a commit or a
        # rollback empties them): a second upsert of the table empties it first.
        self._filled: set[str] = set()
        self._types: dict[tuple[str, tuple[str, ...]], list[int]] = {}
        self._columns: dict[str, dict[str, tuple[int, str]]] = {}
        self.connect()

    # Connection ---------------------------------------------------------------

    def connect(self) -> None:
        self.close()
        self._staged.clear()
        self._filled.clear()
        self._types.clear()
        self._columns.clear()
        if self.is_postgres:
            # Moments read back in UTC as `datetime.timezone.utc`, which psycopg's C
            # loader sets as is: a server's named zone (`Etc/UTC`) is a ZoneInfo,
            # converted to per value and compared by its offsets (ADR 80, slw2).
            options = ["-c TimeZone=UTC"]
            if not self.durable_commits:
                options.append("-c synchronous_commit=off")
            if self.waits is not None:
                options.append(postgres_session_options(*self.waits))
            self._postgres = psycopg.connect(
                host=self.url.host,
                port=self.url.port,
                dbname=self.url.dbname,
                user=self.url.user,
                password=self.url.password or None,
                connect_timeout=self.connect_timeout,
                autocommit=True,
                options=" ".join(options),
            )
            self._postgres.adapters.register_dumper(Enum, EnumValueDumper)
        else:
            self._sqlite = sqlite3.connect(
                str(self.url.path),
                timeout=self.waits[0] if self.waits is not None else SQLITE_BUSY_TIMEOUT,
                isolation_level=None,
                check_same_thread=False,
            )
            self._sqlite.execute("PRAGMA journal_mode=WAL")
            self._sqlite.execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        for connection in (self._sqlite, self._postgres):
            if connection is not None:
                with suppress(*CONNECTION_ERRORS):
                    connection.close()
        self._sqlite = None
        self._postgres = None

    def _lite(self) -> sqlite3.Connection:
        if self._sqlite is None:
            raise RuntimeError("the projection database is closed")
        return self._sqlite

    @property
    def postgres(self) -> psycopg.Connection[Row]:
        if self._postgres is None:
            raise RuntimeError("not a PostgreSQL projection database")
        return self._postgres

    # Statements ---------------------------------------------------------------

    def text(self, statement: Sql | str, params: Params = ()) -> str:
        """`statement` as this store's driver takes it."""
        if isinstance(statement, str):
            if params:
                raise TypeError(
                    "a statement with parameters is composed (cases.db.statement.sql), "
                    "not passed as text"
                )
            return statement
        if self._postgres is not None:
            return statement.postgres(self._postgres)
        return statement.sqlite()

    def execute(self, statement: Sql | str, params: Params = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        text = self.text(statement, params)
        if self._postgres is not None:
            return self._postgres.execute(text, params).rowcount
        return self._lite().execute(text, _sqlite_params(params)).rowcount

    def executemany(self, statement: Sql, rows: Iterable[Params]) -> None:
        rows = list(rows)
        if not rows:
            return
        text = self.text(statement)
        if self._postgres is not None:
            with self._postgres.cursor() as cursor:
                cursor.executemany(text, rows)
            return
        self._lite().executemany(text, [_sqlite_params(row) for row in rows])

    def insert_rows(
        self, table: str, columns: tuple[str, ...], rows: Sequence[tuple[object, ...]]
    ) -> None:
        """Insert many rows into `table` at once: PostgreSQL's COPY in binary (one
        round trip for the whole batch, no statement per row, no text for the
        server to parse: each value must be of its column's Python type, as in
        `upsert_rows`), SQLite's executemany."""
        if not rows:
            return
        if self._postgres is not None:
            self._copy_in(self._postgres, table, table, columns, rows)
            return
        self.executemany(insert(table, columns), rows)

    def upsert_rows(
        self,
        table: str,
        columns: tuple[str, ...],
        keys: tuple[str, ...],
        rows: Iterable[Sequence[object]],
        *,
        distinct: bool = False,
    ) -> None:
        """Write each row (a value per column) into `table`, replacing the one with
        the same `keys`; of rows with the same keys the last wins. `distinct`: the
        caller gives no two rows with the same keys (rows from a dict by key), so
        none are looked for (hashing a key holding a UUID runs Python code).

        On PostgreSQL the rows go by binary COPY into this session's staging table
        of `table`, and from there into `table` by one `INSERT ... SELECT ... ON
        CONFLICT` (ADR 71, amendment "Upserts through a staging table by binary
        COPY"): each value is sent as its column's type, so the server parses no
        text (JSON rows cost it more than the upsert itself). Each value must be
        of its column's Python type (a str for text, a UUID for uuid...), as
        psycopg dumps it in binary by the column's type. SQLite: a statement per row."""
        latest = list(rows) if distinct else _last_of_each(columns, keys, rows)
        if not latest:
            return
        if self._postgres is None:
            self.executemany(upsert(table, columns, keys), latest)
        elif self.pipelining:  # no COPY in a pipeline: the rows as arrays, one per column
            self.upsert_by_arrays(table, columns, keys, latest)
        elif self._postgres.info.transaction_status is TransactionStatus.INTRANS:
            self._upsert_staged(self._postgres, table, columns, keys, latest)
        else:  # the staging table empties at commit: both statements in one transaction
            with self.transaction():
                self._upsert_staged(self._postgres, table, columns, keys, latest)

    def _upsert_staged(
        self,
        postgres: psycopg.Connection[Row],
        table: str,
        columns: tuple[str, ...],
        keys: tuple[str, ...],
        rows: Iterable[Sequence[object]],
    ) -> None:
        staged = self._staging_table(postgres, table)
        if staged in self._filled:  # a second upsert in the transaction: not the first's rows again
            postgres.execute(self.text(empty_table(staged)))
        self._filled.add(staged)
        self._copy_in(postgres, staged, table, columns, rows)
        postgres.execute(self.text(upsert_staged(table, staged, columns, keys)), prepare=True)

    def _copy_in(
        self,
        postgres: psycopg.Connection[Row],
        into: str,
        like: str,
        columns: tuple[str, ...],
        rows: Iterable[Sequence[object]],
    ) -> None:
        """Rows into the table `into` (whose columns are those of `like`) by binary COPY."""
        types = self._column_types(postgres, like, columns)
        with (
            postgres.cursor() as cursor,
            cursor.copy(self.text(copy_in(into, columns))) as copy,
        ):
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)

    def _staging_table(self, postgres: psycopg.Connection[Row], table: str) -> str:
        """The name of this session's staging table of `table`, made if not yet
        (a temporary table, emptied at every commit; forgotten when a transaction
        fails, as its creation may have been rolled back with it)."""
        staged = self._staged.get(table)
        if staged is None:
            staged = f"{table}__staged"
            postgres.execute(self.text(staging_table(table, staged)))
            self._staged[table] = staged
        return staged

    def _column_types(
        self, postgres: psycopg.Connection[Row], table: str, columns: tuple[str, ...]
    ) -> list[int]:
        """The type (its oid) of each of `columns` of `table`, read once a session."""
        found = self._types.get((table, columns))
        if found is None:
            by_name = self._columns_of(postgres, table)
            found = self._types[(table, columns)] = [by_name[c][0] for c in columns]
        return found

    def type_names(self, table: str, columns: tuple[str, ...]) -> tuple[str, ...]:
        """PostgreSQL only: the type of each of `columns` of `table` as SQL names it
        (`uuid`, `text`), for a cast of a parameter; read once a session."""
        by_name = self._columns_of(self.postgres, table)
        return tuple(by_name[c][1] for c in columns)

    def _columns_of(
        self, postgres: psycopg.Connection[Row], table: str
    ) -> dict[str, tuple[int, str]]:
        """Each column of `table`: its type's oid and name (read once a session)."""
        found = self._columns.get(table)
        if found is None:
            found = self._columns[table] = {
                name: (oid, type_name)
                for name, oid, type_name in postgres.execute(
                    "SELECT attname, atttypid::int, format_type(atttypid, NULL) "
                    "FROM pg_attribute "
                    "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                    (table,),
                ).fetchall()
            }
        return found

    def delete_rows(
        self, table: str, keys: tuple[str, ...], rows: Sequence[Sequence[object]]
    ) -> None:
        """Delete the rows of `table` with the given values of `keys` (a value per
        key in each row, of its column's Python type): on PostgreSQL by one
        statement whose parameters are an array per key, sent in binary (no JSON
        for the server to parse: ADR 80); on SQLite a statement per row."""
        if not rows:
            return
        if self._postgres is None:
            self.executemany(delete_keyed(table, keys), rows)
            return
        statement = delete_arrays(table, keys, self.type_names(table, keys))
        self.execute_by_arrays(statement, arrays_of(rows))

    def write_rows(
        self, each: Sql, at_once: Sql, columns: tuple[str, ...], rows: Sequence[Sequence[object]]
    ) -> None:
        """Run `each` for every row (a value per column), or, on PostgreSQL,
        `at_once` for them all.

        `at_once` takes one parameter, the rows as a JSON array of objects (a
        member per column; `cases.db.shapes.upsert_json` reads it as the table's
        row type): orjson writes it in C, and the statement's text stays short,
        so psycopg prepares it once (ADR 71), where a statement per row costs
        the driver and the server a round of work each. SQLite runs `each` per
        row (executemany). An upsert at once refuses two rows with the same key
        (PostgreSQL: "cannot affect row a second time"): give distinct ones. Not
        for json/jsonb columns (none has any): a str would arrive as a JSON
        string, not parsed."""
        if not rows:
            return
        if self._postgres is None:
            self.executemany(each, rows)
            return
        payload = orjson.dumps(
            [dict(zip(columns, row, strict=True)) for row in rows], default=_json_value
        )
        self._postgres.execute(self.text(at_once), (payload.decode(),), prepare=True)

    def fetchall(
        self, statement: Sql | str, params: Params = (), *, binary: bool = False
    ) -> list[Row]:
        """The rows of `statement`; `binary`: on PostgreSQL, results in binary
        format (bytea as its bytes, not hex text to decode: ADR 72)."""
        text = self.text(statement, params)
        if self._postgres is not None:
            found = self._postgres.execute(text, params, binary=binary)
            return list(found.fetchall())
        return list(self._lite().execute(text, _sqlite_params(params)).fetchall())

    def upsert_by_arrays(
        self,
        table: str,
        columns: tuple[str, ...],
        keys: tuple[str, ...],
        rows: Sequence[Sequence[object]],
    ) -> None:
        """`upsert_rows(..., distinct=True)`, on PostgreSQL by one statement whose
        parameters are an array per column, sent in binary: no staging table to
        fill by COPY and to empty at commit (ADR 80). Each value of its column's
        Python type, as for `upsert_rows`."""
        if self._postgres is None:
            self.upsert_rows(table, columns, keys, rows, distinct=True)
        elif rows:
            types = self.type_names(table, columns)
            self.execute_by_arrays(upsert_arrays(table, columns, keys, types), arrays_of(rows))

    def fetch_by_arrays(self, statement: Sql, arrays: Sequence[list[Any]]) -> list[Row]:
        """PostgreSQL only: the rows of `statement` whose parameters are arrays (a
        list each: `= ANY`, `unnest`), the lists sent in binary and the results
        read in binary. psycopg dumps a list as text by default, quoting each
        element after a regular expression's search: 1.4 us an element of UUIDs,
        0.15 in binary (ADR 71, amendment of 2026-12-05). Only this statement's
        cursor dumps lists so: elsewhere a list of str stays of unknown type, for
        the server to infer."""
        with self._arrays_cursor() as cursor:
            return list(cursor.execute(self.text(statement), arrays).fetchall())

    def execute_by_arrays(self, statement: Sql, arrays: Sequence[list[Any]]) -> None:
        """PostgreSQL only: `statement`, whose parameters are arrays, sent as
        `fetch_by_arrays` sends them; no rows back."""
        with self._arrays_cursor() as cursor:
            cursor.execute(self.text(statement), arrays, prepare=True)

    @contextmanager
    def _arrays_cursor(self) -> Iterator[psycopg.Cursor[Row]]:
        """A cursor of its own that sends lists as binary arrays (`ArrayBinaryDumper`)
        and reads results in binary (`fetch_by_arrays`)."""
        with self.postgres.cursor(binary=True) as cursor:
            cursor.adapters.register_dumper(list, ArrayBinaryDumper)
            yield cursor

    def fetchone(self, statement: Sql | str, params: Params = ()) -> Row | None:
        rows = self.fetchall(statement, params)
        return rows[0] if rows else None

    @contextmanager
    def pipeline(self) -> Iterator[None]:
        """PostgreSQL: the statements inside are sent without waiting for their
        results (libpq's pipeline mode), until one whose rows are read, or the end
        of the block, which waits for every result and raises the first error.
        The server works through them while this process does something else.
        No COPY inside: `upsert_rows` sends arrays instead. SQLite: as without."""
        if self._postgres is None or self.pipelining:
            yield
            return
        with self._postgres.pipeline():
            yield

    @property
    def pipelining(self) -> bool:
        """Inside `pipeline()` (PostgreSQL): statements are sent, not waited for.
        Read off the connection itself, so a connection made anew is never in one."""
        postgres = self._postgres
        return postgres is not None and postgres.pgconn.pipeline_status != PipelineStatus.OFF

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all.

        On SQLite the transaction takes the write lock at once (BEGIN IMMEDIATE),
        so two writers never interleave.
        """
        if self._postgres is not None:
            try:
                with self._postgres.transaction():
                    yield
            except BaseException:
                self._staged.clear()  # made in this transaction, maybe: made again
                raise
            finally:
                if self._postgres.info.transaction_status is not TransactionStatus.INTRANS:
                    self._filled.clear()  # committed or rolled back: every staging table empty
            return
        lite = self._lite()
        lite.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            lite.execute("ROLLBACK")
            raise
        lite.execute("COMMIT")


def arrays_of(rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """Rows (a value per column each) as columns: a list per column, as a
    statement of array parameters takes them (`fetch_by_arrays`)."""
    return [list(values) for values in zip(*rows, strict=True)]


def _sqlite_value(value: object) -> object:
    """`value` as SQLite takes it. psycopg dumps the same types itself on PostgreSQL
    (enums by value: see EnumValueDumper), so parameters go to it unchanged."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    return value


def _last_of_each(
    columns: tuple[str, ...], keys: tuple[str, ...], rows: Iterable[Sequence[object]]
) -> list[Sequence[object]]:
    """Of `rows` with the same values of `keys`, the last (in the first's place)."""
    at = [columns.index(key) for key in keys]
    if len(at) == 1:
        (i,) = at
        return list({row[i]: row for row in rows}.values())
    return list({tuple(row[i] for i in at): row for row in rows}.values())


def _sqlite_params(params: Params) -> Params:
    if isinstance(params, Mapping):
        return {name: _sqlite_value(value) for name, value in params.items()}
    return tuple(_sqlite_value(p) for p in params)


def open_projection_db(settings: Settings, *, durable_commits: bool = True) -> ProjectionDatabase:
    """The projection database of the configured store (the same database)."""
    return ProjectionDatabase(
        parse_database_url(settings.effective_database_url),
        connect_timeout=settings.postgres_connect_timeout,
        durable_commits=durable_commits,
    )


def open_request_db(settings: Settings) -> ProjectionDatabase:
    """A connection for the API's requests: its waits bounded by the settings."""
    return ProjectionDatabase(
        parse_database_url(settings.effective_database_url),
        connect_timeout=settings.postgres_connect_timeout,
        waits=(settings.api_lock_timeout, settings.api_statement_timeout),
    )


def open_runner_db(settings: Settings) -> ProjectionDatabase:
    """A connection for a projection runner's writes: commits not waiting for disk."""
    return open_projection_db(settings, durable_commits=False)
