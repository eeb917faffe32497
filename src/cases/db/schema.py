"""The read-model schema: numbered SQL migrations applied with yoyo.

`migrations/postgres/` and `migrations/sqlite/` hold the same numbered steps in
each dialect. A landed file is never edited: a change is a new number.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from yoyo import get_backend, read_migrations

from cases.persistence.database_url import DatabaseUrl, StoreKind

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


class SchemaBehindError(Exception):
    """Raised when the database lacks migrations this code needs; run `cases migrate`."""


def _yoyo_uri(url: DatabaseUrl) -> str:
    if url.kind is StoreKind.POSTGRES:
        password = f":{quote(url.password, safe='')}" if url.password else ""
        user = quote(url.user, safe="")
        return f"postgresql+psycopg://{user}{password}@{url.host}:{url.port}/{url.dbname}"
    if url.kind is StoreKind.SQLITE and url.path is not None:
        return f"sqlite:///{url.path}"
    raise ValueError("migrations need a SQLite or PostgreSQL store")


def _folder(url: DatabaseUrl) -> Path:
    return MIGRATIONS / ("postgres" if url.kind is StoreKind.POSTGRES else "sqlite")


def pending_migrations(url: DatabaseUrl) -> list[str]:
    """Ids of the migrations not yet applied to the database."""
    backend = get_backend(_yoyo_uri(url))
    try:
        return [m.id for m in backend.to_apply(read_migrations(str(_folder(url))))]
    finally:
        backend.connection.close()


def migrate(url: DatabaseUrl) -> list[str]:
    """Apply every pending migration, under yoyo's lock; return their ids."""
    backend = get_backend(_yoyo_uri(url))
    try:
        migrations = read_migrations(str(_folder(url)))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        return [m.id for m in pending]
    finally:
        backend.connection.close()


def check_schema_current(url: DatabaseUrl) -> None:
    """Refuse to start on a schema older than the code."""
    pending = pending_migrations(url)
    if pending:
        raise SchemaBehindError(
            f"the database schema is behind ({len(pending)} migrations pending, first "
            f"{pending[0]}): run `cases migrate`"
        )
