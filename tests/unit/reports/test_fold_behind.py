"""A service-levels batch folded behind one whose writes are not committed yet
(ADR 0083): the batch behind's changes stand in for the rows loaded of its cases."""

from __future__ import annotations

from uuid import UUID, uuid4

from cases.reports.service_levels import DEADLINE_COLUMNS, Row, Table

CASE_A, CASE_B = uuid4(), uuid4()


def deadlines() -> Table:
    return Table("service_level_deadlines", DEADLINE_COLUMNS, ("case_id", "clock", "number"))


def deadline(case_id: UUID, number: int, *, breached: bool = False) -> Row:
    return {
        "case_id": case_id,
        "clock": "vendor",
        "number": number,
        "deadline": None,
        "breached": breached,
    }


def key(case_id: UUID, number: int) -> tuple[int, str, int]:
    return (case_id.int, "vendor", number)


def loaded(table: Table, *rows: Row, cases: tuple[UUID, ...]) -> Table:
    """`table` as a load of `cases` that found `rows` stored."""
    table.loaded.update(case_id.int for case_id in cases)
    for row in rows:
        table.rows[table.key_of(row)] = row
        table.stored.add(table.key_of(row))
    return table


def test_the_rows_behind_put_and_deleted_replace_those_loaded_of_the_same_cases() -> None:
    behind = loaded(deadlines(), deadline(CASE_A, 1), deadline(CASE_A, 2), cases=(CASE_A,))
    behind.delete(key(CASE_A, 1))
    behind.put(key(CASE_A, 2), deadline(CASE_A, 2, breached=True))
    behind.put(key(CASE_A, 3), deadline(CASE_A, 3))
    behind.put(key(CASE_B, 1), deadline(CASE_B, 1))

    # Loaded while the batch behind was uncommitted: the rows stored before it.
    this = loaded(deadlines(), deadline(CASE_A, 1), deadline(CASE_A, 2), cases=(CASE_A,))
    this.overlay(behind)

    assert set(this.rows) == {key(CASE_A, 2), key(CASE_A, 3)}
    assert this.rows[key(CASE_A, 2)]["breached"] is True
    assert this.stored == {key(CASE_A, 2), key(CASE_A, 3)}  # what is stored once it commits
    assert this.touched == set()  # nothing for this batch to write yet


def test_this_batch_changes_its_own_copy_of_a_row_behind() -> None:
    behind = deadlines()
    behind.put(key(CASE_A, 1), deadline(CASE_A, 1))
    this = loaded(deadlines(), cases=(CASE_A,))
    this.overlay(behind)
    this.change(key(CASE_A, 1), {"breached": True})
    assert behind.rows[key(CASE_A, 1)]["breached"] is False  # still being written as it was


def test_cases_this_batch_did_not_load_are_left_alone() -> None:
    behind = deadlines()
    behind.put(key(CASE_B, 1), deadline(CASE_B, 1))
    this = loaded(deadlines(), cases=(CASE_A,))
    this.overlay(behind)
    assert this.rows == {}
    assert this.stored == set()
