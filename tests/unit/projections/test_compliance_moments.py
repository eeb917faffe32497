"""The moments a compliance figure can change at (ADR 84): every moment recorded in
a row of each table the report reads, so a seal's changes by moment miss none."""

from __future__ import annotations

import pytest

from cases.persistence.statement import Parameter
from cases.reports.compliance_sql import (
    BREACHES_AGAIN,
    CASES,
    ESCALATIONS,
    UPDATES,
    Dimension,
    ReportSql,
    Source,
)
from cases.reports.service_levels import (
    BREACH_COLUMNS,
    CASE_COLUMNS,
    ESCALATION_COLUMNS,
    LAST_RECORDED,
    UPDATE_COLUMNS,
)

SOURCES = [
    (CASES, CASE_COLUMNS),
    (UPDATES, UPDATE_COLUMNS),
    (ESCALATIONS, ESCALATION_COLUMNS),
    (BREACHES_AGAIN, BREACH_COLUMNS),
]


@pytest.mark.parametrize(("source", "columns"), SOURCES, ids=lambda s: getattr(s, "table", ""))
def test_a_source_changes_at_every_moment_recorded_in_its_rows(
    source: Source, columns: tuple[str, ...]
) -> None:
    recorded = {c for c in columns if c.endswith("recorded_at") and c != LAST_RECORDED}
    assert set(source.moments) == recorded
    assert len(source.moments) == len(recorded)


@pytest.mark.parametrize("postgres", [True, False])
def test_by_moment_the_figures_are_read_as_of_each_rows_moments(postgres: bool) -> None:
    """By moment, no statement is left bound to the report's moment or the seal:
    the figures are read as of each row's moment and the one before it; only the
    moments' own range is bound."""
    sql = ReportSql(
        (Dimension.MONTH,),
        postgres=postgres,
        by_received_month=True,
        since_seal=True,
        quantiles=False,
        by_moment=True,
    )
    for source in (CASES, UPDATES, ESCALATIONS, BREACHES_AGAIN):
        outer = sql.figures(source, [], [])
        inner = sql.at_moments(source)
        bound = {p.name for p in outer.parts if isinstance(p, Parameter)}
        within = {p.name for p in inner.parts if isinstance(p, Parameter)}
        assert "as_of" not in bound
        assert bound - within <= {"start", "end"}
        assert within == {"sealed", "until"}


@pytest.mark.parametrize("group_by", [(), (Dimension.VEHICLE,)])
def test_changes_by_moment_are_read_only_since_a_seal_and_not_by_vehicle(
    group_by: tuple[Dimension, ...],
) -> None:
    with pytest.raises(ValueError, match="since a seal"):
        ReportSql(group_by, postgres=True, since_seal=bool(group_by), by_moment=True)
