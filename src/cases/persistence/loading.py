"""Loading an aggregate in one read: its latest snapshot and the events after it.

The library's repository reads the latest snapshot, then the events after it:
two statements, each through its store's layers (a connection from the pool, a
transaction or cursor, a round trip on PostgreSQL). A recorder here that can
(`select_latest`) answers both at once, optionally up to a version (issue 20,
ADR 0059): on PostgreSQL with the one statement `latest_statement` composes
(the snapshot first, none when there is none, then the events after it in
version order), a round trip fewer; on SQLite, where a statement costs no round
trip and that statement's plan sorts twice, with the two plain statements in one
transaction. The stores' mappers decode them as the library's would; an aggregate
in the memory store, or without snapshots, is loaded as the library loads it.

What it relies on in eventsourcing (9.5), checked by
`tests/unit/persistence/test_loading_contract.py` (ADR 0037): the private
`Repository._reconstruct_aggregate(aggregate_id, version, projector_func)`,
called by `Repository.get` for every load without a cache; the repository's
`event_store` and `snapshot_store` (`EventStore` with `recorder` and `mapper`);
`Application.construct_repository()` and the attributes it reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any, Protocol

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.persistence import StoredEvent

from cases.persistence.statement import NOTHING, Identifier, Sql, sql

SNAPSHOT_PART = 0  # the `part` of the snapshot's row; events are part 1

_LATEST = (
    "WITH latest AS (SELECT originator_version, topic, state FROM {snapshots} "
    "WHERE originator_id = {originator_id}{upto} "
    "ORDER BY originator_version DESC LIMIT 1) "
    "SELECT 0 AS part, originator_version, topic, state FROM latest "
    "UNION ALL "
    "SELECT 1 AS part, originator_version, topic, state FROM {events} "
    "WHERE originator_id = {originator_id} "
    "AND originator_version > COALESCE((SELECT originator_version FROM latest), 0){upto} "
    "ORDER BY part, originator_version"
)


def latest_statement(events: Identifier, snapshots: Identifier, *, upto: bool) -> Sql:
    """The latest snapshot (up to `{lte}` when `upto`) and the events after it (likewise),
    with named parameters `originator_id` and `lte`."""
    bound = sql(" AND originator_version <= {lte}") if upto else NOTHING
    return sql(_LATEST, snapshots=snapshots, events=events, upto=bound)


def latest_snapshot_statement(snapshots: Identifier, *, upto: bool) -> Sql:
    """SQLite's first half: the latest snapshot (up to `{lte}`), version, topic, state."""
    bound = sql(" AND originator_version <= {lte}") if upto else NOTHING
    return sql(
        "SELECT originator_version, topic, state FROM {snapshots} "
        "WHERE originator_id = {originator_id}{upto} ORDER BY originator_version DESC LIMIT 1",
        snapshots=snapshots,
        upto=bound,
    )


def events_after_statement(events: Identifier, *, upto: bool) -> Sql:
    """SQLite's second half: the events after version `{gt}` (up to `{lte}`)."""
    bound = sql(" AND originator_version <= {lte}") if upto else NOTHING
    return sql(
        "SELECT originator_version, topic, state FROM {events} "
        "WHERE originator_id = {originator_id} AND originator_version > {gt}{upto} "
        "ORDER BY originator_version",
        events=events,
        upto=bound,
    )


def split_latest(
    originator_id: Any, rows: Iterable[tuple[int, int, str, bytes]]
) -> tuple[StoredEvent | None, list[StoredEvent]]:
    """The snapshot (if any) and the events of `latest_statement`'s rows
    (part, version, topic, state)."""
    snapshot: StoredEvent | None = None
    events: list[StoredEvent] = []
    for part, version, topic, state in rows:
        stored = StoredEvent(originator_id, version, topic, bytes(state))
        if part == SNAPSHOT_PART:
            snapshot = stored
        else:
            events.append(stored)
    return snapshot, events


class SelectsLatest(Protocol):
    def select_latest(
        self, originator_id: Any, snapshots: Any, lte: int | None = None
    ) -> tuple[StoredEvent | None, Sequence[StoredEvent]]: ...


class OneReadRepository(Repository[Any]):
    """The library's repository, reading a load at once where the recorder can."""

    def _reconstruct_aggregate(
        self, aggregate_id: Any, version: int | None, projector_func: Any
    ) -> Any:
        snapshot_store = self.snapshot_store
        recorder = self.event_store.recorder
        if snapshot_store is None or not hasattr(recorder, "select_latest"):
            return super()._reconstruct_aggregate(aggregate_id, version, projector_func)
        selects: SelectsLatest = recorder
        snapshot, events = selects.select_latest(aggregate_id, snapshot_store.recorder, version)
        stream: Iterable[Any] = map(self.event_store.mapper.to_domain_event, events)
        if snapshot is not None:
            stream = chain((snapshot_store.mapper.to_domain_event(snapshot),), stream)
        aggregate = projector_func(None, stream)
        if aggregate is None:
            msg = f"Aggregate {aggregate_id!r} version {version!r} not found."
            raise AggregateNotFoundError(msg)
        return aggregate
