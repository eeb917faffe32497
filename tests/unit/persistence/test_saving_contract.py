"""What `cases.persistence.saving` relies on in eventsourcing (ADR 0037): the
library's `Application.save` being the sequence it repeats, and a
`ProcessingEvent` collecting what `CollectedEvents` collects."""

from __future__ import annotations

import copy
import inspect
from typing import Any
from uuid import uuid4

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate, DomainEvent, event

from cases.persistence.event_log import EventLog
from cases.persistence.saving import CollectedEvents, SavesCollected
from tests.support.library_contract import broken, relied_on, relied_on_callable

MODULE = "saving"

# The library's `save`, line by line, as `SavesCollected.save` repeats it.
LIBRARY_SAVE = (
    "ProcessingEvent()",
    "processing_event.collect_events(*objs, **kwargs)",
    "recordings = self._record(processing_event)",
    "self._take_snapshots(processing_event)",
    "self._notify(recordings)",
    "self.notify(processing_event.events)",
    "return recordings",
)


class Thing(Aggregate):
    @event("Made")
    def __init__(self, name: str) -> None:
        self.name = name

    @event("Renamed")
    def rename(self, name: str) -> None:
        self.name = name


def test_the_library_saves_in_the_sequence_repeated() -> None:
    relied_on_callable(Application, "save", MODULE, "(self, *args, **kwargs)")
    relied_on_callable(Application, "_record", MODULE, "(self, processing_event)")
    relied_on_callable(Application, "_take_snapshots", MODULE, "(self, processing_event)")
    relied_on_callable(Application, "_notify", MODULE, "(self, recordings)")
    relied_on_callable(Application, "notify", MODULE, "(self, new_events)")
    source = inspect.getsource(Application.save)
    places = [source.find(line) for line in LIBRARY_SAVE]
    assert -1 not in places, broken("Application.save", MODULE, "a step is gone")
    assert places == sorted(places), broken("Application.save", MODULE, "its steps moved")


def _collected(processing: ProcessingEvent[Any], *objs: Any) -> tuple[Any, ...]:
    processing.collect_events(*objs, step="kept")
    events = [(type(e), e.originator_id, e.originator_version) for e in processing.events]
    return events, sorted(map(str, processing.aggregates)), processing.saved_kwargs


def test_collects_what_the_library_collects() -> None:
    relied_on(ProcessingEvent(), "saved_kwargs", MODULE)
    thing = Thing("a")
    thing.rename("b")
    other = Thing("c")
    extra = DomainEvent(
        originator_id=uuid4(), originator_version=1, timestamp=DomainEvent.create_timestamp()
    )
    library = _collected(ProcessingEvent(), copy.deepcopy(thing), None, extra, copy.deepcopy(other))
    ours = _collected(CollectedEvents(), thing, None, extra, other)
    assert ours == library
    assert [v for _, _, v in ours[0]] == [1, 2, 1, 1]
    assert ours[2] == {"step": "kept"}
    assert not thing.pending_events  # taken, as the library takes them


def test_the_event_log_saves_so() -> None:
    assert issubclass(EventLog, SavesCollected)
    assert EventLog.save is SavesCollected.save
