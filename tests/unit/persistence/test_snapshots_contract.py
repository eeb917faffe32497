"""What `cases.persistence.snapshots` relies on in eventsourcing (ADR 0037): the
private `Application._take_snapshots` hook, `ProcessingEvent`, the snapshotting
attributes it sets on the instance, and `Snapshot.take`."""

from __future__ import annotations

from typing import Any

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import InfrastructureFactory

from cases.persistence.event_log import EventLog
from cases.persistence.recorders import MEMORY_FACTORY_TOPIC
from cases.persistence.snapshots import SNAPSHOTTING_ENABLED_KEY, SnapshotsInHand
from tests.support.library_contract import broken, relied_on, relied_on_callable

MODULE = "snapshots"
MEMORY = {"PERSISTENCE_MODULE": MEMORY_FACTORY_TOPIC}


class Tally(Aggregate):
    def __init__(self) -> None:
        self.count = 0

    @event("Counted")
    def count_one(self) -> None:
        self.count += 1


class _Probe(Application[Any]):
    """Records how `save` calls `_take_snapshots`."""

    seen: list[tuple[list[Any], dict[Any, Any], int | None]]

    def _take_snapshots(self, processing_event: ProcessingEvent[Any]) -> None:
        recorded = self.recorder.max_notification_id()
        self.seen.append(
            (list(processing_event.events), dict(processing_event.aggregates), recorded)
        )


def test_save_calls_take_snapshots_after_recording_with_events_and_aggregates() -> None:
    relied_on_callable(Application, "_take_snapshots", MODULE, "(self, processing_event)")
    assert SnapshotsInHand._take_snapshots is not Application._take_snapshots
    for name in ("events", "aggregates"):
        relied_on(ProcessingEvent(), name, MODULE)
    app = _Probe(MEMORY)
    app.seen = []
    tally = Tally()
    tally.count_one()
    pending = list(tally.pending_events)
    app.save(tally)
    assert len(app.seen) == 1, broken(
        "Application._take_snapshots", MODULE, "save no longer calls it"
    )
    events, aggregates, recorded = app.seen[0]
    assert events == pending, broken("ProcessingEvent.events", MODULE, "not the saved events")
    assert aggregates == {tally.id: tally}, broken(
        "ProcessingEvent.aggregates", MODULE, "not the saved aggregates by id"
    )
    assert recorded == len(pending), broken(
        "Application._take_snapshots", MODULE, "called before the events were recorded"
    )


def test_the_snapshotting_attributes_and_the_snapshot_store_switch() -> None:
    for name in ("snapshotting_intervals", "snapshotting_projectors"):
        assert isinstance(relied_on(Application, name, MODULE), dict)
    assert relied_on(Application, "snapshot_class", MODULE) is None
    key = relied_on(InfrastructureFactory, "IS_SNAPSHOTTING_ENABLED", MODULE)
    assert key == SNAPSHOTTING_ENABLED_KEY
    relied_on_callable(Tally.Snapshot, "take", MODULE, "(aggregate)")
    assert EventLog(MEMORY).snapshots is None
    log = EventLog(MEMORY, snapshot_interval=2, snapshotted=(Tally,))
    assert relied_on(log, "snapshots", MODULE) is not None, broken(
        SNAPSHOTTING_ENABLED_KEY, MODULE, "no longer makes a snapshot store"
    )
    assert log.snapshotting_intervals == {Tally: 2}


def test_a_snapshot_taken_from_the_object_in_hand_loads() -> None:
    log = EventLog(MEMORY, snapshot_interval=2, snapshotted=(Tally,))
    tally = Tally()
    tally.count_one()
    log.save(tally)
    assert log.snapshots is not None
    snapshots = list(log.snapshots.get(tally.id))
    assert [s.originator_version for s in snapshots] == [2]
    loaded: object = log.repository.get(tally.id)
    assert isinstance(loaded, Tally)
    assert loaded.count == 1
