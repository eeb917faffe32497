"""Liveness and readiness, for load balancers and orchestrators (no token needed).

Ready means the read models answer truthfully: every projection has a runner (one
holds its leadership) and lags the log by at most `CASES_READY_MAX_LAG_EVENTS`
positions and `CASES_READY_MAX_LAG_SECONDS` (ADR 0034). How each vendor sync last
went is shown too, and never makes the service unready: a vendor that is down
delays only its sync (ADR 0052). So is the read replica's state: while it is away,
queries read the primary (ADR 0064).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from pydantic import BaseModel

from cases.api.deps import ApiStateDep, ServicesDep
from cases.api.errors import ApiProblem
from cases.api.routing import Router
from cases.db.schema import pending_migrations
from cases.followers.status import projection_readings
from cases.persistence.database_url import parse_database_url
from cases.projections.advisories import VendorSyncs
from cases.settings import Settings

router = Router(tags=["health"])


class Alive(BaseModel):
    status: str = "alive"


class ProjectionLag(BaseModel):
    name: str
    position: int
    head: int
    lag_events: int
    lag_seconds: float
    running: bool


class VendorSync(BaseModel):
    """How a sync from the vendor last went; a failing vendor delays only it."""

    name: str
    last_attempt_at: datetime
    last_success_at: datetime | None
    last_error: str | None
    failures: int
    recorded: int


class ReplicaState(BaseModel):
    """The read replica (CASES_READ_DATABASE_URL), shown and never making the
    service unready: while it is away queries read the primary, and so does a
    query whose min_position it has not replayed in time (ADR 0064)."""

    reachable: bool
    replaying: bool
    lag_bytes: int | None
    lag_positions: int | None
    error: str | None


class Ready(BaseModel):
    status: str
    projections: list[ProjectionLag]
    vendor_syncs: list[VendorSync] = []
    replica: ReplicaState | None = None


@router.get("/health")
async def health() -> Alive:
    """The process is up (it checks nothing else; it answers while the database is
    away, and on the event loop, so busy request threads do not delay it)."""
    return Alive()


@router.get(
    "/ready",
    responses={
        503: {"description": "Not ready: database, schema, or a projection stopped or behind"}
    },
)
def ready(api: ApiStateDep, services: ServicesDep) -> Ready:
    """The database answers, its schema is current, and every read model has a
    running runner and keeps up with the log (503 naming the projections that do
    not, or while the server has not reached its store)."""
    pending = pending_migrations(parse_database_url(api.settings.effective_database_url))
    if pending:
        raise ApiProblem(
            503, "schema-behind", f"{len(pending)} migrations pending: run `cases migrate`"
        )
    with api.reads.connection() as db:
        readings = projection_readings(services.log, db, services.clock)
        syncs = [VendorSync(**row) for row in VendorSyncs(db).all()]
        replica = None if api.replica is None else api.replica.status(db)
    lags = [ProjectionLag(**asdict(reading)) for reading in readings]
    stopped = [lag for lag in lags if not lag.running]
    behind = [lag for lag in lags if lag.running and _too_far_behind(lag, api.settings)]
    if stopped or behind:
        reasons = [f"{lag.name}: no runner is running" for lag in stopped] + [
            f"{lag.name}: {lag.lag_events} events and {lag.lag_seconds:.0f} s behind "
            f"(ready within {api.settings.ready_max_lag_events} events and "
            f"{api.settings.ready_max_lag_seconds:g} s)"
            for lag in behind
        ]
        raise ApiProblem(
            503,
            "projections-stopped" if stopped else "projections-behind",
            "read models not ready: " + "; ".join(reasons),
            {"Retry-After": "5"},
            projections=[lag.model_dump() for lag in [*stopped, *behind]],
            vendor_syncs=[sync.model_dump(mode="json") for sync in syncs],
        )
    shown = None if replica is None else ReplicaState(**asdict(replica))
    return Ready(status="ready", projections=lags, vendor_syncs=syncs, replica=shown)


def _too_far_behind(lag: ProjectionLag, settings: Settings) -> bool:
    return (
        lag.lag_events > settings.ready_max_lag_events
        or lag.lag_seconds > settings.ready_max_lag_seconds
    )
