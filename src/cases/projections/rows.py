"""Helpers the read models share for reading rows back and writing them."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any, TypeVar
from uuid import UUID

from cases.db.database import ProjectionDatabase, arrays_of
from cases.db.shapes import select_any, select_in, select_keyed_any, select_keyed_in
from cases.db.statement import AND, COMMA, Sql, identifier, sql


def as_uuid(value: object) -> UUID:
    """A UUID column's value: PostgreSQL gives a UUID, SQLite its text."""
    return value if isinstance(value, UUID) else UUID(str(value))


def row_reader(
    columns: tuple[str, ...], types: Mapping[str, Callable[[Any], object]]
) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """What makes a stored row (the values of `columns`, in order) a dict by column,
    each column named in `types` turned from the store's type into Python's by its
    function there (the others as the driver gave them)."""

    def read(values: Sequence[Any]) -> dict[str, Any]:
        row = dict(zip(columns, values, strict=True))
        for column, revive in types.items():
            row[column] = revive(row[column])
        return row

    return read


def stored_rows(
    db: ProjectionDatabase,
    columns: tuple[str, ...],
    read: Callable[[Sequence[Any]], dict[str, Any]],
    rows: Iterable[Sequence[Any]],
) -> Iterator[dict[str, Any]]:
    """`rows` (values of `columns`, read by `rows_in` or `rows_keyed_in`) as dicts
    by column: on PostgreSQL as they come (read in binary, each value is already
    of its Python type, so `read`'s revivers would change nothing), on SQLite by
    `read` (a `row_reader`)."""
    if db.is_postgres:
        return (dict(zip(columns, values, strict=True)) for values in rows)
    return map(read, rows)


T = TypeVar("T")


def chunks(ids: list[T], size: int = 500) -> Iterable[list[T]]:
    """`ids` in runs of at most `size`, for `IN (...)` lists of bounded length."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def rows_in(
    db: ProjectionDatabase, table: str, columns: tuple[str, ...], key: str, ids: Iterable[UUID]
) -> Iterator[tuple[Any, ...]]:
    """The rows of `table` (their `columns`) whose `key` is one of `ids`: on
    PostgreSQL in one statement (`= ANY` an array), its results in binary (no
    moment written as text and parsed again), on SQLite in `IN (...)` lists of
    bounded length."""
    if db.is_postgres:
        wanted = list(ids)
        if wanted:
            (key_type,) = db.type_names(table, (key,))
            yield from db.fetch_by_arrays(select_any(table, columns, key, key_type), [wanted])
        return
    for chunk in chunks(list(ids)):
        yield from db.fetchall(select_in(table, columns, key, len(chunk)), chunk)


def rows_keyed_in(
    db: ProjectionDatabase,
    table: str,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    wanted: Iterable[tuple[Any, ...]],
) -> Iterator[tuple[Any, ...]]:
    """The rows of `table` whose value of `keys` (a tuple, one value per key) is
    one of `wanted`: on PostgreSQL in one statement (an array per key, results in
    binary, as `rows_in`), on SQLite in lists of bounded length."""
    if db.is_postgres:
        arrays = arrays_of(wanted)
        if arrays:
            statement = select_keyed_any(table, columns, keys, db.type_names(table, keys))
            yield from db.fetch_by_arrays(statement, arrays)
        return
    for chunk in chunks(list(wanted), 500 // len(keys)):
        params = [value for key in chunk for value in key]
        yield from db.fetchall(select_keyed_in(table, columns, keys, len(chunk)), params)


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
    *,
    distinct: bool = False,
) -> None:
    """Writes each row (its `columns`), replacing the one with the same `keys`
    (`ProjectionDatabase.upsert_rows`: on PostgreSQL a binary COPY and one
    statement a batch, each value of its column's Python type); `distinct`: no
    two rows have the same keys."""
    values_of = itemgetter(*columns)  # a row's values in column order, in C
    db.upsert_rows(table, columns, keys, [values_of(row) for row in rows], distinct=distinct)


def update_where(
    db: ProjectionDatabase,
    table: str,
    changes: Mapping[str, object],
    where: Sql,
    params: Sequence[object],
) -> None:
    """Set `changes` (column: value) on the rows of `table` that `where` (with its
    `params`) picks."""
    assignments = COMMA.join(sql("{column} = {}", column=identifier(c)) for c in changes)
    db.execute(
        sql(
            "UPDATE {table} SET {assignments} WHERE {where}",
            table=identifier(table),
            assignments=assignments,
            where=where,
        ),
        [*changes.values(), *params],
    )


class Conditions:
    """A query's WHERE conditions, built up one by one, each with its parameters."""

    def __init__(self) -> None:
        self.clauses: list[Sql] = []
        self.params: list[object] = []

    @classmethod
    def of(cls, clause: Sql, *params: object) -> Conditions:
        """The one condition `clause`, with its `params`."""
        conditions = cls()
        conditions.add(clause, *params)
        return conditions

    def add(self, clause: Sql, *params: object) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def add_given(self, clause: Sql, value: object | None) -> None:
        """`clause` with the one parameter `value`, unless `value` is None (not asked)."""
        if value is not None:
            self.add(clause, value)

    def all(self) -> Sql:
        """The conditions joined by AND (every row, when there are none)."""
        return AND.join(self.clauses) if self.clauses else sql("1 = 1")
