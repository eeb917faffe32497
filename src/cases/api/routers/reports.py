"""Compliance reports: how the partner kept its service levels (ADR 20).

`GET /reports/compliance` answers for the cases received in [from, to), grouped by
any of month, severity, customer, category and escalation vehicle, counting only
what was recorded by `as_of` (default: now), so the same request gives the same
figures later. JSON, or CSV with `Accept: text/csv` or `format=csv`.

A partner report over every customer: for roles that may read reports
(`read_reports`: auditors); customers and other staff roles get 403.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import Depends, Header, Query, Request, Response

from cases.api.deps import (
    MinPositionDep,
    QueryDbDep,
    ServicesDep,
    require,
    state_of,
    wait_for_projections,
)
from cases.api.errors import documented_problems, invalid_request
from cases.api.read_pool import ReadPool
from cases.api.replica import serving_pool
from cases.api.routing import Router
from cases.api.schemas.reports import EXAMPLE, ComplianceReportOut, PeriodBound
from cases.db.database import ProjectionDatabase
from cases.domain.permissions import Permission
from cases.reports.compliance_export import to_csv
from cases.reports.compliance_report import ComplianceReportView, ReportRequest
from cases.reports.compliance_sql import Dimension
from cases.reports.compliance_statements import Helpers

router = Router(prefix="/reports", tags=["reports"])

Reports = Depends(require(Permission.READ_REPORTS))
CSV = "text/csv"
CSV_EXAMPLE = (
    "severity,cases,first_response_count,first_response_median_seconds,...\r\n"
    "critical,40,40,1500.000000,...\r\n"
)
PROBLEMS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report: JSON, or CSV (one line per group) when asked for",
        "content": {
            "application/json": {"example": EXAMPLE},
            CSV: {"schema": {"type": "string"}, "example": CSV_EXAMPLE},
        },
    },
    **documented_problems({403: "The role may not read reports"}),
}


def _lent_by(reads: ReadPool) -> Helpers:
    """Connections of the read pool, for a report's statements to run at once."""

    @contextmanager
    def lend() -> Iterator[ProjectionDatabase]:
        with reads.lent(reads.take() or reads.open_db()) as db:
            yield db

    return lend


def _wants_csv(format_: str | None, accept: str | None) -> bool:
    if format_ is not None:
        return format_ == "csv"
    return accept is not None and CSV in accept and "application/json" not in accept


@router.get(
    "/compliance", response_model=ComplianceReportOut, responses=PROBLEMS, dependencies=[Reports]
)
def get_compliance_report(
    request: Request,
    db: QueryDbDep,
    services: ServicesDep,
    min_position: MinPositionDep,
    start: Annotated[
        PeriodBound,
        Query(
            alias="from",
            description="Cases received from this moment (or day, 00:00 UTC) on.",
            examples=["2026-03-01"],
        ),
    ],
    end: Annotated[
        PeriodBound,
        Query(
            alias="to",
            description="... and before this moment (or day, 00:00 UTC).",
            examples=["2026-04-01"],
        ),
    ],
    group_by: Annotated[
        list[Dimension] | None,
        Query(
            description="Group by these, in this order (repeat the parameter). By "
            "vehicle, a case counts under each vehicle it was escalated through, or "
            "`none`; an escalation to the indirect provider is `indirect_provider`."
        ),
    ] = None,
    as_of: Annotated[
        PeriodBound | None,
        Query(description="Count only what was recorded by this moment; default now."),
    ] = None,
    format_: Annotated[
        Literal["json", "csv"] | None,
        Query(alias="format", description="Overrides the Accept header."),
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Any:
    """Cases received, first-response, resolution and next-update times (median,
    p90, business time) and shares within target, breaches, escalations (count,
    rate, time to escalate, vendor time) and reopen rate, per group."""
    now = services.clock.now()
    moment = as_of or now
    if moment > now:
        raise invalid_request("query.as_of", "a report cannot be as of a moment still to come")
    if end <= start:
        raise invalid_request("query.to", "the period must end after it starts")
    dimensions = tuple(group_by or ())
    if len(set(dimensions)) != len(dimensions):
        raise invalid_request("query.group_by", "group by each dimension at most once")
    wait_for_projections(db, ("service_levels",), min_position)
    api = state_of(request)
    view = ComplianceReportView(db, helpers=_lent_by(serving_pool(api.reads, api.replica, db)))
    report = view.report(ReportRequest(start, end, moment, dimensions))
    if _wants_csv(format_, accept):
        return Response(
            to_csv(report),
            media_type=f"{CSV}; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="compliance-report.csv"'},
        )
    return Response(ComplianceReportOut.json_of(report), media_type="application/json")
