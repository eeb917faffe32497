"""The Prometheus metrics every process of `cases` records (ADR 46).

Counters and histograms only: under `cases serve --workers N` each process writes
them to files in `PROMETHEUS_MULTIPROC_DIR` (prometheus-client's multiprocess
mode, chosen when the library is first imported), and `/metrics` sums them over
the processes, the projection runners included when they share the directory.
Values that are read, not counted (projection positions and lag), are gauges made
at scrape time (`exposition.py`). Labels take values from closed sets (routes as
templates, aggregate and event classes, rule slugs, projection names, clock
kinds), never ids.

Each function here is the one line a recording place calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from prometheus_client import Counter, Histogram

M = TypeVar("M", Counter, Histogram)

NAMESPACE = "cases"

HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
    namespace=NAMESPACE,
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method and route template.",
    ["method", "route"],
    namespace=NAMESPACE,
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_CONNECTIONS_SHED = Counter(
    "http_connections_shed",
    "Keep-alive connections a worker closed after a request because it held more than "
    "its share of the server's connections; their clients reconnect (ADR 92).",
    namespace=NAMESPACE,
)
COMMANDS_RECORDED = Counter(
    "commands_recorded",
    "Commands whose events were recorded, by the aggregate class they changed first.",
    ["aggregate"],
    namespace=NAMESPACE,
)
COMMANDS_REFUSED = Counter(
    "commands_refused",
    "Commands refused by a business rule (nothing recorded), by aggregate class and rule.",
    ["aggregate", "rule"],
    namespace=NAMESPACE,
)
EVENTS_RECORDED = Counter(
    "events_recorded",
    "Events recorded, by event class (e.g. SupportCase.Escalated).",
    ["event"],
    namespace=NAMESPACE,
)
BREACHES_RECORDED = Counter(
    "service_level_breaches_recorded",
    "Service-level breaches recorded on cases, by clock kind.",
    ["clock"],
    namespace=NAMESPACE,
)
GROUP_COMMIT_BATCH = Histogram(
    "group_commit_batch_commands",
    "Commands whose events one group-commit transaction wrote (ADR 27).",
    namespace=NAMESPACE,
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
PROJECTION_EVENTS = Counter(
    "projection_events_applied",
    "Events a projection runner of this deployment applied, by projection.",
    ["projection"],
    namespace=NAMESPACE,
)
PROJECTION_BATCHES = Counter(
    "projection_batches",
    "Batches a projection runner committed with its tracking position, by projection.",
    ["projection"],
    namespace=NAMESPACE,
)

BREACH_EVENT = "ServiceClockBreached"
OTHER = "other"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _Switch:
    """Off (`CASES_METRICS_ENABLED=false`): every recording call below returns at once."""

    on = True


_SWITCH = _Switch()


def set_recording(on: bool) -> None:
    """Record (the default) or not, in this whole process (`metrics_enabled`)."""
    _SWITCH.on = on


# The labelled children made so far: `labels()` validates, locks and builds a key
# each time, which costs more than the increment; the label sets are closed.
_children: dict[tuple[int, tuple[str, ...]], Counter | Histogram] = {}


def _child(metric: M, *values: str) -> M:
    key = (id(metric), values)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*values)
    return child  # type: ignore[return-value]


def request_answered(method: str, route: str, status: int, seconds: float) -> None:
    if not _SWITCH.on:
        return
    method = method if method in METHODS else OTHER
    _child(HTTP_REQUESTS, method, route, str(status)).inc()
    _child(HTTP_DURATION, method, route).observe(seconds)


def connection_shed() -> None:
    if _SWITCH.on:
        HTTP_CONNECTIONS_SHED.inc()


def command_recorded(aggregate: str, events: Iterable[tuple[str, str | None]]) -> None:
    """A command recorded `events`: each its class's qualified name and, for a
    service-level clock fact, the clock kind it names."""
    if not _SWITCH.on:
        return
    _child(COMMANDS_RECORDED, aggregate).inc()
    for event, clock in events:
        _child(EVENTS_RECORDED, event).inc()
        if clock is not None and event.rsplit(".", 1)[-1] == BREACH_EVENT:
            _child(BREACHES_RECORDED, clock).inc()


def command_refused(aggregate: str, rule: str) -> None:
    if not _SWITCH.on:
        return
    _child(COMMANDS_REFUSED, aggregate, rule).inc()


def group_commit_batch(commands: int) -> None:
    if not _SWITCH.on:
        return
    GROUP_COMMIT_BATCH.observe(commands)


def projection_batch_applied(projection: str, events: int) -> None:
    if not _SWITCH.on:
        return
    _child(PROJECTION_BATCHES, projection).inc()
    if events:
        _child(PROJECTION_EVENTS, projection).inc(events)
