"""How far behind the event log each projection is, and the audit log's tree
builder (ADR 0043) and the outbox's follower (ADR 50), listed as the followers
`audit_log_tree` and `outbox` beside them, so `cases projections status` shows
their lag and /ready holds them to the same bounds (ADR 0034)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from eventsourcing.domain import CanMutateAggregate

from cases.audit_log.leaves import NO_TIMESTAMP, recorded_micros
from cases.audit_log.tree_store import TreeStore
from cases.clock import Clock
from cases.db.database import ProjectionDatabase
from cases.followers.catalog import PROJECTIONS
from cases.followers.leadership import runner_running
from cases.followers.tracking import Tracking
from cases.observability.exposition import ProjectionReading, ProjectionStatus
from cases.outbox.derivation import OUTBOX, OutboxProjection
from cases.persistence.event_log import EventLog
from cases.persistence.event_rows import select_rows
from cases.projections.layout import by_projection, partition_rows
from cases.projections.projection import Projection

TREE = "audit_log_tree"  # the tree builder's tracking and leadership name
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def projection_status(
    log: EventLog,
    db: ProjectionDatabase,
    clock: Clock,
    projections: Iterable[Projection] | None = None,
) -> list[ProjectionStatus]:
    """The status of `projections` (default: every projection, the tree builder
    and the outbox's follower), by name."""
    chosen = list(projections) if projections is not None else [p() for p in PROJECTIONS.values()]
    rows = [(row.projection, row.position) for row in Tracking(db).all()]
    # A projection kept by partitions is as far as its least partition, and each
    # partition is listed too, under its own leadership's name (ADR 90).
    positions, own = by_projection(rows), dict(rows)
    head = log.head()
    statuses = []
    for projection in sorted(chosen, key=lambda p: p.name):
        for name in [projection.name, *partition_rows(rows, projection.name)]:
            position = positions.get(name, 0) if name == projection.name else own[name]
            statuses.append(
                _status(log, clock, name, position=position, head=head, topics=projection.topics())
            )
    if projections is None:
        statuses.append(tree_status(log, db, clock, head))
        position = positions.get(OUTBOX, 0)
        statuses.append(
            _status(
                log, clock, OUTBOX, position=position, head=head, topics=OutboxProjection.topics()
            )
        )
    return sorted(statuses, key=lambda st: st.name)


def projection_readings(
    log: EventLog, db: ProjectionDatabase, clock: Clock
) -> list[ProjectionReading]:
    """Every follower's status (`projection_status`) and whether a runner, in any
    process, holds its leadership: what `/health/ready` and `/metrics` show."""
    return [
        ProjectionReading(**asdict(st), running=runner_running(db, st.name))
        for st in projection_status(log, db, clock)
    ]


def tree_status(log: EventLog, db: ProjectionDatabase, clock: Clock, head: int) -> ProjectionStatus:
    """The tree builder's position against the head: its lag in positions, and how
    long ago the first event it has yet to append was recorded."""
    position = TreeStore(db).head().position
    lag_seconds = 0.0
    if position < head:
        oldest = select_rows(log, position + 1, 1)
        micros = recorded_micros(oldest[0][4]) if oldest else NO_TIMESTAMP
        if micros != NO_TIMESTAMP:
            recorded = _EPOCH + timedelta(microseconds=micros)
            lag_seconds = max((clock.now() - recorded).total_seconds(), 0.0)
    return ProjectionStatus(TREE, position, head, max(head - position, 0), lag_seconds)


def _status(
    log: EventLog, clock: Clock, name: str, *, position: int, head: int, topics: Sequence[str]
) -> ProjectionStatus:
    """The status of the follower `name` of `topics` at `position`, the log at `head`."""
    return ProjectionStatus(
        name=name,
        position=position,
        head=head,
        lag_events=max(head - position, 0),
        lag_seconds=_lag_seconds(log, topics, position, head, clock),
    )


def _lag_seconds(
    log: EventLog, topics: Sequence[str], position: int, head: int, clock: Clock
) -> float:
    if position >= head:
        return 0.0
    oldest = log.recorder.select_notifications(
        start=position + 1, limit=1, stop=head, topics=topics
    )
    if not oldest:
        return 0.0
    event = log.mapper.to_domain_event(oldest[0])
    if not isinstance(event, CanMutateAggregate):
        return 0.0
    # eventsourcing's event timestamp is the moment the event was recorded.
    return max((clock.now() - event.timestamp).total_seconds(), 0.0)
