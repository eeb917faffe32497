"""The compliance report's JSON, written without validating each group again
(ADR 81): byte for byte what FastAPI wrote from the validated model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cases.api.schemas.reports import ComplianceReportOut
from cases.reports.compliance_export import as_dict, seconds
from cases.reports.compliance_report import (
    BreachCounts,
    ClockFigures,
    ComplianceReport,
    Durations,
    EscalationFigures,
    GroupFigures,
    ReportRequest,
    TargetShare,
)
from cases.reports.compliance_sql import Dimension

PLUS_TWO = timezone(timedelta(hours=2, minutes=30))


def _clock(count: int, median_us: int, judged: int, within: int) -> ClockFigures:
    times = Durations(count, timedelta(microseconds=median_us), timedelta(seconds=median_us))
    return ClockFigures(times, TargetShare(judged, within))


def _group(key: tuple[str, ...], n: int) -> GroupFigures:
    return GroupFigures(
        key,
        cases=3 * n + 1,
        first_response=_clock(n + 1, 1_234_567 * n + 1, 3, n % 4),
        resolution=_clock(n, 7, 0, 0),
        breaches=BreachCounts(n, 1, 2, 3),
        escalations=EscalationFigures(
            n, n // 2, Durations(n, timedelta(days=n), None), _clock(1, 10**12 + n, 7, 1)
        ),
        reopened=n // 3,
    )


def _report(start: datetime, group_by: tuple[Dimension, ...], count: int) -> ComplianceReport:
    request = ReportRequest(start, start + timedelta(days=40), start + timedelta(days=50), group_by)
    keys = [tuple(f'{d.value}-"{n}"-é' for d in group_by) for n in range(count)]
    return ComplianceReport(request, tuple(_group(key, n) for n, key in enumerate(keys)))


@pytest.mark.parametrize(
    ("start", "group_by", "count"),
    [
        (datetime(2027, 1, 1, tzinfo=UTC), (), 1),
        (datetime(2027, 1, 1, tzinfo=UTC), (), 0),
        (datetime(2027, 3, 4, 5, 6, 7, 890, tzinfo=PLUS_TWO), (Dimension.CUSTOMER,), 50),
        (datetime(2027, 1, 1, tzinfo=UTC), (Dimension.MONTH, Dimension.CUSTOMER), 50),
    ],
)
def test_the_json_is_what_fastapi_wrote_from_the_model(
    start: datetime, group_by: tuple[Dimension, ...], count: int
) -> None:
    """Moments (`Z`, another offset, microseconds), nulls, shares, escaped keys."""
    report = _report(start, group_by, count)
    model = ComplianceReportOut.model_validate(as_dict(report))  # as FastAPI validated it
    assert ComplianceReportOut.json_of(report) == model.model_dump_json(by_alias=True).encode()


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10**6)))
def test_a_duration_is_its_exact_seconds(duration: timedelta) -> None:
    """Days and microseconds too, the float nearest the exact quotient."""
    found = seconds(duration)
    assert isinstance(found, float)
    assert found == duration / timedelta(seconds=1)
