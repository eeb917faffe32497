"""The read-model schema: numbered SQL migrations applied with yoyo.

`cases/migrations/postgres/` and `cases/migrations/sqlite/` hold the same numbered
steps in each dialect. A landed file is never edited: a change is a new number.
They ship inside the package and are read with `importlib.resources`, so an
installed wheel migrates as a checkout does (ADR 45); a dialect with no
migrations found is an incomplete installation, refused rather than reported as
an up-to-date schema.
"""

from __future__ import annotations

from importlib import resources
from urllib.parse import quote

from yoyo import get_backend, read_migrations
from yoyo.migrations import MigrationList

from cases.persistence.database_url import DatabaseUrl, StoreKind

PACKAGE = "cases"
FOLDER = "migrations"  # inside the package: migrations/<dialect>/NNNN_name.sql


class SchemaBehindError(Exception):
    """Raised when the database lacks migrations this code needs; run `cases migrate`."""


class MigrationsMissingError(SchemaBehindError):
    """Raised when the installed package holds no migrations for the store's dialect:
    the schema cannot be brought up to date nor checked, wherever it is asked."""


def _yoyo_uri(url: DatabaseUrl) -> str:
    if url.kind is StoreKind.POSTGRES:
        password = f":{quote(url.password, safe='')}" if url.password else ""
        user = quote(url.user, safe="")
        return f"postgresql+psycopg://{user}{password}@{url.host}:{url.port}/{url.dbname}"
    if url.kind is StoreKind.SQLITE and url.path is not None:
        return f"sqlite:///{url.path}"
    raise ValueError("migrations need a SQLite or PostgreSQL store")


def _migrations(url: DatabaseUrl) -> MigrationList:
    """The dialect's migrations shipped in the package; refused when there are none."""
    dialect = "postgres" if url.kind is StoreKind.POSTGRES else "sqlite"
    found: MigrationList = read_migrations(f"package:{PACKAGE}:{FOLDER}/{dialect}")
    if not found:
        where = resources.files(PACKAGE).joinpath(FOLDER, dialect)
        raise MigrationsMissingError(
            f"no {dialect} migrations found in the installed package (looked in {where}): "
            "the installation is incomplete; reinstall cases"
        )
    return found


def pending_migrations(url: DatabaseUrl) -> list[str]:
    """Ids of the migrations not yet applied to the database."""
    migrations = _migrations(url)
    backend = get_backend(_yoyo_uri(url))
    try:
        return [m.id for m in backend.to_apply(migrations)]
    finally:
        backend.connection.close()


def migrate(url: DatabaseUrl) -> list[str]:
    """Apply every pending migration, under yoyo's lock; return their ids."""
    migrations = _migrations(url)
    backend = get_backend(_yoyo_uri(url))
    try:
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
