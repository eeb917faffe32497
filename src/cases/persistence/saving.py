"""Saving without the library's runtime Protocol checks: the one module that
overrides eventsourcing's `Application.save` (ADR 0037, ADR 0059 amendment of
2026-12-04).

The library's `save` collects the pending events into a `ProcessingEvent`, whose
`collect_events` asks of every object saved `isinstance(obj, DomainEventProtocol)`
and then `isinstance(obj, CollectEventsProtocol)`: two checks against
runtime-checkable Protocols, which Python 3.11 answers by walking the Protocol's
members on every call. For a command on a working copy they were about 12% of
its instructions (valgrind, docs/performance.md). An aggregate here is always an
`Aggregate`, a plain class whose `isinstance` is one lookup: it is collected as
the library collects it; anything else (a companion event, None) goes through the
library's own `collect_events`.

What it relies on in eventsourcing (9.5), checked by
`tests/unit/persistence/test_saving_contract.py`: `Application.save` being the
sequence below (a fresh `ProcessingEvent`, `collect_events(*objs, **kwargs)`,
`_record`, `_take_snapshots`, `_notify`, the deprecated `notify`), and a
`ProcessingEvent`'s `events`, `aggregates` and `saved_kwargs`.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Recording


class CollectedEvents(ProcessingEvent[Any]):
    """A `ProcessingEvent` that collects an `Aggregate` without Protocol checks."""

    def collect_events(self, *objs: Any, **kwargs: Any) -> None:
        for obj in objs:
            if isinstance(obj, Aggregate):
                self.events.extend(obj.collect_events())
                self.aggregates[obj.id] = obj
            else:
                super().collect_events(obj)
        self.saved_kwargs.update(kwargs)


class SavesCollected(Application[Any]):
    """The library's `save`, collecting into `CollectedEvents`."""

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[Any]]:
        processing_event = CollectedEvents()
        processing_event.collect_events(*objs, **kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # deprecated, but the library calls it
        return recordings
