"""The moments a compliance figure can change at (ADR 84): every moment recorded in
a row of each table the report reads, so a seal's changes by moment miss none."""

from __future__ import annotations

import pytest

from cases.persistence.statement import Parameter, Sql
from cases.reports.compliance_sql import (
    BREACHES_AGAIN,
    CASES,
    ESCALATIONS,
    MEASURES,
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
@pytest.mark.parametrize("group_by", [(Dimension.MONTH,), (Dimension.SEVERITY, Dimension.VEHICLE)])
def test_by_moment_the_figures_are_read_as_of_each_rows_moments(
    postgres: bool, group_by: tuple[Dimension, ...]
) -> None:
    """By moment, no statement is left bound to the report's moment or the seal:
    the figures are read as of each row's moment and the one before it; only the
    rows and their moments are read since the seal and until the next."""
    sql = ReportSql(
        group_by,
        postgres=postgres,
        by_received_month=True,
        since_seal=True,
        quantiles=False,
        by_moment=True,
    )
    for source in (CASES, UPDATES, ESCALATIONS, BREACHES_AGAIN):
        inner = _names(sql.at_moments(source))
        assert "as_of" not in inner
        assert {"sealed", "until"} <= inner <= {"sealed", "until", "moved", "start", "end"}
        for statement in (
            sql.figures(source, [], []),
            *(
                sql.durations(source, q, packed=postgres)
                for s, q in MEASURES.values()
                if s == source
            ),
        ):
            outer = _names(statement) - inner
            assert outer <= {"start", "end"}, (source.table, outer)


def _names(statement: Sql) -> set[str]:
    return {p.name for p in statement.parts if isinstance(p, Parameter) and p.name}


def test_changes_by_moment_are_read_only_since_a_seal() -> None:
    with pytest.raises(ValueError, match="since a seal"):
        ReportSql((), postgres=True, by_moment=True)
