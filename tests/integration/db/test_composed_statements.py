"""Composed statements run alike on both SQL stores (the memory store has no
SQL tables: `ProjectionDatabase` refuses it, as the first test shows)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from cases.db.database import ProjectionDatabase, as_moment
from cases.db.shapes import delete_keyed, insert, select_in, select_where, upsert, upsert_json
from cases.db.statement import constant, identifier, sql
from cases.persistence.database_url import parse_database_url
from cases.projections.rows import rows_in, rows_keyed_in
from tests.support.postgres import throwaway_database

SQL_STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
COLUMNS = ("item_id", "number", "label", "at")
MOMENT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(params=SQL_STORES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProjectionDatabase]:
    def opened(url: str) -> ProjectionDatabase:
        database = ProjectionDatabase(parse_database_url(url))
        database.execute(
            "CREATE TABLE composed_items (item_id TEXT, number INTEGER, label TEXT, "
            "at TEXT, PRIMARY KEY (item_id, number))"
            if not database.is_postgres
            else "CREATE TABLE composed_items (item_id UUID, number INTEGER, label TEXT, "
            "at TIMESTAMPTZ, PRIMARY KEY (item_id, number))"
        )
        return database

    if request.param == "sqlite":
        database = opened(f"sqlite:///{tmp_path / 'composed.db'}")
        yield database
        database.close()
        return
    with throwaway_database() as url:
        database = opened(url)
        yield database
        database.close()


def test_the_memory_store_has_no_sql_tables() -> None:
    with pytest.raises(ValueError, match="projections need a SQLite or PostgreSQL store"):
        ProjectionDatabase(parse_database_url("memory://"))


def _rows(db: ProjectionDatabase, item: UUID) -> list[tuple[int, str]]:
    found = db.fetchall(
        select_where("composed_items", ("number", "label"), sql("item_id = {}"), sql("number")),
        [item],
    )
    return [(int(number), str(label)) for number, label in found]


def test_the_shapes_insert_upsert_select_and_delete_on_each_store(db: ProjectionDatabase) -> None:
    item = uuid4()
    db.executemany(
        insert("composed_items", COLUMNS), [(item, 1, "one", MOMENT), (item, 2, "two", MOMENT)]
    )
    db.executemany(
        upsert("composed_items", COLUMNS, ("item_id", "number")),
        [(item, 2, "second", MOMENT), (item, 3, "three", MOMENT)],
    )

    assert _rows(db, item) == [(1, "one"), (2, "second"), (3, "three")]
    assert len(db.fetchall(select_in("composed_items", ("label",), "number", 2), [1, 3])) == 2

    db.executemany(delete_keyed("composed_items", ("item_id", "number")), [(item, 1)])

    assert _rows(db, item) == [(2, "second"), (3, "three")]


def test_rows_are_read_by_pairs_of_keys_on_each_store(db: ProjectionDatabase) -> None:
    """`rows_keyed_in` reads the rows of exactly the wanted (item, number) pairs,
    though the same numbers belong to other items too, in chunks past one list."""
    items = [uuid4() for _ in range(300)]
    db.executemany(
        insert("composed_items", COLUMNS),
        [(item, n, f"{i}-{n}", MOMENT) for i, item in enumerate(items) for n in (1, 2, 3)],
    )
    wanted = {(item, 2) for item in items} | {(items[0], 3)}

    found = rows_keyed_in(db, "composed_items", ("label",), ("item_id", "number"), wanted)

    assert sorted(label for (label,) in found) == sorted([f"{i}-2" for i in range(300)] + ["0-3"])
    assert list(rows_keyed_in(db, "composed_items", ("label",), ("item_id", "number"), [])) == []


def test_named_parameters_bind_from_a_mapping_on_each_store(db: ProjectionDatabase) -> None:
    item = uuid4()
    db.executemany(
        insert("composed_items", COLUMNS), [(item, n, f"n{n}", MOMENT) for n in range(5)]
    )
    statement = sql(
        "SELECT count(*) FROM {table} WHERE item_id = {item} AND number >= {low} "
        "AND number < {high} AND at <= {at}",
        table=identifier("composed_items"),
    )
    values = {"item": item, "low": 1, "high": 4, "at": MOMENT, "unused": "ignored"}

    assert db.fetchone(statement, values) == (3,)
    assert db.fetchone(statement.renamed(high="low"), values) == (0,)


def test_a_constant_is_the_same_text_in_select_and_group_by(db: ProjectionDatabase) -> None:
    item = uuid4()
    db.executemany(insert("composed_items", COLUMNS), [(item, n, "x", MOMENT) for n in range(3)])
    key = sql("COALESCE(label, {fallback})", fallback=constant("none"))
    statement = sql(
        "SELECT {key}, count(*) FROM composed_items WHERE item_id = {} GROUP BY {key}", key=key
    )

    assert db.fetchall(statement, [item]) == [("x", 3)]


def test_a_text_statement_with_parameters_is_refused(db: ProjectionDatabase) -> None:
    with pytest.raises(TypeError, match="composed"):
        db.fetchall("SELECT label FROM composed_items WHERE number = ?", [1])


def test_a_question_mark_in_a_literal_is_left_alone(db: ProjectionDatabase) -> None:
    assert db.fetchone(sql("SELECT '?', {}"), ["x"]) == ("?", "x")


class Shade(Enum):
    """A plain enum: psycopg itself would dump its name, not its value."""

    DARK = "dark-grey"


class Tone(StrEnum):
    LOUD = "loud"


def test_enums_are_stored_by_value_on_both_stores(db: ProjectionDatabase) -> None:
    """PostgreSQL's parameters go to the driver as they are (nothing adapted in
    Python); enums still arrive as their values, as SQLite's adapted ones do."""
    item = uuid4()
    db.executemany(
        insert("composed_items", COLUMNS),
        [(item, 1, Shade.DARK, MOMENT), (item, 2, Tone.LOUD, MOMENT)],
    )
    db.execute(
        upsert("composed_items", COLUMNS, ("item_id", "number")), (item, 3, Shade.DARK, MOMENT)
    )
    assert _rows(db, item) == [(1, "dark-grey"), (2, "loud"), (3, "dark-grey")]


def test_upsert_rows_inserts_and_replaces_a_batch_on_each_store(db: ProjectionDatabase) -> None:
    """One statement a batch on PostgreSQL (the rows by binary COPY into a staging
    table), a statement per row on SQLite: the same rows either way, the last of
    two rows with the same keys winning, a StrEnum by value, moments exact to the
    microsecond."""
    item, other = uuid4(), uuid4()
    db.executemany(
        insert("composed_items", COLUMNS), [(item, 1, "one", MOMENT), (item, 2, "two", MOMENT)]
    )
    later = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)

    db.upsert_rows(
        "composed_items",
        COLUMNS,
        ("item_id", "number"),
        [
            (item, 2, "second", later),
            (item, 3, "dark", MOMENT),
            (other, 1, 'quote " and \\ backslash', MOMENT),
            (item, 3, Tone.LOUD, later),
        ],
    )
    db.upsert_rows("composed_items", COLUMNS, ("item_id", "number"), [])

    assert _rows(db, item) == [(1, "one"), (2, "second"), (3, "loud")]
    assert _rows(db, other) == [(1, 'quote " and \\ backslash')]
    (at,) = db.fetchone(
        select_where("composed_items", ("at",), sql("item_id = {} AND number = 3"), sql("1")),
        [item],
    ) or (None,)
    assert as_moment(at) == later


def test_upsert_and_delete_by_arrays_on_each_store(db: ProjectionDatabase) -> None:
    """On PostgreSQL one statement each, an array parameter per column (ADR 80);
    on SQLite `upsert_rows` and a delete per row: the same rows either way. A
    stored row is replaced, a new one inserted, a column of NULLs only and a
    StrEnum by value kept, moments exact to the microsecond; a delete takes the
    rows with every key given (not another number of the same item), and a key
    not stored deletes nothing."""
    item, other = uuid4(), uuid4()
    db.executemany(
        insert("composed_items", COLUMNS), [(item, 1, "one", MOMENT), (item, 2, "two", MOMENT)]
    )
    later = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)
    keys = ("item_id", "number")

    with db.transaction():
        db.upsert_by_arrays(
            "composed_items",
            COLUMNS,
            keys,
            [(item, 2, "second", later), (item, 3, Tone.LOUD, later), (other, 1, "first", later)],
        )
        db.upsert_by_arrays("composed_items", COLUMNS, keys, [(other, 2, "nulls", None)])
        db.upsert_by_arrays("composed_items", COLUMNS, keys, [])
    db.delete_rows("composed_items", keys, [(item, 1), (other, 7)])
    db.delete_rows("composed_items", keys, [])

    assert _rows(db, item) == [(2, "second"), (3, "loud")]
    assert _rows(db, other) == [(1, "first"), (2, "nulls")]
    moments = db.fetchall(
        select_where("composed_items", ("at",), sql("item_id = {}"), sql("number")), [other]
    )
    assert [None if at is None else as_moment(at) for (at,) in moments] == [later, None]


def test_upsert_rows_keeps_exact_decimals_dates_and_nulls_on_each_store(
    db: ProjectionDatabase,
) -> None:
    amount = "NUMERIC" if db.is_postgres else "TEXT"  # SQLite keeps a Decimal as text
    db.execute(
        f"CREATE TABLE typed_items (item_id TEXT PRIMARY KEY, amount {amount}, day DATE, "
        "flag BOOLEAN, note TEXT)"
    )
    columns = ("item_id", "amount", "day", "flag", "note")
    db.upsert_rows(
        "typed_items",
        columns,
        ("item_id",),
        [("a", Decimal("12.345678901234567890"), date(2026, 2, 28), True, None)],
    )
    db.upsert_rows("typed_items", columns, ("item_id",), [("a", Decimal("0.10"), None, False, "x")])

    found = db.fetchone(select_in("typed_items", columns, "item_id", 1), ["a"])
    assert found is not None
    assert Decimal(str(found[1])) == Decimal("0.10")
    assert (found[2], bool(found[3]), found[4]) == (None, False, "x")
    exact = Decimal("12.345678901234567890")
    db.upsert_rows("typed_items", columns, ("item_id",), [("b", exact, None, True, None)])
    stored = db.fetchone(select_in("typed_items", ("amount",), "item_id", 1), ["b"])
    assert stored is not None
    assert Decimal(str(stored[0])) == exact


def test_upsert_rows_in_a_transaction_or_alone_and_after_a_failed_one_on_each_store(
    db: ProjectionDatabase,
) -> None:
    """PostgreSQL stages the rows in a temporary table that every commit empties:
    an upsert outside a transaction gets one of its own, several in one
    transaction each write their own rows, and one after a transaction that
    failed (and took the staging table it made with it) makes it again."""
    item = uuid4()

    def failing_batch() -> None:
        with db.transaction():
            db.upsert_rows(
                "composed_items", COLUMNS, ("item_id", "number"), [(item, 9, "gone", MOMENT)]
            )
            raise RuntimeError("the batch fails")

    with pytest.raises(RuntimeError):
        failing_batch()
    db.upsert_rows("composed_items", COLUMNS, ("item_id", "number"), [(item, 1, "alone", MOMENT)])
    with db.transaction():
        db.upsert_rows("composed_items", COLUMNS, ("item_id", "number"), [(item, 2, "two", MOMENT)])
        db.upsert_rows(
            "composed_items", COLUMNS, ("item_id", "number"), [(item, 3, "three", MOMENT)]
        )

    assert _rows(db, item) == [(1, "alone"), (2, "two"), (3, "three")]


def test_upsert_rows_of_one_key_twice_in_a_transaction_keeps_the_last_on_each_store(
    db: ProjectionDatabase,
) -> None:
    """Two upserts of the same row in one transaction (a rebuild's last batches
    and its swap, ADR 71): the second's row stays. PostgreSQL's staging table
    still holds the first's rows until the commit, so it is emptied first:
    otherwise both are inserted again in one statement, which PostgreSQL
    refuses (`cannot affect row a second time`)."""
    item = uuid4()
    with db.transaction():
        for note in ("first", "second", "third"):
            db.upsert_rows(
                "composed_items", COLUMNS, ("item_id", "number"), [(item, 1, note, MOMENT)]
            )
    db.upsert_rows("composed_items", COLUMNS, ("item_id", "number"), [(item, 2, "alone", MOMENT)])

    assert _rows(db, item) == [(1, "third"), (2, "alone")]


@pytest.mark.postgres
def test_upsert_rows_on_postgres_takes_each_value_as_its_columns_type() -> None:
    """Binary COPY dumps every value by its column's type: text for a uuid column
    is refused, and the batch's transaction with it (SQLite takes either)."""
    with throwaway_database() as url:
        db = ProjectionDatabase(parse_database_url(url))
        try:
            db.execute("CREATE TABLE typed (item_id UUID PRIMARY KEY, label TEXT)")
            with pytest.raises(AttributeError), db.transaction():
                db.upsert_rows("typed", ("item_id", "label"), ("item_id",), [(str(uuid4()), "x")])
            assert db.fetchall("SELECT item_id FROM typed") == []
        finally:
            db.close()


def test_rows_in_reads_every_wanted_key_on_each_store(db: ProjectionDatabase) -> None:
    """More ids than one `IN (...)` list holds (SQLite reads in chunks, PostgreSQL
    in one `= ANY` of an array), given as UUIDs or as their text, and none."""
    items = [uuid4() for _ in range(1200)]
    db.executemany(insert("composed_items", COLUMNS), [(item, 1, "x", MOMENT) for item in items])

    def read(ids: list[Any]) -> set[str]:
        return {str(i) for (i,) in rows_in(db, "composed_items", ("item_id",), "item_id", ids)}

    assert read(items[:700]) == {str(item) for item in items[:700]}
    assert read([str(item) for item in items[600:1100]]) == {str(item) for item in items[600:1100]}
    assert read([]) == set()


def test_write_rows_runs_an_adding_upsert_alike_on_each_store(db: ProjectionDatabase) -> None:
    """`write_rows` with the receivables' kind of statement: movements added to the
    stored ones, whether the rows go one a statement (SQLite) or all in one."""
    db.execute(
        "CREATE TABLE tallies (item_id TEXT, day DATE, amount INTEGER, PRIMARY KEY (item_id, day))"
    )
    columns, keys = ("item_id", "day", "amount"), ("item_id", "day")
    adds = sql("amount = {table}.amount + excluded.amount", table=identifier("tallies"))
    each = insert("tallies", columns) + sql(" ON CONFLICT (item_id, day) DO UPDATE SET ") + adds
    at_once = upsert_json("tallies", columns, keys, adds)
    first, second = date(2026, 3, 1), date(2026, 3, 2)

    db.write_rows(each, at_once, columns, [("a", first, 5), ("a", second, 7)])
    db.write_rows(each, at_once, columns, [("a", first, -2), ("b", first, 1)])
    db.write_rows(each, at_once, columns, [])

    found = db.fetchall(
        select_where("tallies", ("item_id", "day", "amount"), sql("1 = 1"), sql("item_id, day")),
        [],
    )
    assert [(i, str(d), int(n)) for i, d, n in found] == [
        ("a", "2026-03-01", 3),
        ("a", "2026-03-02", 7),
        ("b", "2026-03-01", 1),
    ]


def test_delete_rows_deletes_exactly_the_keyed_rows_on_each_store(db: ProjectionDatabase) -> None:
    """`delete_rows` (the service levels' finished deadlines): the rows with the
    given keys go, one statement on PostgreSQL, a statement per row on SQLite;
    rows sharing part of a key stay, keys with no row are no error."""
    item, other = uuid4(), uuid4()
    db.executemany(
        insert("composed_items", COLUMNS),
        [(item, n, "x", MOMENT) for n in (1, 2, 3)] + [(other, 2, "y", MOMENT)],
    )

    db.delete_rows("composed_items", ("item_id", "number"), [(item, 2), (item, 3), (item, 9)])
    db.delete_rows("composed_items", ("item_id", "number"), [])

    assert _rows(db, item) == [(1, "x")]
    assert _rows(db, other) == [(2, "y")]


@pytest.mark.postgres
def test_moments_read_on_postgres_are_in_pythons_own_utc() -> None:
    """Whatever the server's zone (here `Etc/UTC`, a ZoneInfo to psycopg), the
    session's is UTC: moments come back as `datetime.timezone.utc`, set as is by
    psycopg's C loader and compared without a zone's offsets (ADR 80, slw2)."""
    with throwaway_database() as url:
        database = ProjectionDatabase(parse_database_url(url))
        found = database.fetchone(sql("SELECT {}::timestamptz"), [MOMENT])
        database.close()
    assert found is not None
    assert found[0] == MOMENT
    assert found[0].tzinfo is UTC


@pytest.mark.postgres
def test_uuid_arrays_reach_postgres_whole_and_in_order() -> None:
    """`fetch_by_arrays` makes a one-dimensional array of UUIDs without NULL in C
    from their integers (ADR 80, amendment sl3): the server reads every UUID, the
    extreme ones too, in order; one with a NULL goes psycopg's own way."""
    ids = [UUID(int=0), uuid4(), UUID(int=2**128 - 1), uuid4()]
    with throwaway_database() as url:
        database = ProjectionDatabase(parse_database_url(url))
        try:
            statement = sql("SELECT unnest({}::uuid[])")
            whole = database.fetch_by_arrays(statement, [ids])
            with_null = database.fetch_by_arrays(statement, [[ids[1], None, ids[0]]])
        finally:
            database.close()
    assert [row[0] for row in whole] == ids
    assert [row[0] for row in with_null] == [ids[1], None, ids[0]]


def test_a_pipelines_upserts_reads_and_deletes_land_as_without_on_each_store(
    db: ProjectionDatabase,
) -> None:
    """Inside `pipeline()` (ADR 86): rows upserted (on PostgreSQL by arrays, as no
    COPY runs in a pipeline), deleted, and read back in the same transaction, a
    read waiting for the writes sent before it; on SQLite the same block runs as
    without."""
    item, keys = uuid4(), ("item_id", "number")
    with db.pipeline(), db.transaction():
        assert db.pipelining is db.is_postgres
        db.upsert_rows(
            "composed_items", COLUMNS, keys, [(item, 1, "one", MOMENT), (item, 2, "two", MOMENT)]
        )
        db.upsert_rows("composed_items", COLUMNS, keys, [(item, 2, "second", MOMENT)])
        db.upsert_by_arrays("composed_items", COLUMNS, keys, [(item, 3, "three", None)])
        db.delete_rows("composed_items", keys, [(item, 1)])
        assert _rows(db, item) == [(2, "second"), (3, "three")]  # read within the pipeline
        db.upsert_rows("composed_items", COLUMNS, keys, [(item, 4, "four", MOMENT)])
    assert not db.pipelining
    assert _rows(db, item) == [(2, "second"), (3, "three"), (4, "four")]


def test_a_write_refused_in_a_pipeline_fails_its_transaction_at_the_end_on_each_store(
    db: ProjectionDatabase,
) -> None:
    """A statement the server refuses inside a pipelined transaction: the block
    raises (on PostgreSQL when the commit waits for the results, not when the
    statement is sent), nothing of the transaction stays, and the connection
    works on, in and out of a pipeline."""
    item, keys = uuid4(), ("item_id", "number")
    db.upsert_rows("composed_items", COLUMNS, keys, [(item, 1, "kept", MOMENT)])

    def refused_batch() -> None:
        with db.pipeline(), db.transaction():
            db.upsert_rows("composed_items", COLUMNS, keys, [(item, 1, "changed", MOMENT)])
            db.execute(  # two rows, one key: the primary key refuses the second
                sql("INSERT INTO composed_items (item_id, number) VALUES ({}, 2), ({}, 2)"),
                [item, item],
            )
            db.upsert_rows("composed_items", COLUMNS, keys, [(item, 3, "after", MOMENT)])

    refusals = (psycopg.errors.UniqueViolation, sqlite3.IntegrityError)
    with pytest.raises(refusals, match="composed_items"):
        refused_batch()
    assert not db.pipelining
    assert _rows(db, item) == [(1, "kept")]
    with db.pipeline(), db.transaction():
        db.upsert_rows("composed_items", COLUMNS, keys, [(item, 2, "two", MOMENT)])
    db.upsert_rows("composed_items", COLUMNS, keys, [(item, 3, "three", MOMENT)])
    assert _rows(db, item) == [(1, "kept"), (2, "two"), (3, "three")]
