"""The customer layer's cells packed a row per seal and months (ADR 85)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cases.reports.compliance_packed import (
    CellGroups,
    names_of,
    pack,
    packed_names,
    packed_rows,
    spread,
    unpacked,
)

NAMES = st.text(st.characters(blacklist_characters="\0", blacklist_categories=["Cs"]), max_size=8)


@given(st.lists(NAMES, max_size=20))
def test_packed_names_read_back_in_order(names: list[str]) -> None:
    """Any names but those holding a NUL, empty ones and newlines too."""
    assert names_of(packed_names(names)) == names


def test_a_name_holding_a_nul_is_refused() -> None:
    with pytest.raises(ValueError, match="NUL"):
        packed_names(["customer-1", "bad\0name"])


@given(
    st.dictionaries(
        st.tuples(st.sampled_from(["2027-01", "2027-02"]), st.sampled_from(["a", "b"]), NAMES),
        st.tuples(
            st.lists(st.integers(-(2**40), 2**40), max_size=4),
            st.lists(st.integers(0, 2**40), max_size=4),
        ),
        max_size=12,
    )
)
def test_packed_rows_hold_each_cells_blobs_and_lengths(
    cells: dict[tuple[str, str, str], tuple[list[int], list[int]]],
) -> None:
    """A row per key less its name, in order; each cell's blobs joined in its
    names' order, a lengths column before the column it counts; read back, every
    cell has its own values and only them."""
    blobs: dict[tuple[str, ...], list[bytes]] = {
        cell: [pack(np.array(a, dtype=np.int64)), pack(np.array(b, dtype=np.int64))]
        for cell, (a, b) in cells.items()
    }
    rows = packed_rows(blobs, ("first", "second_lengths", "second"))
    assert [tuple(row[:2]) for row in rows] == sorted({cell[:2] for cell in cells})
    found = {}
    groups = CellGroups()
    for received_month, month, names, first, lengths, second in rows:
        assert isinstance(names, bytes)
        assert isinstance(lengths, bytes)
        assert isinstance(first, bytes)
        assert isinstance(second, bytes)
        block = (str(received_month), str(month))
        assert names_of(names) == sorted(names_of(names))
        numbered = groups.number(block, names_of(names), 2)
        of = spread(numbered, lengths)
        values = unpacked(second)
        for group in numbered.tolist():
            found[groups.keys[group]] = values[of == group].tolist()
        assert len(first) == sum(8 * len(cells[(*block, n)][0]) for n in names_of(names))
    assert found == {cell: b for cell, (_, b) in cells.items()}


def test_cell_groups_number_each_key_once_in_the_reports_order() -> None:
    """The packed name takes its place in the key; a key met again keeps its group."""
    groups = CellGroups()
    assert groups.number(("2027-01",), ["x", "y"], 0).tolist() == [0, 1]
    assert groups.number(("2027-02",), ["y"], 0).tolist() == [2]
    assert groups.number(("2027-01",), ["y", "z"], 0).tolist() == [1, 3]
    assert groups.keys == [("x", "2027-01"), ("y", "2027-01"), ("y", "2027-02"), ("z", "2027-01")]
