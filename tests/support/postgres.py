"""Throwaway PostgreSQL databases for tests: created per test, dropped after."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

ADMIN_URL = os.environ.get(
    "CASES_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def postgres_required() -> bool:
    return os.environ.get("CASES_REQUIRE_POSTGRES") == "1"


def _admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        reason = f"PostgreSQL unreachable at {ADMIN_URL}: {str(e).strip().splitlines()[0]}"
        if postgres_required():
            pytest.fail(f"{reason} (CASES_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)


@contextmanager
def throwaway_database() -> Iterator[str]:
    """Yield the URL of a new, empty database; drop it afterwards."""
    name = f"cases_test_{uuid4().hex[:12]}"
    with _admin_connection() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with _admin_connection() as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def database_copy(url: str, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of a copy of the store at `url`, for one test alone: a SQLite backup
    under `tmp_path`, or a PostgreSQL database made from it as a template (dropped after)."""
    if url.startswith("sqlite"):
        path = tmp_path / "events.db"
        with sqlite3.connect(url.removeprefix("sqlite:///")) as source:
            target = sqlite3.connect(path)
            source.backup(target)
            target.close()
        yield f"sqlite:///{path}"
        return
    template = url.rsplit("/", 1)[1]
    name = f"cases_test_{uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    try:
        yield f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def database_down(database_url: str, admin_url: str = ADMIN_URL) -> Iterator[None]:
    """Refuse new connections to the database and end its sessions; allow again after
    (the PostgreSQL server itself keeps running for everyone else)."""
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(name))
        )
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            yield
        finally:
            admin.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(name))
            )


@contextmanager
def sql_store(kind: str, folder: Path) -> Iterator[str]:
    """Yield the URL of a new, empty store of `kind` ("sqlite": a file in `folder`;
    "postgres": a throwaway database, dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'events.db'}"
        return
    with throwaway_database() as url:
        yield url
