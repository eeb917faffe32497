"""The portable migrations change nothing a released migration did, on both stores.

A store migrated with the released files (as main's code applied them: yoyo reading
one folder per dialect, here `tests/golden/migrations/<dialect>/` beside the
dialect's own files) has nothing pending under the templates; and `cases migrate`
on a new store builds the same catalogue, table for table, column for column,
index for index, as the released files do (ADR 75, the schema declared once).
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from importlib import resources
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner
from yoyo import get_backend, read_migrations

from cases.cli.main import app
from cases.db import schema
from cases.persistence.database_url import parse_database_url
from cases.settings import get_settings
from tests.support.postgres import throwaway_database

SQL_STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "migrations"

Catalogue = dict[str, list[tuple[object, ...]]]

POSTGRES_CATALOGUE = {
    "schemas": "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
    "AND nspname <> 'information_schema' ORDER BY 1",
    "columns": "SELECT table_schema, table_name, column_name, ordinal_position, data_type, "
    "is_nullable, column_default, collation_name FROM information_schema.columns "
    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 4",
    "indexes": "SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes "
    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3",
    "constraints": "SELECT n.nspname, c.conrelid::regclass::text, c.conname, "
    "pg_get_constraintdef(c.oid) FROM pg_constraint c "
    "JOIN pg_namespace n ON n.oid = c.connamespace "
    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3",
    "storage": "SELECT c.relname, a.attname, a.attstorage FROM pg_attribute a "
    "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') "
    "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1, 2",
}
SHARED = {
    "applied": "SELECT migration_id FROM _yoyo_migration ORDER BY migration_id",
    "audit_log_tree": "SELECT id, size, position, frontier FROM audit_log_tree",
}


def released_folder(dialect: str, tmp_path: Path) -> Path:
    """The dialect's folder as main shipped it: the released files the templates replace,
    and the dialect's own files, unchanged since."""
    folder = tmp_path / f"released-{dialect}"
    folder.mkdir()
    for released in (GOLDEN / dialect).glob("*.sql"):
        shutil.copy2(released, folder / released.name)
    own = resources.files("cases").joinpath(schema.FOLDER, dialect)
    for item in own.iterdir():
        if item.name.endswith(".sql"):
            (folder / item.name).write_text(item.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def migrate_as_released(url: str, folder: Path) -> list[str]:
    """Apply the released files as main's `cases migrate` did; the ids applied."""
    backend = get_backend(schema.yoyo_uri(parse_database_url(url)))
    try:
        with backend.lock():
            pending = backend.to_apply(read_migrations(str(folder)))
            backend.apply_migrations(pending)
        return [m.id for m in pending]
    finally:
        backend.connection.close()


def catalogue(url: str) -> Catalogue:
    """What the schema is: SQLite's `sqlite_master` (the CREATE text of every table and
    index), PostgreSQL's schemas, columns, indexes, constraints and storage; on both,
    the migrations yoyo recorded and the one row a migration inserts."""
    if url.startswith("sqlite"):
        queries = {
            "sqlite_master": "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "ORDER BY type, name",
            **SHARED,
        }
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
            return {k: connection.execute(q).fetchall() for k, q in queries.items()}
    with psycopg.connect(url) as connection:
        return {
            k: connection.execute(q).fetchall() for k, q in {**POSTGRES_CATALOGUE, **SHARED}.items()
        }


@pytest.fixture(params=SQL_STORES)
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """The dialect and the URLs of two new, empty stores of it."""
    if request.param == "sqlite":
        yield "sqlite", f"sqlite:///{tmp_path / 'one.db'}", f"sqlite:///{tmp_path / 'two.db'}"
        return
    with throwaway_database() as one, throwaway_database() as two:
        yield "postgres", one, two


def cases_migrate(url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CASES_DATABASE_URL", url)
    monkeypatch.delenv("CASES_LOG_LEVEL", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["migrate"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_store_migrated_by_the_released_files_has_nothing_pending(
    two_stores: tuple[str, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialect, url, _ = two_stores
    applied = migrate_as_released(url, released_folder(dialect, tmp_path))
    assert applied == [m.id for m in schema.dialect_migrations(dialect)]
    before = catalogue(url)

    assert schema.pending_migrations(parse_database_url(url)) == []
    schema.check_schema_current(parse_database_url(url))
    assert "is up to date; nothing to apply" in cases_migrate(url, monkeypatch)
    assert catalogue(url) == before


def test_cases_migrate_builds_the_released_schema(
    two_stores: tuple[str, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialect, released, fresh = two_stores
    migrate_as_released(released, released_folder(dialect, tmp_path))

    out = cases_migrate(fresh, monkeypatch)

    assert f"Applied {len(schema.dialect_migrations(dialect))} migrations" in out
    expected, found = catalogue(released), catalogue(fresh)
    assert found.keys() == expected.keys()
    for part in expected:
        assert found[part] == expected[part], part
    assert len(found["applied"]) == len(schema.dialect_migrations(dialect))
