"""OpenTelemetry traces of the API (ADR 46), caught by the SDK's in-memory exporter:
a span per request carrying its correlation id, PostgreSQL statements as spans of
the same trace, and the trace and span ids on the JSON log lines."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from cases.api.app import create_app
from cases.api.tracing import instrument
from cases.application.caller import Caller
from cases.domain.metadata import Actor, Role, Source
from cases.log_config import configure_logging
from cases.observability.tracing import tracing_wanted
from cases.settings import Settings

SETUP = Actor("tracing-setup", Role.SYSTEM)


@pytest.fixture
def traced(
    database_url: str, tmp_path: Path
) -> Iterator[tuple[TestClient, InMemorySpanExporter, str]]:
    """The app traced into memory, and a helpdesk agent's token."""
    exporter = InMemorySpanExporter()
    app = create_app(Settings(database_url=database_url, data_dir=tmp_path, log_level="INFO"))
    stop = instrument(app, SimpleSpanProcessor(exporter))
    try:
        with TestClient(app) as client:
            services = client.app.state.api.services  # type: ignore[attr-defined]
            token = services.principals.create(
                Caller.new(SETUP, Source.CLI), name="Agent", role=Role.HELPDESK_AGENT
            ).token
            exporter.clear()
            yield client, exporter, token
    finally:
        stop()


def log_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_request_is_a_span_with_its_correlation_id_and_the_log_names_it(
    traced: tuple[TestClient, InMemorySpanExporter, str],
    database_url: str,
) -> None:
    client, exporter, token = traced
    correlation = f"trace-{uuid4().hex[:8]}"
    logged = io.StringIO()
    configure_logging("INFO", stream=logged)
    response = client.get(
        f"/cases/{uuid4()}",
        headers={"Authorization": f"Bearer {token}", "X-Correlation-ID": correlation},
    )
    assert response.status_code == 404
    spans: tuple[ReadableSpan, ...] = exporter.get_finished_spans()
    [server] = [s for s in spans if s.kind is SpanKind.SERVER]
    assert server.attributes is not None
    assert server.attributes["cases.correlation_id"] == correlation
    assert server.attributes["http.route"] == "/cases/{case_id}"
    assert server.context is not None
    trace_id = format(server.context.trace_id, "032x")

    [access] = [r for r in log_lines(logged.getvalue()) if r.get("event") == "request"]
    assert access["correlation_id"] == correlation
    assert access["trace_id"] == trace_id
    assert len(access["span_id"]) == 16

    if database_url.startswith("postgresql"):
        statements = [
            s
            for s in spans
            if s.attributes and s.attributes.get("db.system") == "postgresql" and s.context
        ]
        assert statements, "the request's PostgreSQL statements are spans"
        assert {format(s.context.trace_id, "032x") for s in statements if s.context} == {trace_id}


def test_off_unless_asked_and_the_standard_switch_turns_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert not tracing_wanted(Settings().otel_enabled)
    assert tracing_wanted(True)
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not tracing_wanted(True)
