"""Open the event log on the store `CASES_DATABASE_URL` names."""

from __future__ import annotations

import sqlite3

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
from cases.settings import Settings

CREATE_LOCK = 7_305_011_211  # advisory lock held while the first process creates the tables
SNAPSHOTTED = (SupportCase, SupportOffering, BillingAccount, CollectionPolicy)


class StoreUnavailableError(Exception):
    """Raised when the configured database cannot be opened; the message is one line."""


def store_env(url: DatabaseUrl, settings: Settings) -> dict[str, str]:
    """The eventsourcing environment for the store `url` names."""
    if url.kind is StoreKind.MEMORY:
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    if url.kind is StoreKind.SQLITE and url.path is not None:
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(url.path),
            "SQLITE_LOCK_TIMEOUT": "10",
        }
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.dbname,
        "POSTGRES_HOST": url.host,
        "POSTGRES_PORT": str(url.port),
        "POSTGRES_USER": url.user,
        "POSTGRES_PASSWORD": url.password,
        "POSTGRES_POOL_SIZE": str(settings.postgres_pool_size),
        "POSTGRES_MAX_OVERFLOW": str(settings.postgres_pool_size),
        "POSTGRES_CONNECT_TIMEOUT": str(settings.postgres_connect_timeout),
        "POSTGRES_PRE_PING": "y",
        "POSTGRES_LOCK_TIMEOUT": "5",
    }


def open_event_log(settings: Settings) -> EventLog:
    """Open (and create if needed) the event log, or fail with one clear line."""
    url = parse_database_url(settings.effective_database_url)
    if url.kind is StoreKind.SQLITE and url.path is not None:
        try:
            url.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreUnavailableError(
                f"{SETTING}: cannot create the directory for {url.describe()}: {e.strerror}"
            ) from None
    env = store_env(url, settings)
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
