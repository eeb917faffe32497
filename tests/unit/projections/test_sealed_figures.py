"""The pieces of the sealed compliance figures that need no database (ADR 30)."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from cases.reports.compliance_seal import (
    flattened,
    month_start,
    next_month,
    pack,
    unflattened,
    unpacked,
)
from cases.reports.compliance_sealed import nearest_ranks, whole_months


@given(st.lists(st.integers(min_value=-(2**62), max_value=2**62), max_size=300))
def test_nearest_ranks_are_the_kth_smallest(values: list[int]) -> None:
    """k = ceil(p * n), counted in exact fractions: as percentile_disc picks."""
    got = nearest_ranks(np.array(values, dtype=np.int64))
    if not values:
        assert got == (None, None)
        return
    ordered = sorted(values)
    n = len(values)
    median, p90 = ordered[math.ceil(n / 2) - 1], ordered[-(-9 * n // 10) - 1]
    assert got == (timedelta(microseconds=median), timedelta(microseconds=p90))


@given(
    st.lists(st.integers(min_value=0, max_value=20), max_size=300),
    st.lists(st.booleans(), max_size=300),
)
def test_nearest_ranks_less_removed_values_are_those_of_what_is_left(
    values: list[int], taken: list[bool]
) -> None:
    """Grouped by vehicle, durations leave the group `none` (ADR 72): the ranks
    of the multiset less them are those of the values left, many of them equal."""
    removed = [v for v, out in zip(values, taken, strict=False) if out]
    left = [v for v, out in itertools.zip_longest(values, taken[: len(values)]) if not out]
    got = nearest_ranks(np.array(values, dtype=np.int64), np.array(removed, dtype=np.int64))
    assert got == nearest_ranks(np.array(left, dtype=np.int64))


@given(st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=50))
def test_packed_durations_read_back(values: list[int]) -> None:
    packed = pack(np.array(values, dtype=np.int64))
    assert np.frombuffer(packed, dtype=">i8").tolist() == values
    assert unpacked(packed).tolist() == values
    halves = (
        pack(np.array(values[:3], dtype=np.int64)),
        pack(np.array(values[3:], dtype=np.int64)),
    )
    assert unpacked(b"".join(halves)).tolist() == values  # a group's cells, joined


def test_counts_flatten_and_back() -> None:
    group = {
        "cases": 7,
        "fr_counts": (5, 4, 5),
        "breaches": {"first_response": 1, "vendor": 0},
        "fr_quantiles": (None, None),
    }
    flat = flattened(group)
    assert flat == {
        "cases": 7,
        "fr_counts.0": 5,
        "fr_counts.1": 4,
        "fr_counts.2": 5,
        "breaches.first_response": 1,
        "breaches.vendor": 0,
    }
    assert unflattened(flat) == {k: v for k, v in group.items() if k != "fr_quantiles"}


def test_months() -> None:
    moment = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert month_start(moment) == datetime(2026, 12, 1, tzinfo=UTC)
    assert next_month(moment) == datetime(2027, 1, 1, tzinfo=UTC)
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC)
    assert whole_months(start, end) == (start, end)
    assert whole_months(start + timedelta(seconds=1), end - timedelta(seconds=1)) == (
        datetime(2026, 4, 1, tzinfo=UTC),
        datetime(2026, 4, 1, tzinfo=UTC),
    )
