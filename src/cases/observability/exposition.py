"""`/metrics` in the Prometheus text format, and the directory its processes share.

One process: the default registry. Several (`cases serve --workers N`, each a
process of its own): every process writes its counters to files in
`PROMETHEUS_MULTIPROC_DIR`, and whichever worker answers a scrape sums them all,
so every scrape sees the whole deployment. `cases serve` makes that directory
when it starts workers and none is given, and removes it when it stops.

Readings made at scrape time (projection positions and lag, the outbox's queue,
how each vendor sync last went, read from the database) are rendered after the
recorded metrics as gauges. Their labels are closed sets: projection names,
message statuses, sync names — never ids.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from cases.observability.metrics import NAMESPACE
from cases.workers_directory import workers_directory

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True, slots=True)
class ProjectionStatus:
    """A projection's position against the head of the log.

    `lag_events` counts log positions not yet passed (events of any kind: an
    upper bound on what the projection still has to apply); `lag_seconds` is
    how long ago the oldest event it has yet to apply was recorded.
    """

    name: str
    position: int
    head: int
    lag_events: int
    lag_seconds: float

    @property
    def caught_up(self) -> bool:
        return self.lag_events == 0


@dataclass(frozen=True, slots=True)
class ProjectionReading(ProjectionStatus):
    """A projection's status and whether a runner, in any process, holds its
    leadership, as a scrape (and `/health/ready`) reads them."""

    running: bool


@dataclass(frozen=True, slots=True)
class OutboxReading:
    """The outbox's queue as read at a scrape: messages by status, and how long
    the oldest one waiting for delivery has waited (0 when none waits)."""

    by_status: Mapping[str, int]
    dead_letters: int
    oldest_pending_seconds: float


@dataclass(frozen=True, slots=True)
class SyncReading:
    """How a vendor sync last went, as read at a scrape (ages in seconds); each
    field but the name is its gauge (`cases_vendor_sync_<field>`)."""

    name: str
    last_success: bool  # whether its last attempt succeeded
    last_attempt_age_seconds: float
    last_success_age_seconds: float | None  # None: never succeeded
    failures: int  # since its last success


class _Readings(Collector):
    def __init__(self, families: Sequence[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def multiprocess() -> bool:
    """Whether this process records into the shared directory (decided by the
    environment it was started with)."""
    return bool(os.environ.get(MULTIPROC_DIR))


def render(
    readings: Sequence[ProjectionReading] | None,
    outbox: OutboxReading | None = None,
    syncs: Sequence[SyncReading] = (),
) -> bytes:
    """The text of a scrape: what every process recorded, then the readings
    (None: the store could not be read, said by `cases_store_up 0`)."""
    recorded = recorded_registry()
    families = _families(readings)
    if readings is not None:
        families += [*_outbox_families(outbox), *_sync_families(syncs)]
    return generate_latest(recorded) + generate_latest(_Readings(families))


def recorded_registry() -> Collector:
    """What this process recorded: its own registry, or every process's files in
    multiprocess mode."""
    if not multiprocess():
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


@contextmanager
def process_metrics_server(host: str, port: int | None) -> Iterator[int | None]:
    """For a follower process (`cases projections run --metrics-port`): its own
    counters (events and batches applied, by projection) on `http://host:port/metrics`,
    for Prometheus to scrape beside the API's `/metrics`. Yields the port bound
    (0 asks for a free one); None and nothing started when no port is given."""
    if port is None:
        yield None
        return
    server, thread = start_http_server(port, addr=host, registry=recorded_registry())
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _outbox_families(outbox: OutboxReading | None) -> list[Metric]:
    if outbox is None:
        return []
    messages = GaugeMetricFamily(
        f"{NAMESPACE}_outbox_messages",
        "Messages the outbox holds, by status (pending, delivered, failed, bounced, erased).",
        labels=["status"],
    )
    for status, count in sorted(outbox.by_status.items()):
        messages.add_metric([status], count)
    dead = GaugeMetricFamily(
        f"{NAMESPACE}_outbox_dead_letters",
        "Messages dead-lettered (failed or bounced) waiting for an operator.",
    )
    dead.add_metric([], outbox.dead_letters)
    oldest = GaugeMetricFamily(
        f"{NAMESPACE}_outbox_oldest_pending_age_seconds",
        "How long the oldest message waiting for delivery has waited (0: none waits).",
    )
    oldest.add_metric([], outbox.oldest_pending_seconds)
    return [messages, dead, oldest]


def _gauges(
    prefix: str,
    label: str,
    texts: dict[str, str],
    readings: Sequence[SyncReading | ProjectionReading],
) -> list[Metric]:
    """A gauge family per key of `texts`, `cases_<prefix>_<key>`, with a sample per
    reading labelled by its name in `label`: the reading's field of the key's name
    (none where that is None)."""
    families: list[Metric] = []
    for key, text in texts.items():
        family = GaugeMetricFamily(f"{NAMESPACE}_{prefix}_{key}", text, labels=[label])
        for reading in readings:
            value = getattr(reading, key)
            if value is not None:
                family.add_metric([reading.name], value)
        families.append(family)
    return families


def _sync_families(syncs: Sequence[SyncReading]) -> list[Metric]:
    if not syncs:
        return []
    texts = {
        "last_success": "Whether the sync's last attempt succeeded (1) or failed (0).",
        "last_attempt_age_seconds": "Seconds since the sync's last attempt.",
        "last_success_age_seconds": "Seconds since the sync last succeeded (absent: never).",
        "failures": "Attempts of the sync that failed since its last success.",
    }
    return _gauges("vendor_sync", "sync", texts, syncs)


def _families(readings: Sequence[ProjectionReading] | None) -> list[Metric]:
    up = GaugeMetricFamily(
        f"{NAMESPACE}_store_up", "Whether this scrape could read the store (1) or not (0)."
    )
    up.add_metric([], 0 if readings is None else 1)
    if readings is None:
        return [up]
    gauges = {
        "position": "The last log position the projection has applied.",
        "lag_events": "Log positions the projection has yet to pass.",
        "lag_seconds": "How long ago the oldest event it has yet to apply was recorded.",
        "running": "Whether a runner, in any process, holds the projection's leadership.",
    }
    head = GaugeMetricFamily(
        f"{NAMESPACE}_event_log_head_position", "The position of the last event recorded."
    )
    if readings:
        head.add_metric([], readings[0].head)
    return [up, head, *_gauges("projection", "projection", gauges, readings)]


@contextmanager
def shared_directory(workers: int) -> Iterator[Path | None]:
    """For `cases serve`: the directory its worker processes record into.

    One worker needs none. A directory given in `PROMETHEUS_MULTIPROC_DIR` is used
    as it is (made if missing; empty it when the deployment starts, and give the
    projection runners the same one to see their counters); otherwise a new one
    is made for this run and removed after it. Set before the workers start, so
    they import prometheus-client in multiprocess mode."""
    given = os.environ.get(MULTIPROC_DIR)
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        yield Path(given)
        return
    if workers <= 1:
        yield None
        return
    with workers_directory(MULTIPROC_DIR, "cases-metrics-") as made:
        yield made
