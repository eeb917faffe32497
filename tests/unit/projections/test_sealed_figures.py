"""The pieces of the sealed compliance figures that need no database (ADR 30)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cases.domain.service_clocks import ClockKind
from cases.reports.compliance_columns import Ranks
from cases.reports.compliance_packed import pack, unpacked
from cases.reports.compliance_seal import (
    FIGURES,
    flattened,
    month_start,
    next_month,
    unflattened,
)
from cases.reports.compliance_sealed import (
    Durations,
    GroupRanks,
    bucketed_ranks,
    buckets,
    nearest_ranks,
    ranks_of_groups,
    selected_ranks,
    sorted_ranks,
    whole_months,
)
from cases.reports.compliance_sql import ReportSql
from cases.reports.compliance_statements import Statements, fill


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


def _ranks_by_group(
    parts: dict[tuple[str, ...], list[npt.NDArray[np.int64]]],
) -> dict[tuple[str, ...], GroupRanks]:
    """`nearest_ranks` of each group's durations (the concatenation of its parts)
    that has any, for every group at once (`ranks_of_groups`)."""
    keys = list(parts)
    ids = [
        np.full(len(part), at, dtype=np.int64) for at, key in enumerate(keys) for part in parts[key]
    ]
    values = [part for key in keys for part in parts[key]]
    ranks = ranks_of_groups(
        np.concatenate(ids) if ids else np.empty(0, dtype=np.int64),
        np.concatenate(values) if values else np.empty(0, dtype=np.int64),
        len(keys),
    )
    return {key: found for key, found in zip(keys, ranks, strict=True) if found is not None}


@given(
    st.one_of(
        st.integers(min_value=-5, max_value=50),  # packed with the group, sorted once
        st.integers(min_value=-(2**62), max_value=2**62),  # too wide: group by group
    ).flatmap(
        lambda bound: st.lists(
            st.lists(
                st.lists(st.integers(min_value=min(bound, 0), max_value=abs(bound)), max_size=9),
                max_size=3,
            ),
            max_size=12,
        )
    )
)
def test_every_groups_ranks_at_once_are_each_groups(groups: list[list[list[int]]]) -> None:
    """ADR 79: the ranks of all groups from one sort are those of each group's
    parts joined; a group without a duration has none."""
    parts: dict[tuple[str, ...], list[npt.NDArray[np.int64]]] = {
        (str(g),): [np.sort(np.array(p, dtype=np.int64)) for p in found]
        for g, found in enumerate(groups)
    }
    expected = {
        key: nearest_ranks(np.concatenate(found))
        for key, found in parts.items()
        if sum(len(p) for p in found)
    }
    assert _ranks_by_group(parts) == expected


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


def test_the_customer_cells_vector_holds_every_figure_once() -> None:
    """ADR 79: a cell's counts are one vector in the order of `FIGURES`, which
    names every figure the report's statements find, once."""
    group = {
        "cases": 1,
        "reopened": 2,
        **{f"{p}_counts": (3, 4, 5) for p in ("fr", "res", "nu", "escalation", "vendor")},
        "breaches": {kind.value: 6 for kind in ClockKind},
    }
    assert sorted(flattened(group)) == sorted(FIGURES)
    assert len(set(FIGURES)) == len(FIGURES)


def test_the_statements_name_every_figure_and_only_breaches_twice() -> None:
    """`Counts` name what each statement counts as `FIGURES` does (ADR 84): every
    figure by one statement, but the breaches, which the breaches again add to."""
    names = [
        name
        for counts in Statements(ReportSql((), postgres=True), {}, 0).counts()
        for name in counts.names
    ]
    assert set(names) == set(FIGURES)
    twice = sorted(name for name in set(names) if names.count(name) > 1)
    assert twice == sorted(f"breaches.{kind.value}" for kind in ClockKind)


def test_a_group_filled_from_names_is_its_counts_unflattened() -> None:
    """`fill` puts named counts into a group as `group_figures` reads it; breaches
    from a second statement add to the first's."""
    group: dict[str, object] = {}
    fill(group, ("cases", "fr_counts.0", "fr_counts.1", "fr_counts.2"), (7, 5, 4, 5))
    fill(group, ("breaches.first_response", "breaches.vendor"), (1, 0))
    fill(group, ("breaches.first_response",), (2,))
    assert group == {
        "cases": 7,
        "fr_counts": (5, 4, 5),
        "breaches": {"first_response": 3, "vendor": 0},
    }


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


@pytest.mark.parametrize("found_by", [selected_ranks, bucketed_ranks])
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=40),
            st.one_of(
                st.integers(-(2**40), 2**40),
                st.integers(0, 30),  # ties: many values in one bucket
                st.integers(2**20, 2**20 + 2**17),  # one octave: neighbouring buckets
                st.integers(-(2**62), 2**62),  # too wide for buckets: sorted
            ),
        ),
        max_size=300,
    ),
    st.integers(min_value=1, max_value=45),
)
def test_each_groups_ranks_found_without_one_sort_are_those_of_one_sort(
    found_by: Callable[[Durations, Durations, Durations], Ranks],
    pairs: list[tuple[int, int]],
    extra: int,
) -> None:
    """ADR 84, 85: each group's ranks selected among its values, or found among
    the values of one bucket of a histogram, are those one sort of every (group,
    value) finds, and a group without a value has a length of 0 either way."""
    count = max((g for g, _ in pairs), default=0) + extra
    ids = np.array([g for g, _ in pairs], dtype=np.int64)
    values = np.array([v for _, v in pairs], dtype=np.int64)
    lengths = np.bincount(ids, minlength=count)
    if not len(values):
        return
    found = found_by(ids, values, lengths)
    by_sort = sorted_ranks(ids, values, lengths)
    assert found.lengths.tolist() == by_sort.lengths.tolist()
    some = lengths > 0
    assert found.medians[some].tolist() == by_sort.medians[some].tolist()
    assert found.p90s[some].tolist() == by_sort.p90s[some].tolist()


@given(st.lists(st.integers(-(2**62), 2**62), min_size=1, max_size=200))
def test_a_larger_values_bucket_is_no_smaller(values: list[int]) -> None:
    """ADR 85: the buckets keep the values' order, so the k-th value of a group is
    in the bucket its running count passes k in."""
    found = np.array(values, dtype=np.int64)
    order = np.argsort(found, kind="stable")
    numbered = buckets(found)[order]
    assert (np.diff(numbered) >= 0).all()
    assert numbered.min() == 0
