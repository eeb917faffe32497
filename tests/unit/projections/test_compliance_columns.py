"""A report's groups kept as columns (ADR 81, amendment of 2026-12-05): the same
groups, and the same JSON and CSV, as the groups made one by one."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cases.api.schemas.reports import ComplianceReportOut
from cases.reports.compliance_columns import FigureColumns, Ranks
from cases.reports.compliance_export import to_csv
from cases.reports.compliance_report import (
    ComplianceReport,
    GroupsOfColumns,
    ReportRequest,
    group_figures,
)
from cases.reports.compliance_seal import FIGURES
from cases.reports.compliance_sql import MEASURES, Dimension

REQUEST = ReportRequest(
    datetime(2027, 1, 1, tzinfo=UTC),
    datetime(2028, 1, 1, tzinfo=UTC),
    datetime(2028, 6, 1, tzinfo=UTC),
    (Dimension.MONTH, Dimension.CUSTOMER),
)
# small counts (so zero denominators and zero lengths are common), long durations
COUNTS = st.lists(st.integers(0, 3), min_size=len(FIGURES), max_size=len(FIGURES))
RANKS = st.tuples(st.integers(0, 2), st.integers(0, 10**13), st.integers(0, 10**13))


@st.composite
def columns(draw: st.DrawFn) -> FigureColumns:
    keys: list[tuple[str, ...]] = draw(
        st.lists(
            st.tuples(st.sampled_from(["2027-01", "2027-02"]), st.text(max_size=3)),
            unique=True,
            max_size=6,
        )
    )
    counts = np.array([draw(COUNTS) for _ in keys], dtype=np.int64).reshape(-1, len(FIGURES))
    ranks = {}
    for measure in MEASURES:
        drawn = np.array([draw(RANKS) for _ in keys], dtype=np.int64).reshape(-1, 3)
        ranks[measure] = Ranks(drawn[:, 0], drawn[:, 1], drawn[:, 2])
    return FigureColumns(keys, counts, ranks).sorted()


@settings(max_examples=200)
@given(columns())
def test_json_and_csv_from_columns_are_those_of_the_groups(found: FigureColumns) -> None:
    kept = GroupsOfColumns(found)
    made = tuple(group_figures(key, found.found(at)) for at, key in enumerate(found.keys))
    from_columns, one_by_one = ComplianceReport(REQUEST, kept), ComplianceReport(REQUEST, made)
    assert kept == made
    assert made == kept
    assert from_columns == one_by_one
    assert list(kept) == list(made)
    assert kept[-1:] == made[-1:]
    assert ComplianceReportOut.json_of(from_columns) == ComplianceReportOut.json_of(one_by_one)
    assert to_csv(from_columns) == to_csv(one_by_one)


def test_columns_sort_by_key() -> None:
    keys: list[tuple[str, ...]] = [("2027-02", "a"), ("2027-01", "b"), ("2027-01", "a")]
    counts = np.arange(3 * len(FIGURES), dtype=np.int64).reshape(3, -1)
    lengths = np.array([1, 0, 2], dtype=np.int64)
    found = FigureColumns(keys, counts, {"fr": Ranks(lengths, lengths * 10, lengths * 20)})
    ordered = found.sorted()
    assert ordered.keys == sorted(keys)
    assert ordered.counts[:, 0].tolist() == [counts[2, 0], counts[1, 0], counts[0, 0]]
    assert ordered.ranks["fr"].medians.tolist() == [20, 0, 10]
