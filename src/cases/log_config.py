"""Structured JSON logs: one object per line, with request and correlation ids.

Ids are bound with `structlog.contextvars.bind_contextvars(...)` where a
request or command starts, so every line logged under it carries them. Never
log personal data (contacts, descriptions) or secrets: log ids and kinds.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import orjson
import structlog

from cases.observability.tracing import add_trace_ids


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send JSON log lines to `stream` (stderr by default)."""
    logging.basicConfig(level=level, stream=stream or sys.stderr, format="%(message)s")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_trace_ids,  # trace_id and span_id while tracing (ADR 0046)
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def _dumps(obj: object, **_: object) -> str:
    return orjson.dumps(obj, default=str).decode()
