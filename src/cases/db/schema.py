"""The read-model schema: numbered SQL migrations applied with yoyo.

A schema change is written once. `cases/migrations/portable/NNNN_name.sql` is one
template for both dialects: where PostgreSQL and SQLite name a thing differently
the template says `{UUID}`, `{MOMENT}`, `{BIGINT}`, `{BOOLEAN}`, `{FALSE}` ... and
`DIALECT_WORDS` gives each dialect's word (rendered by `str.format_map`: a brace the
SQL itself needs, say in a JSON literal, is written doubled, `{{` and `}}`; a single
one names a word, and an unknown word fails every migration, so no store is left
half-migrated by it). The template is rendered per dialect,
split into statements as yoyo splits a `.sql` file, and handed to yoyo under the
file's name as its id, the same id the dialect's own file had before (ADR 75), so
a database migrated by earlier code has nothing pending. A migration whose
dialects really differ (another statement, another function) stays two files,
`cases/migrations/postgres/` and `cases/migrations/sqlite/`, under its number.

A landed migration is never edited: a change is a new number. The released
statements of every template are pinned, per dialect, by
`tests/golden/migrations/` (the files as they were released, compared after
yoyo's splitting). The migrations ship inside the package and are read with
`importlib.resources`, so an installed wheel migrates as a checkout does
(ADR 45); a folder with no migrations found is an incomplete installation,
refused rather than reported as an up-to-date schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from urllib.parse import quote

import sqlparse
from yoyo import get_backend, read_migrations
from yoyo.migrations import Migration, MigrationList, StepCollector
from yoyo.migrations import parse_metadata_from_sql_comments as _split_leading_comments

from cases.persistence.database_url import DatabaseUrl, StoreKind

PACKAGE = "cases"
FOLDER = "migrations"  # inside the package: migrations/<dialect or portable>/NNNN_name.sql
PORTABLE = "portable"  # one template for both dialects
DIALECTS = ("postgres", "sqlite")

# A template's placeholders and each dialect's words for them.
DIALECT_WORDS: Mapping[str, Mapping[str, str]] = {
    "postgres": {
        "UUID": "UUID",
        "MOMENT": "TIMESTAMPTZ",
        "DAY": "DATE",
        "BIGINT": "BIGINT",
        "DOUBLE": "DOUBLE PRECISION",
        "BOOLEAN": "BOOLEAN",
        "FALSE": "FALSE",
        "BYTES": "BYTEA",
        "NO_BYTES": "'\\x'::bytea",
        "SORTED_TEXT": 'TEXT COLLATE "C"',
        "NOW": "now()",
    },
    "sqlite": {
        "UUID": "TEXT",
        "MOMENT": "TEXT",
        "DAY": "TEXT",
        "BIGINT": "INTEGER",
        "DOUBLE": "REAL",
        "BOOLEAN": "INTEGER",
        "FALSE": "0",
        "BYTES": "BLOB",
        "NO_BYTES": "X''",
        "SORTED_TEXT": "TEXT",
        "NOW": "(strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))",
    },
}


class SchemaBehindError(Exception):
    """Raised when the database lacks migrations this code needs; run `cases migrate`."""


class MigrationsMissingError(SchemaBehindError):
    """Raised when the installed package holds no migrations for the store's dialect:
    the schema cannot be brought up to date nor checked, wherever it is asked."""


def split_statements(sql: str) -> list[str]:
    """A migration's statements as yoyo reads a `.sql` file: split by sqlparse, the
    first one's leading comments set apart, empty ones dropped. A template may carry
    no yoyo directive (`-- depends:`, `-- transactional:`): they are refused."""
    statements: list[str] = sqlparse.split(sql)
    if statements:
        directives, _, statements[0] = _split_leading_comments(statements[0])
        if directives:
            raise ValueError(f"a portable migration takes no yoyo directive: {directives}")
    return [s for s in statements if s.strip()]


def _folder(name: str) -> Traversable:
    return resources.files(PACKAGE).joinpath(FOLDER, name)


def _missing(name: str) -> MigrationsMissingError:
    return MigrationsMissingError(
        f"no {name} migrations found in the installed package (looked in {_folder(name)}): "
        "the installation is incomplete; reinstall cases"
    )


def portable_statements(dialect: str) -> dict[str, list[str]]:
    """Each portable migration rendered in the dialect: its statements by id, in id order."""
    words = DIALECT_WORDS[dialect]
    folder = _folder(PORTABLE)
    templates = sorted(
        (f for f in folder.iterdir() if f.name.endswith(".sql")) if folder.is_dir() else [],
        key=lambda f: f.name,
    )
    return {
        f.name.removesuffix(".sql"): split_statements(
            f.read_text(encoding="utf-8").format_map(words)
        )
        for f in templates
    }


class _RenderedMigration(Migration):  # type: ignore[misc]  # yoyo is untyped
    """A yoyo migration whose statements come from a rendered template, not a file of
    the dialect; applied, recorded and identified (by its id) as a `.sql` one is."""

    def __init__(self, migration_id: str, statements: list[str], source_dir: str) -> None:
        super().__init__(migration_id, f"{source_dir}/{migration_id}.sql", source_dir)
        self._statements = statements

    def load(self) -> None:
        if self.loaded:
            return
        collector = StepCollector(migration=self)
        for statement in self._statements:
            collector.add_step(statement)
        self.source = ";\n".join(self._statements)
        self._depends: set[Migration] = set()
        self.use_transactions = True
        self.steps = collector.create_steps(self.use_transactions)


def yoyo_uri(url: DatabaseUrl) -> str:
    if url.kind is StoreKind.POSTGRES:
        password = f":{quote(url.password, safe='')}" if url.password else ""
        user = quote(url.user, safe="")
        return f"postgresql+psycopg://{user}{password}@{url.host}:{url.port}/{url.dbname}"
    if url.kind is StoreKind.SQLITE and url.path is not None:
        return f"sqlite:///{url.path}"
    raise ValueError("migrations need a SQLite or PostgreSQL store")


def dialect_migrations(dialect: str) -> MigrationList:
    """The dialect's migrations shipped in the package, in id order: the portable ones
    rendered in the dialect and the dialect's own files. Refused when either folder
    holds none; an id in both is refused by yoyo (`MigrationConflict`)."""
    own: MigrationList = read_migrations(f"package:{PACKAGE}:{FOLDER}/{dialect}")
    if not own:
        raise _missing(dialect)
    portable = portable_statements(dialect)
    if not portable:
        raise _missing(PORTABLE)
    source = f"package:{PACKAGE}:{FOLDER}/{PORTABLE}"
    rendered = [_RenderedMigration(i, statements, source) for i, statements in portable.items()]
    return MigrationList(sorted([*own, *rendered], key=lambda m: m.id), own.post_apply)


def _migrations(url: DatabaseUrl) -> MigrationList:
    return dialect_migrations("postgres" if url.kind is StoreKind.POSTGRES else "sqlite")


def pending_migrations(url: DatabaseUrl) -> list[str]:
    """Ids of the migrations not yet applied to the database."""
    migrations = _migrations(url)
    backend = get_backend(yoyo_uri(url))
    try:
        return [m.id for m in backend.to_apply(migrations)]
    finally:
        backend.connection.close()


def migrate(url: DatabaseUrl) -> list[str]:
    """Apply every pending migration, under yoyo's lock; return their ids."""
    migrations = _migrations(url)
    backend = get_backend(yoyo_uri(url))
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
