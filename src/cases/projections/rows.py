"""Helpers the read models share for reading rows back and writing them."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any, TypeVar
from uuid import UUID

from cases.db.database import ProjectionDatabase
from cases.db.shapes import select_in, upsert


def as_uuid(value: object) -> UUID:
    """A UUID column's value: PostgreSQL gives a UUID, SQLite its text."""
    return value if isinstance(value, UUID) else UUID(str(value))


def chunks(ids: list[UUID], size: int = 500) -> Iterable[list[UUID]]:
    """`ids` in runs of at most `size`, for `IN (...)` lists of bounded length."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def rows_in(
    db: ProjectionDatabase, table: str, columns: tuple[str, ...], key: str, ids: Iterable[UUID]
) -> Iterator[tuple[Any, ...]]:
    """The rows of `table` (their `columns`) whose `key` is one of `ids`, read in
    `IN (...)` lists of bounded length."""
    for chunk in chunks(list(ids)):
        yield from db.fetchall(select_in(table, columns, key, len(chunk)), chunk)


K = TypeVar("K")
R = TypeVar("R")


def wanted_rows(rows: Iterable[R], key: Callable[[R], K], wanted: Collection[K]) -> dict[K, R]:
    """The rows whose key (`key(row)`) is `wanted`, by that key."""
    return {k: row for row in rows if (k := key(row)) in wanted}


def upsert_rows(
    db: ProjectionDatabase,
    table: str,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    rows: Iterable[Mapping[str, Any]],
) -> None:
    """Writes each row (its `columns`), replacing the one with the same `keys`."""
    db.executemany(upsert(table, columns, keys), [[row[c] for c in columns] for row in rows])
