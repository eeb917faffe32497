"""Optional OpenTelemetry traces (ADR 46): off unless `CASES_OTEL_ENABLED=true`.

When on, the API's requests (FastAPI) and its PostgreSQL statements (psycopg) are
traced and the spans exported over OTLP/HTTP, configured by the standard `OTEL_*`
variables (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME`, ...;
`OTEL_SDK_DISABLED=true` turns it off again). Every JSON log line written inside a
span carries its `trace_id` and `span_id`. The libraries are the `otel` extra:
nothing of them is imported while tracing is off.
"""

from __future__ import annotations

import os
from collections.abc import Callable, MutableMapping
from typing import Any

from cases import __version__

SERVICE = "cases"
_active = False  # set while this process traces: the log processor looks here first


class TracingUnavailableError(Exception):
    """Raised when tracing is asked for but OpenTelemetry is not installed."""


def tracing_wanted(enabled: bool) -> bool:
    """The setting, unless the standard switch turns the SDK off."""
    return enabled and os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() != "true"


def start_tracing(app: Any, processor: Any = None) -> Callable[[], None]:
    """Trace the FastAPI `app` and every psycopg connection of this process, spans
    going to `processor` (default: batched to the OTLP/HTTP exporter). Returns
    what undoes it (the process's provider flushed and shut down)."""
    global _active  # noqa: PLW0603 - one switch per process, read by every log line
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor  # noqa: PLC0415
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor  # noqa: PLC0415
        from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
        from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415
    except ImportError as e:
        raise TracingUnavailableError(
            "CASES_OTEL_ENABLED: OpenTelemetry is not installed; install cases[otel]"
        ) from e
    name = os.environ.get("OTEL_SERVICE_NAME", SERVICE)
    resource = Resource.create({"service.name": name, "service.version": __version__})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(processor or BatchSpanProcessor(OTLPSpanExporter()))
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
    psycopg = PsycopgInstrumentor()
    if not psycopg.is_instrumented_by_opentelemetry:
        psycopg.instrument(tracer_provider=provider)
    _active = True

    def stop() -> None:
        global _active  # noqa: PLW0603
        _active = False
        FastAPIInstrumentor.uninstrument_app(app)
        if psycopg.is_instrumented_by_opentelemetry:
            psycopg.uninstrument()
        provider.shutdown()

    return stop


def annotate_span(**attributes: str) -> None:
    """Set `cases.<name>` attributes on the current span, if this process traces."""
    if not _active:
        return
    from opentelemetry import trace  # noqa: PLC0415 - only while tracing

    span = trace.get_current_span()
    for name, value in attributes.items():
        span.set_attribute(f"cases.{name}", value)


def add_trace_ids(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the current span's trace and span ids on the line."""
    if not _active:
        return event
    from opentelemetry import trace  # noqa: PLC0415 - only while tracing

    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event
