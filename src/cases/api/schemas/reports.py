"""Shapes of the compliance report (`GET /reports/compliance`), as
`cases.reports.compliance_export.as_dict` builds it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from cases.api.schemas.common import AwareDatetime
from cases.reports.compliance_export import as_dict
from cases.reports.compliance_report import ComplianceReport

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day_or_moment(value: object) -> object:
    """A day (`YYYY-MM-DD`, its midnight in UTC) or a moment with a UTC offset."""
    if isinstance(value, str) and _DAY.fullmatch(value):
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
    return value


PeriodBound = Annotated[
    AwareDatetime, BeforeValidator(_day_or_moment, json_schema_input_type=date | datetime)
]


class DurationsOut(BaseModel):
    """Business durations (seconds): how many, median and 90th percentile (nearest
    rank: the k-th smallest, k = ceil(p * count)); null when none counted."""

    count: int
    median_seconds: float | None
    p90_seconds: float | None


class ClockOut(DurationsOut):
    """A clock's times at its first fulfilment, and how many of the clocks judged
    against a target (fulfilled with one, or breached and not yet fulfilled) kept it."""

    judged: int
    within_target: int
    share_within_target: float | None


class BreachesOut(BaseModel):
    """Breaches recorded by `as_of` and not withdrawn by then, by clock."""

    total: int
    first_response: int
    next_update: int
    resolution: int
    vendor: int


class EscalationsOut(BaseModel):
    count: int = Field(description="Escalations recorded by `as_of`.")
    escalated_cases: int
    rate: float | None = Field(description="Escalated cases / cases of the group.")
    time_to_escalate: DurationsOut = Field(description="Business time from receipt.")
    vendor: ClockOut = Field(description="The vendor's clock: escalated to handed back.")


class GroupOut(BaseModel):
    group: dict[str, str] = Field(
        description="The group's value of each `group_by` dimension (empty: all cases)."
    )
    cases: int = Field(description="Cases received in the period and recorded by `as_of`.")
    first_response: ClockOut
    resolution: ClockOut = Field(description="Received to first resolved.")
    next_update: ClockOut = Field(description="Time between updates to the customer.")
    breaches: BreachesOut
    escalations: EscalationsOut
    resolved: int
    reopened: int
    reopen_rate: float | None = Field(description="Reopened cases / resolved cases.")


def _clock_example(count: int, median: float, p90: float, judged: int, within: int) -> Any:
    return {
        "count": count,
        "median_seconds": median,
        "p90_seconds": p90,
        "judged": judged,
        "within_target": within,
        "share_within_target": within / judged,
    }


EXAMPLE: dict[str, Any] = {
    "from": "2026-03-01T00:00:00Z",
    "to": "2026-04-01T00:00:00Z",
    "as_of": "2026-05-01T00:00:00Z",
    "group_by": ["severity"],
    "groups": [
        {
            "group": {"severity": "critical"},
            "cases": 40,
            "first_response": _clock_example(40, 1500.0, 3300.0, 40, 37),
            "resolution": _clock_example(38, 14400.0, 27000.0, 39, 34),
            "next_update": _clock_example(95, 3600.0, 6900.0, 97, 90),
            "breaches": {
                "total": 13,
                "first_response": 3,
                "next_update": 5,
                "resolution": 5,
                "vendor": 0,
            },
            "escalations": {
                "count": 9,
                "escalated_cases": 8,
                "rate": 0.2,
                "time_to_escalate": {
                    "count": 9,
                    "median_seconds": 5400.0,
                    "p90_seconds": 12600.0,
                },
                "vendor": _clock_example(8, 43200.0, 90000.0, 8, 7),
            },
            "resolved": 38,
            "reopened": 2,
            "reopen_rate": 2 / 38,
        }
    ],
}


class ComplianceReportOut(BaseModel):
    """How service levels were kept for the cases received in [from, to), counting
    only what was recorded by `as_of`: asked again later, it gives the same figures."""

    model_config = ConfigDict(populate_by_name=True, json_schema_extra={"example": EXAMPLE})

    start: datetime = Field(alias="from")
    to: datetime
    as_of: datetime
    group_by: list[str]
    groups: list[GroupOut]

    @classmethod
    def json_of(cls, report: ComplianceReport) -> bytes:
        """The JSON FastAPI makes of this model validated from `as_dict(report)`,
        byte for byte, without validating the groups twice: `as_dict` builds each
        in `GroupOut`'s shape, so only the moments (written as pydantic writes
        them) go through this model, and orjson writes the rest. Validating 60 000
        groups took 3.1-3.5 s of CPU (ADR 81)."""
        found = as_dict(report)
        head = cls.model_validate({**found, "groups": []}).model_dump(mode="json", by_alias=True)
        return orjson.dumps({**head, "groups": found["groups"]})
