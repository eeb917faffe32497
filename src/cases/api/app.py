"""Build the HTTP API: the app, its routers, middleware and error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio
import structlog
from fastapi import APIRouter, FastAPI
from fastapi_offline import FastAPIOffline

from cases import __version__
from cases.api.authorization_header import OneAuthorizationMiddleware
from cases.api.connection_shares import counting_connections
from cases.api.errors import AnswerUnexpectedErrors, install_error_handlers
from cases.api.flat_routes import include_flat
from cases.api.idempotency import IdempotencyMiddleware, IdempotencyStore
from cases.api.metrics import RequestMetricsMiddleware
from cases.api.metrics import router as metrics_router
from cases.api.operation_roles import document_operations
from cases.api.read_pool import ReadPool
from cases.api.replica import replica_from
from cases.api.request_context import RequestContextMiddleware
from cases.api.routers import (
    access,
    accounts,
    cases,
    customers,
    health,
    principals,
    privacy,
    problems,
    replay,
    terms,
)
from cases.api.routers.audit_log import router as audit_log_router
from cases.api.routers.dashboard import router as dashboard_router
from cases.api.routers.outbox import router as outbox_router
from cases.api.routers.registers import router as registers_router
from cases.api.routers.reports import router as reports_router
from cases.api.state import ApiState
from cases.api.tracing import instrument
from cases.api.worker_cores import pin_this_worker
from cases.bootstrap import Services, services_on
from cases.clock import Clock, SystemClock
from cases.db.database import open_request_db
from cases.db.schema import check_schema_current, migrate
from cases.followers.in_process import InProcessProjections
from cases.heap import settle_after_start
from cases.log_config import configure_logging
from cases.observability import metrics
from cases.observability.tracing import tracing_wanted
from cases.persistence.database_url import DatabaseUrl, StoreKind, parse_database_url
from cases.persistence.store import StoreOptions, open_event_log
from cases.settings import Settings, get_settings

logger = structlog.get_logger("cases.api")

DESCRIPTION = """
Support cases and billing accounts of a cloud-solution-provider partner, recorded as
audited events. Every error is `application/problem+json`; its `type` names the rule
that was broken (`GET /problems/{rule}` explains it). Commands answer with the log
position they reached: pass it as `min_position` to a query to read your own writes.
Days and moments lie in the years 1900 to 2999 (a moment by its instant in UTC);
others are refused with 422, `/problems/date-out-of-range`.
"""


def create_app(
    settings: Settings | None = None,
    clock: Clock | None = None,
    *,
    run_projections: bool | None = None,
    settle_heap: bool = False,
    pin_worker: bool = False,
) -> FastAPI:
    """The API on the configured store.

    The embedded SQLite store is migrated on start and its projections run in this
    process; PostgreSQL must be migrated first (`cases migrate`) and its projections
    run by `cases projections run`, unless `run_projections` says otherwise. A
    server on PostgreSQL starts even while the database is away, and opens the
    store once it is back (ADR 0019).
    """
    settings = settings or get_settings()
    url = parse_database_url(settings.effective_database_url)
    if url.kind is StoreKind.MEMORY:
        raise ValueError("the API needs a SQLite or PostgreSQL store (CASES_DATABASE_URL)")
    in_process = url.kind is StoreKind.SQLITE if run_projections is None else run_projections
    replica = replica_from(settings, url)
    stop_tracing: list[Callable[[], None]] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level)
        if pin_worker and (core := pin_this_worker()) is not None:
            logger.info("worker_pinned", core=core)
        metrics.set_recording(settings.metrics_enabled)
        runners: list[InProcessProjections] = []
        the_clock = clock or SystemClock()

        def run_projections_on(services: Services) -> None:
            projections = InProcessProjections.from_settings(
                settings, log=services.log, audit_log=True, vendor=True, outbox=True
            )
            projections.start()
            runners.append(projections)

        api = ApiState(
            settings,
            the_clock,
            ReadPool(partial(open_request_db, settings), size=16),
            partial(_open_services, settings, url, the_clock),
            on_open=run_projections_on if in_process else None,
            replica=replica,
        )
        app.state.api = api
        may_wait = url.kind is StoreKind.POSTGRES and not in_process
        await anyio.to_thread.run_sync(partial(api.start, may_wait=may_wait))
        if settle_heap:
            settle_after_start()
        try:
            async with counting_connections():
                yield
        finally:
            for projections in runners:
                projections.stop()
            api.close()
            for stop in stop_tracing:
                stop()

    app = FastAPIOffline(
        title="cases",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.openapi = partial(_documented_openapi, app)  # type: ignore[method-assign]
    install_error_handlers(app)
    for router in api_routers(settings):
        include_flat(app, router)
    app.add_middleware(IdempotencyMiddleware, store=_idempotency_of(app))
    app.add_middleware(AnswerUnexpectedErrors)
    app.add_middleware(OneAuthorizationMiddleware)
    app.add_middleware(RequestContextMiddleware)
    if settings.metrics_enabled:
        app.add_middleware(RequestMetricsMiddleware)
    if tracing_wanted(settings.otel_enabled):
        stop_tracing.append(instrument(app))
    return app


def api_routers(settings: Settings) -> list[APIRouter]:
    """The routers of the API, in the order their routes are matched and documented."""
    modules = (health, cases, customers, principals, problems, accounts, access, terms, replay)
    routers = [module.router for module in (*modules, privacy)]
    routers += [reports_router, audit_log_router, outbox_router, registers_router]
    if settings.metrics_enabled:
        routers.append(metrics_router)
    return [*routers, dashboard_router]


def serve_app() -> FastAPI:
    """The app as `cases serve` runs it in each worker process: configured from the
    environment, its heap settled once started (ADR 0025; an app built in a test
    process leaves that process's collector alone), and kept on a core of its own
    when `cases serve` runs several (ADR 0096)."""
    return create_app(settle_heap=True, pin_worker=True)


def _open_services(settings: Settings, url: DatabaseUrl, clock: Clock) -> Services:
    """The schema checked (or, on SQLite, migrated) and the services on the store,
    with the API's store options (bounded PostgreSQL reads and writes, a cache)."""
    if url.kind is StoreKind.SQLITE:
        migrate(url)
    else:
        check_schema_current(url)
    options = StoreOptions.for_api(settings)
    return services_on(
        open_event_log(settings, options),
        clock,
        options.aggregate_cache,
        settings.backdating_allowance,
    )


def _documented_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with each operation's roles and the Idempotency-Key
    header of every command (`cases.api.operation_roles`)."""
    return document_operations(FastAPI.openapi(app))


def _idempotency_of(app: FastAPI) -> Callable[[], IdempotencyStore]:
    def store() -> IdempotencyStore:
        state: ApiState = app.state.api
        return state.idempotency

    return store
