"""Liveness and readiness, for load balancers and orchestrators (no token needed)."""

from __future__ import annotations

from pydantic import BaseModel

from cases.api.deps import ApiStateDep, ServicesDep
from cases.api.errors import ApiProblem
from cases.api.routing import Router
from cases.persistence.database_url import parse_database_url
from cases.projections.schema import pending_migrations
from cases.projections.status import projection_status

router = Router(tags=["health"])

READY_LAG_EVENTS = 10_000


class Alive(BaseModel):
    status: str = "alive"


class ProjectionLag(BaseModel):
    name: str
    position: int
    head: int
    lag_events: int
    lag_seconds: float


class Ready(BaseModel):
    status: str
    projections: list[ProjectionLag]


@router.get("/health", operation_id="health")
async def health() -> Alive:
    """The process is up (it checks nothing else; it answers while the database is
    away, and on the event loop, so busy request threads do not delay it)."""
    return Alive()


@router.get(
    "/ready",
    operation_id="ready",
    responses={503: {"description": "Not ready: database, schema or projections"}},
)
def ready(api: ApiStateDep, services: ServicesDep) -> Ready:
    """The database answers, its schema is current, and the read models keep up
    (503 while the server has not reached its store)."""
    pending = pending_migrations(parse_database_url(api.settings.effective_database_url))
    if pending:
        raise ApiProblem(
            503, "schema-behind", f"{len(pending)} migrations pending: run `cases migrate`"
        )
    with api.reads.connection() as db:
        statuses = projection_status(services.log, db, services.clock)
    lags = [
        ProjectionLag(
            name=st.name,
            position=st.position,
            head=st.head,
            lag_events=st.lag_events,
            lag_seconds=st.lag_seconds,
        )
        for st in statuses
    ]
    behind = [lag.name for lag in lags if lag.lag_events > READY_LAG_EVENTS]
    if behind:
        raise ApiProblem(
            503,
            "projections-behind",
            f"read models more than {READY_LAG_EVENTS} events behind: {', '.join(behind)}",
            {"Retry-After": "5"},
        )
    return Ready(status="ready", projections=lags)
