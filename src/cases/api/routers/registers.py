"""The registers staff and auditors read (issue 18, part 5): the case timeline by
case, actor, period or correlation id, and the escalation register with its
counts by vehicle and category.

Both are read models (`case_timeline`, `escalation_register`), for the roles that
may read case histories (`read_history`); customers and the other roles get 403.
Periods are half-open, [from, to), each bound a day (its 00:00 UTC) or a moment.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, Query
from pydantic import BaseModel

from cases.api.deps import MinPositionDep, QueryDbDep, require, wait_for_projections
from cases.api.errors import documented_problems, invalid_request
from cases.api.routing import Router
from cases.api.schemas.registers import (
    EscalationCountOut,
    EscalationCountsOut,
    EscalationOut,
    EscalationsOut,
    TimelineEntryOut,
    TimelineOut,
)
from cases.api.schemas.reports import PeriodBound
from cases.domain.permissions import Permission
from cases.projections.case_timeline import CaseTimelineView
from cases.projections.escalation_register import EscalationRegisterView, Row

router = Router(tags=["registers"])

Audits = Depends(require(Permission.READ_HISTORY))
RouteFunction = TypeVar("RouteFunction", bound=Callable[..., Any])
MAX_ENTRIES = 1000
PROBLEMS = documented_problems(
    {403: "The role may not read case histories"},
    invalid="Invalid request; the problem names the field",
)


def _period_bound(alias: str, description: str, example: str) -> Any:
    """A query parameter bounding a register's period: a moment, or a day at 00:00 UTC."""
    return Query(alias=alias, description=description, examples=[example])


From = Annotated[
    PeriodBound | None,
    _period_bound("from", "From this moment (or day, 00:00 UTC) on.", "2026-03-01"),
]
To = Annotated[
    PeriodBound | None,
    _period_bound("to", "... and before this moment (or day, 00:00 UTC).", "2026-04-01"),
]


def _register_read(
    path: str, operation_id: str, answer: type[BaseModel]
) -> Callable[[RouteFunction], RouteFunction]:
    """A GET route of the registers: for roles that may read history, answering `answer`."""
    return router.get(
        path,
        operation_id=operation_id,
        response_model=answer,
        responses=PROBLEMS,
        dependencies=[Audits],
    )


def _period(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime] | None:
    """Both bounds, neither, or a 422 naming the one missing or the wrong order."""
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise invalid_request(
            "query.from" if start is None else "query.to", "give both from and to"
        )
    if end <= start:
        raise invalid_request("query.to", "the period must end after it starts")
    return start, end


@_register_read("/timeline", "get_case_timeline", TimelineOut)
def get_case_timeline(
    db: QueryDbDep,
    min_position: MinPositionDep,
    case_id: Annotated[UUID | None, Query(description="One case's events, oldest first.")] = None,
    principal_id: Annotated[
        str | None,
        Query(max_length=200, description="What one principal did in the period (from, to)."),
    ] = None,
    correlation_id: Annotated[
        str | None,
        Query(max_length=200, description="Everything one request or scheduled run recorded."),
    ] = None,
    start: From = None,
    end: To = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ENTRIES)] = MAX_ENTRIES,
) -> TimelineOut:
    """Support-case events as an auditor reads them: give one of `case_id`,
    `correlation_id`, `principal_id` (with a period), or only a period (from, to)."""
    period = _period(start, end)
    chosen = [n for n, v in (("case_id", case_id), ("correlation_id", correlation_id)) if v]
    if len(chosen) > 1 or (chosen and principal_id):
        raise invalid_request("query", "give one of case_id, correlation_id and principal_id")
    wait_for_projections(db, ("case_timeline",), min_position)
    view = CaseTimelineView(db)
    if case_id is not None:
        rows = view.for_case(case_id)
    elif correlation_id is not None:
        rows = view.by_correlation(correlation_id)
    elif period is None:
        raise invalid_request("query", "give case_id, correlation_id, or a period (from and to)")
    elif principal_id is not None:
        rows = view.by_actor(principal_id, *period)
    else:
        rows = view.between(*period, limit=limit + 1)
    return TimelineOut(
        entries=[TimelineEntryOut.of(row) for row in rows[:limit]], truncated=len(rows) > limit
    )


@_register_read("/escalations", "list_escalations", EscalationsOut)
def list_escalations(
    db: QueryDbDep,
    min_position: MinPositionDep,
    customer_id: Annotated[
        str | None, Query(max_length=200, description="One customer's escalations.")
    ] = None,
    start: From = None,
    end: To = None,
) -> EscalationsOut:
    """The escalation register: escalations opened in a period (from, to), or one
    customer's, oldest first, with the vendor's reference, updates and hand-back."""
    period = _period(start, end)
    select = _escalations_of(customer_id, period)
    wait_for_projections(db, ("escalation_register",), min_position)
    rows = select(EscalationRegisterView(db))
    return EscalationsOut(escalations=[EscalationOut.of(row) for row in rows])


def _escalations_of(
    customer_id: str | None, period: tuple[datetime, datetime] | None
) -> Callable[[EscalationRegisterView], list[Row]]:
    """The register's query the request asks for: a customer's, or a period's."""
    if customer_id is not None and period is None:
        return lambda view: view.for_customer(customer_id)
    if period is not None and customer_id is None:
        return lambda view: view.in_period(*period)
    raise invalid_request("query", "give either customer_id or a period (from and to)")


@_register_read("/escalations/counts", "count_escalations", EscalationCountsOut)
def count_escalations(
    db: QueryDbDep, min_position: MinPositionDep, start: From = None, end: To = None
) -> EscalationCountsOut:
    """How many escalations went through each vehicle, per problem category, in
    the period (from, to) or ever."""
    period = _period(start, end)
    wait_for_projections(db, ("escalation_register",), min_position)
    counts = EscalationRegisterView(db).counts_by_vehicle_and_category(*(period or (None, None)))
    ordered = sorted(counts.items(), key=lambda item: (item[0][0] or "", item[0][1]))
    return EscalationCountsOut(
        total=sum(counts.values()),
        counts=[EscalationCountOut(vehicle=v, category=c, count=n) for (v, c), n in ordered],
    )
