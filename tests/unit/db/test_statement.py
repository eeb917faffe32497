"""The statement composer renders one written statement for each driver."""

from __future__ import annotations

import sqlite3

import pytest

from cases.db.shapes import insert, select_in, select_where, upsert
from cases.db.statement import (
    AND,
    NOTHING,
    Identifier,
    Parameter,
    SqlError,
    identifier,
    identifiers,
    parameters,
    sql,
    where_all,
)


def test_positional_parameters_render_as_each_drivers_placeholder() -> None:
    statement = sql(
        "SELECT {columns} FROM {table} WHERE case_id = {} AND version > {}",
        columns=identifiers(("case_id", "version")),
        table=identifier("case_queue"),
    )

    assert statement.sqlite() == (
        'SELECT "case_id", "version" FROM "case_queue" WHERE case_id = ? AND version > ?'
    )
    assert statement.postgres(None) == (
        'SELECT "case_id", "version" FROM "case_queue" WHERE case_id = %s AND version > %s'
    )
    assert not statement.named()


def test_named_parameters_render_as_each_drivers_named_placeholder() -> None:
    statement = sql("SELECT 1 WHERE {as_of} >= {start} AND {as_of} < {end}")

    assert statement.sqlite() == "SELECT 1 WHERE :as_of >= :start AND :as_of < :end"
    assert statement.postgres(None) == (
        "SELECT 1 WHERE %(as_of)s >= %(start)s AND %(as_of)s < %(end)s"
    )
    assert statement.named()


def test_a_keyword_fills_its_field_and_an_unfilled_field_is_a_named_parameter() -> None:
    statement = sql("DELETE FROM {table} WHERE day < {day}", table=identifier("seals"))

    assert statement.parts == (
        "DELETE FROM ",
        Identifier(("seals",)),
        " WHERE day < ",
        Parameter("day"),
    )


def test_doubled_braces_are_literal_braces() -> None:
    assert sql("SELECT '{{}}'").sqlite() == "SELECT '{}'"


def test_a_question_mark_in_the_text_is_text_not_a_parameter() -> None:
    statement = sql("SELECT '?' WHERE x = {}")

    assert statement.postgres(None) == "SELECT '?' WHERE x = %s"


@pytest.mark.parametrize(
    ("template", "parts", "message"),
    [
        ("SELECT {} WHERE a = {a}", {}, "positional or named parameters, not both"),
        ("SELECT 1", {"table": identifier("t")}, "no place for table"),
        ("SELECT {0}", {}, "written {}, not numbered"),
        ("SELECT {x!r}", {}, "no format or conversion"),
        ("SELECT {x:>3}", {}, "no format or conversion"),
        ("SELECT {bad-name}", {}, "not a plain parameter name"),
    ],
)
def test_a_statement_that_cannot_be_composed_is_refused_with_its_reason(
    template: str, parts: dict[str, Identifier], message: str
) -> None:
    with pytest.raises(SqlError, match=message):
        sql(template, **parts)


@pytest.mark.parametrize("name", ["", "case queue", 'x"; DROP TABLE t; --', "1table", "a.b"])
def test_an_identifier_must_be_a_plain_name(name: str) -> None:
    with pytest.raises(SqlError, match=r"not a plain SQL name|needs a name"):
        identifier(name)


def test_qualified_identifiers_render_with_their_qualifier() -> None:
    statement = sql("{columns}", columns=identifiers(("a", "b"), qualifier="t"))

    assert statement.sqlite() == '"t"."a", "t"."b"'
    assert statement.postgres(None) == '"t"."a", "t"."b"'


def test_parameter_lists_and_clauses_join_with_their_separators() -> None:
    assert parameters(3).sqlite() == "?, ?, ?"
    assert AND.join([sql("a = {}"), sql("b = {}")]).sqlite() == "a = ? AND b = ?"
    assert where_all([sql("a = {}")]).sqlite() == " WHERE a = ?"
    assert where_all([]) is NOTHING
    with pytest.raises(SqlError, match="at least one"):
        parameters(0)


def test_fragments_compose_by_addition_and_compare_by_their_parts() -> None:
    combined = sql("SELECT {}") + sql(" LIMIT {}")

    assert combined == sql("SELECT {} LIMIT {}")
    assert hash(combined) == hash(sql("SELECT {} LIMIT {}"))
    assert combined != sql("SELECT {} LIMIT 1")


def test_the_shapes_are_composed_once_per_table() -> None:
    columns = ("case_id", "number", "vehicle")

    assert upsert("register", columns, ("case_id", "number")) is upsert(
        "register", columns, ("case_id", "number")
    )
    assert upsert("register", columns, ("case_id", "number")).sqlite() == (
        'INSERT INTO "register" ("case_id", "number", "vehicle") VALUES (?, ?, ?) '
        'ON CONFLICT ("case_id", "number") DO UPDATE SET "vehicle" = "excluded"."vehicle"'
    )
    assert insert("t", ("a",)).sqlite() == 'INSERT INTO "t" ("a") VALUES (?)'
    assert select_in("t", ("a", "b"), "a", 2).sqlite() == (
        'SELECT "a", "b" FROM "t" WHERE "a" IN (?, ?)'
    )
    assert select_where("t", ("a",), sql("a > {}"), sql("a")).sqlite() == (
        'SELECT "a" FROM "t" WHERE a > ? ORDER BY a'
    )


def test_sqlite_runs_what_the_composer_renders() -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute(sql("CREATE TABLE {t} (a INTEGER, b TEXT)", t=identifier("t")).sqlite())
    connection.executemany(insert("t", ("a", "b")).sqlite(), [(1, "x"), (2, "y")])

    named = sql("SELECT b FROM {t} WHERE a = {a}", t=identifier("t"))
    positional = select_in("t", ("b",), "a", 2)

    assert connection.execute(named.sqlite(), {"a": 2}).fetchall() == [("y",)]
    assert sorted(connection.execute(positional.sqlite(), (1, 2)).fetchall()) == [("x",), ("y",)]
