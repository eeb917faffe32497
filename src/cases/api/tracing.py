"""Traces of the API, when `CASES_OTEL_ENABLED` asks for them (ADR 46): FastAPI and
psycopg instrumented, and each request's span carrying its correlation and request
ids, so a trace is found from a log line or an event's metadata and back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from cases.api.http_middleware import HttpMiddleware
from cases.observability.tracing import annotate_span, start_tracing


class SpanCorrelationMiddleware(HttpMiddleware):
    """Puts the request's correlation and request ids on its span as the answer
    starts: the request-context middleware, inside this one, has settled them by
    then, and the span (which ends with the answer) is still open."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:

        async def send_annotating(message: Message) -> None:
            state: dict[str, Any] = scope.get("state", {})
            if message["type"] == "http.response.start" and "correlation_id" in state:
                annotate_span(
                    correlation_id=state["correlation_id"], request_id=state["request_id"]
                )
            await send(message)

        await self.app(scope, receive, send_annotating)


def instrument(app: FastAPI, processor: Any = None) -> Callable[[], None]:
    """Trace `app` (before it starts); spans to `processor`, by default the OTLP/HTTP
    exporter the `OTEL_*` variables configure. Returns what stops it."""
    app.add_middleware(SpanCorrelationMiddleware)
    return start_tracing(app, processor)
