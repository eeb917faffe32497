"""Open the event log on the store `CASES_DATABASE_URL` names.

The recorders and factories it configures (PostgreSQL, SQLite, in memory) are in
`cases.persistence.recorders`, the one module that reaches into eventsourcing's
recorders (ADR 0037); the changes they make on PostgreSQL are told there (ADR
0019). The API server passes `StoreOptions` (a budget of a few seconds and an
aggregate cache); other processes keep the library's budget.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from uuid import UUID

import psycopg
from eventsourcing.persistence import PersistenceError

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
from cases.persistence.recorders import (
    ATTEMPTS_KEY,
    LIBRARY_ATTEMPTS,
    LOCK_TIMEOUT_KEY,
    MEMORY_FACTORY_TOPIC,
    POOL_TIMEOUT_KEY,
    POSTGRES_FACTORY_TOPIC,
    SQLITE_FACTORY_TOPIC,
    STATEMENT_TIMEOUT_KEY,
    CasesAggregateRecorder,
    CasesApplicationRecorder,
    CasesPostgresFactory,
)
from cases.persistence.subject_keys import (
    KEYS_SCHEMA,
    MasterKey,
    MasterKeyError,
    MemorySubjectKeys,
    SqlSubjectKeys,
    SubjectKeys,
    postgres_subject_keys,
    sqlite_subject_keys,
)
from cases.persistence.waits import sqlite_busy_seconds
from cases.settings import Settings

KEYS_SETTING = "CASES_KEYS_DATABASE_URL"

__all__ = [  # the recorders re-exported for the modules that import them from here
    "SNAPSHOTTED",
    "CasesAggregateRecorder",
    "CasesApplicationRecorder",
    "CasesPostgresFactory",
    "StoreOptions",
    "StoreUnavailableError",
    "open_event_log",
    "store_env",
]

CREATE_LOCK = 7_305_011_211  # advisory lock held while the first process creates the tables
SNAPSHOTTED = (SupportCase, SupportOffering, BillingAccount, CollectionPolicy)
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
        "PERSISTENCE_MODULE": POSTGRES_FACTORY_TOPIC,
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
    url = parse_database_url(settings.effective_database_url)
    return EventLog(
        env,
        snapshot_interval=settings.snapshot_interval,
        snapshotted=SNAPSHOTTED,
        subject_keys=subject_keys_of(url, settings),
    )


def master_key_of(settings: Settings) -> MasterKey | None:
    """The operator's master key (CASES_MASTER_KEY or CASES_MASTER_KEY_FILE), if set."""
    if settings.master_key is not None:
        text = settings.master_key.get_secret_value()
    elif settings.master_key_file is not None:
        try:
            text = settings.master_key_file.read_text()
        except OSError as e:
            raise StoreUnavailableError(
                f"CASES_MASTER_KEY_FILE: cannot read {settings.master_key_file}: {e.strerror}"
            ) from None
    else:
        return None
    try:
        return MasterKey.from_text(text)
    except MasterKeyError as e:
        raise StoreUnavailableError(f"CASES_MASTER_KEY: {e}") from None


def subject_keys_of(url: DatabaseUrl, settings: Settings) -> SubjectKeys | None:
    """The subject keys of the store, when a master key is set (ADR 0044)."""
    master = master_key_of(settings)
    if master is None:
        return None
    if url.kind is StoreKind.MEMORY:
        return MemorySubjectKeys(master)
    keys_url = _keys_url(url, settings)
    if url.kind is StoreKind.SQLITE and url.path is not None:
        keys: SqlSubjectKeys = sqlite_subject_keys(master, url.path)
    else:
        keys = postgres_subject_keys(
            master, lambda: _postgres_connection(keys_url, settings, KEYS_SETTING)
        )
    try:
        keys.kind_of(UUID(int=0))
    except (sqlite3.Error, psycopg.Error):
        keys.close()
        raise StoreUnavailableError(
            f"{KEYS_SETTING}: {keys_url.describe()} has no subject_keys table it may read: run "
            "`cases migrate` (migrations 0010, 0019) before storing with a master key, and "
            f"grant {KEYS_SETTING}'s role the schema {KEYS_SCHEMA} (ADR 0067)"
        ) from None
    return keys


def _keys_url(url: DatabaseUrl, settings: Settings) -> DatabaseUrl:
    """Where the keys are read: CASES_KEYS_DATABASE_URL (the keys' own role on the
    same PostgreSQL database, ADR 0067), or the store itself."""
    if settings.keys_database_url is None:
        return url
    keys_url = parse_database_url(settings.keys_database_url)
    if url.kind is not StoreKind.POSTGRES or keys_url.kind is not StoreKind.POSTGRES:
        raise StoreUnavailableError(
            f"{KEYS_SETTING}: only a PostgreSQL store keeps its keys under a role of their "
            f"own, and only in PostgreSQL; got {keys_url.describe()} for {url.describe()}"
        )
    if (keys_url.host, keys_url.port, keys_url.dbname) != (url.host, url.port, url.dbname):
        raise StoreUnavailableError(
            f"{KEYS_SETTING}: {keys_url.describe()} is not the store's database "
            f"{url.describe()}: only the role may differ"
        )
    return keys_url


def _has_event_tables(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    found = conn.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
        "AND tablename IN ('cases_events', 'cases_snapshots')"
    ).fetchone()
    return bool(found and found[0] == 2)


def _postgres_connection(
    url: DatabaseUrl, settings: Settings, setting: str = SETTING
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
        raise StoreUnavailableError(f"{setting}: cannot open {url.describe()}: {reason}") from None
