"""Statements of the shapes every read model uses, composed once per table.

Each is cached by its arguments (table, columns, a count), so a projection's
batch reuses the statement and the text its store rendered for it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from cases.db.statement import (
    AND,
    COMMA,
    NOTHING,
    Identifier,
    Sql,
    identifier,
    identifiers,
    parameters,
    sql,
)


def select_in(table: str, columns: tuple[str, ...], key: str, count: int) -> Sql:
    """The rows of `table` whose `key` is one of `count` values."""
    return select_keyed_in(table, columns, (key,), count)


@lru_cache(maxsize=64)
def select_any(table: str, columns: tuple[str, ...], key: str, key_type: str) -> Sql:
    """PostgreSQL only: the rows of `table` whose `key` is in one parameter, an
    array of any length (one short statement text for every count, which psycopg
    parses and prepares once; a list of 500 parameters is parsed at every run),
    cast to an array of `key_type` (the key's type as the server names it: the
    array may come as text[], a UUID's text for a uuid key)."""
    return _select(table, columns) + sql(
        f" WHERE {{key}} = ANY({{}}::{_type_name(key_type)}[])", key=identifier(key)
    )


_TYPE_NAME = re.compile(r"[a-z][a-z0-9_ ]*")


def _type_name(name: str) -> str:
    """A type's name as the server gives it (`format_type`), checked to be plain
    words before it is written into a statement's text."""
    if not _TYPE_NAME.fullmatch(name):
        raise ValueError(f"not a plain type name: {name!r}")
    return name


@lru_cache(maxsize=64)
def select_keyed_any(
    table: str, columns: tuple[str, ...], keys: tuple[str, ...], types: tuple[str, ...]
) -> Sql:
    """PostgreSQL only: the rows of `table` whose value of `keys` is one of the
    tuples given as one array parameter per key (the i-th values of each: `unnest`
    pairs them), each array cast to its key's type (`types`, as the server names
    them). One short text for any count, which psycopg parses and prepares once,
    as `select_any` for one key."""
    where = f" WHERE ({{keys}}) IN (SELECT * FROM {_unnest(types)})"  # noqa: S608 (names checked)
    return _select(table, columns) + sql(where, keys=identifiers(keys))


@lru_cache(maxsize=256)
def select_keyed_in(table: str, columns: tuple[str, ...], keys: tuple[str, ...], count: int) -> Sql:
    """The rows of `table` whose value of `keys` is one of `count` values: one
    parameter each for one key, a row of parameters each for several (a row-value
    `IN (VALUES ...)`, which both stores index by a key of those columns)."""
    where: Sql | Identifier
    if len(keys) == 1:
        where, values = identifier(keys[0]), parameters(count)
    else:
        row = sql("({values})", values=parameters(len(keys)))
        where = sql("({keys})", keys=identifiers(keys))
        values = sql("VALUES {rows}", rows=COMMA.join(row for _ in range(count)))
    return _select(table, columns) + sql(" WHERE {where} IN ({values})", where=where, values=values)


@lru_cache(maxsize=64)
def insert(table: str, columns: tuple[str, ...]) -> Sql:
    """One row into `table`, a value per column."""
    return sql(
        "INSERT INTO {table} ({columns}) VALUES ({values})",
        table=identifier(table),
        columns=identifiers(columns),
        values=parameters(len(columns)),
    )


@lru_cache(maxsize=64)
def delete_keyed(table: str, keys: tuple[str, ...]) -> Sql:
    """The row of `table` with the given value of each of `keys`."""
    return sql(
        "DELETE FROM {table} WHERE {where}",
        table=identifier(table),
        where=AND.join(sql("{key} = {}", key=identifier(key)) for key in keys),
    )


@lru_cache(maxsize=64)
def upsert(table: str, columns: tuple[str, ...], keys: tuple[str, ...]) -> Sql:
    """One row into `table`, or its other columns onto the row with the same `keys`."""
    return insert(table, columns) + sql(
        " ON CONFLICT ({keys}) DO UPDATE SET {updates}",
        keys=identifiers(keys),
        updates=_replace_others(columns, keys),
    )


def _replace_others(columns: tuple[str, ...], keys: tuple[str, ...]) -> Sql:
    """`SET` of an upsert that replaces every column but the keys by the new row's."""
    return COMMA.join(
        sql("{column} = {new}", column=identifier(c), new=identifier("excluded", c))
        for c in columns
        if c not in keys
    )


def _unnest(types: tuple[str, ...]) -> str:
    """`unnest` of one array parameter per column, each cast to its column's type."""
    return "unnest(" + ", ".join(f"{{}}::{_type_name(name)}[]" for name in types) + ")"


@lru_cache(maxsize=64)
def upsert_arrays(
    table: str, columns: tuple[str, ...], keys: tuple[str, ...], types: tuple[str, ...]
) -> Sql:
    """PostgreSQL only: rows given as one array parameter per column (the i-th
    values of each make a row; `types`, each column's type as the server names
    it) into `table`, or their other columns onto the row with the same `keys`:
    one statement, no staging table."""
    return sql(
        f"INSERT INTO {{table}} ({{columns}}) SELECT * FROM {_unnest(types)} "  # noqa: S608
        "ON CONFLICT ({keys}) DO UPDATE SET {updates}",
        table=identifier(table),
        columns=identifiers(columns),
        keys=identifiers(keys),
        updates=_replace_others(columns, keys),
    )


@lru_cache(maxsize=64)
def delete_arrays(table: str, keys: tuple[str, ...], types: tuple[str, ...]) -> Sql:
    """PostgreSQL only: the rows of `table` whose `keys` are given as one array
    parameter per key (the i-th values of each make a row's keys)."""
    return sql(
        f"DELETE FROM {{table}} WHERE ({{keys}}) IN (SELECT * FROM {_unnest(types)})",  # noqa: S608
        table=identifier(table),
        keys=identifiers(keys),
    )


@lru_cache(maxsize=64)
def copy_in(table: str, columns: tuple[str, ...]) -> Sql:
    """PostgreSQL only: rows into `table` (a value per column) by COPY in binary
    format (every value sent as its column's type, nothing for the server to parse)."""
    return sql(
        "COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)",
        table=identifier(table),
        columns=identifiers(columns),
    )


@lru_cache(maxsize=64)
def staging_table(table: str, staged: str) -> Sql:
    """PostgreSQL only: this session's table `staged`, of `table`'s columns, which
    every commit empties (created once per session; see `upsert_staged`)."""
    return sql(
        "CREATE TEMPORARY TABLE IF NOT EXISTS {staged} (LIKE {table}) ON COMMIT DELETE ROWS",
        staged=identifier(staged),
        table=identifier(table),
    )


def empty_table(table: str) -> Sql:
    """Every row of `table` deleted (a staging table's, within a transaction)."""
    return sql("DELETE FROM {table}", table=identifier(table))


@lru_cache(maxsize=64)
def upsert_staged(table: str, staged: str, columns: tuple[str, ...], keys: tuple[str, ...]) -> Sql:
    """PostgreSQL only: every row of the staging table `staged` into `table`, or
    its other columns onto the row with the same `keys`."""
    return sql(
        "INSERT INTO {table} ({columns}) SELECT {columns} FROM {staged} "
        "ON CONFLICT ({keys}) DO UPDATE SET {updates}",
        table=identifier(table),
        columns=identifiers(columns),
        staged=identifier(staged),
        keys=identifiers(keys),
        updates=_replace_others(columns, keys),
    )


@lru_cache(maxsize=64)
def upsert_json(
    table: str, columns: tuple[str, ...], keys: tuple[str, ...], updates: Sql | None = None
) -> Sql:
    """PostgreSQL only: every row of one parameter, a JSON array of objects (a
    member per column, read as the table's own row type), into `table`, or onto
    the row with the same `keys`: `updates` (SET ...), by default its other
    columns replaced."""
    if updates is None:
        updates = _replace_others(columns, keys)
    return sql(
        "INSERT INTO {table} ({columns}) SELECT {columns} "
        "FROM json_populate_recordset(NULL::{table}, {}::json) "
        "ON CONFLICT ({keys}) DO UPDATE SET {updates}",
        table=identifier(table),
        columns=identifiers(columns),
        keys=identifiers(keys),
        updates=updates,
    )


@lru_cache(maxsize=256)
def select_where(
    table: str, columns: tuple[str, ...], where: Sql, order: Sql, *, limited: bool = False
) -> Sql:
    """The rows of `table` that meet `where`, in `order` (at most a number of
    them given as the last parameter, when `limited`)."""
    return _select(table, columns) + sql(
        " WHERE {where} ORDER BY {order}{limit}",
        where=where,
        order=order,
        limit=sql(" LIMIT {}") if limited else NOTHING,
    )


def _select(table: str, columns: tuple[str, ...]) -> Sql:
    """`columns` of `table`: the head of every select here."""
    return sql(
        "SELECT {columns} FROM {table}", columns=identifiers(columns), table=identifier(table)
    )
