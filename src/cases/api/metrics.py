"""`GET /metrics` and the middleware that counts and times every request (ADR 46).

A request is labelled by the template of the route that answered it
(`/cases/{case_id}`), never by its path: ids would make the label set unbounded.
A path no route serves is `unmatched`. `/metrics` needs no token, like `/health`:
it holds counts and positions, no personal data; keep it on the internal network.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

from cases.api.http_middleware import AnswerWatch, HttpMiddleware
from cases.api.state import ApiState
from cases.db.database import CONNECTION_ERRORS
from cases.followers.status import projection_readings
from cases.observability import metrics
from cases.observability.exposition import OutboxReading, ProjectionReading, SyncReading, render
from cases.outbox.store import OutboxStore
from cases.persistence.store import StoreUnavailableError
from cases.projections.advisories import VendorSyncs

UNMATCHED = "unmatched"
# A scrape answers without the readings while the store cannot be read.
UNREADABLE: tuple[type[Exception], ...] = (*CONNECTION_ERRORS, StoreUnavailableError)

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics_text(request: Request) -> Response:
    """The Prometheus text format: what every process of this server recorded, and
    each projection's position and lag, the outbox's queue and how each vendor
    sync last went, as the database has them now."""
    api = request.app.state.api
    read = _readings(api)
    if read is None:
        return Response(render(None), media_type=CONTENT_TYPE_LATEST)
    return Response(render(*read), media_type=CONTENT_TYPE_LATEST)


def _readings(
    api: ApiState,
) -> tuple[list[ProjectionReading], OutboxReading, list[SyncReading]] | None:
    services = api.opened
    if services is None:
        return None
    now = services.clock.now()
    try:
        with api.reads.connection() as db:
            projections = projection_readings(services.log, db, services.clock)
            return projections, _outbox(OutboxStore(db), now), _syncs(VendorSyncs(db), now)
    except UNREADABLE:
        return None


def _outbox(store: OutboxStore, now: datetime) -> OutboxReading:
    counts = store.counts()
    oldest = store.oldest_pending_since()
    return OutboxReading(
        by_status={status.value: count for status, count in counts.items()},
        dead_letters=sum(count for status, count in counts.items() if status.is_dead),
        oldest_pending_seconds=0.0 if oldest is None else _age(oldest, now),
    )


def _syncs(syncs: VendorSyncs, now: datetime) -> list[SyncReading]:
    return [
        SyncReading(
            name=row["name"],
            last_success=row["last_error"] is None,
            last_attempt_age_seconds=_age(row["last_attempt_at"], now),
            last_success_age_seconds=(
                None if row["last_success_at"] is None else _age(row["last_success_at"], now)
            ),
            failures=row["failures"],
        )
        for row in syncs.all()
    ]


def _age(moment: datetime, now: datetime) -> float:
    return max((now - moment).total_seconds(), 0.0)


class RequestMetricsMiddleware(HttpMiddleware):
    """Counts each HTTP request by method, route template and status, and times it."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = AnswerWatch()

        async def send_noting_status(message: Message) -> None:
            answer.starts(message)
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            metrics.request_answered(
                scope["method"], _route_of(scope), answer.status, answer.seconds()
            )


def _route_of(scope: Scope) -> str:
    """The template of the route that served the request (set by routing), else of
    the first route whose path matches (an answer given before routing, e.g. a
    replayed idempotent one), else `unmatched`."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    app = scope.get("app")
    for candidate in getattr(getattr(app, "router", None), "routes", ()):
        match, _ = candidate.matches({**scope, "method": scope["method"]})
        if match is not Match.NONE and isinstance(getattr(candidate, "path", None), str):
            found: str = candidate.path
            return found
    return UNMATCHED
