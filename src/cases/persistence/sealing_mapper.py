"""The mapper that seals an event's or a snapshot's personal fields (ADR 0044).

It relies only on eventsourcing's public `Mapper.to_stored_event(domain_event)`
reading the event's class and ``vars(domain_event)``: it hands on a copy of the
event whose personal fields are `Sealed`, encoded while `sealing_for` names the
record's subject (so value objects inside seal theirs too). Reading back needs
nothing here: the transcoder opens sealed texts, or gives the placeholder.
"""

from __future__ import annotations

import sys
from typing import Any
from uuid import UUID

from eventsourcing.domain import CanSnapshotAggregate
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import resolve_topic

from cases.domain.erasure import SubjectKind
from cases.persistence.personal_data import SEARCHABLE, personal_fields, subject_kind
from cases.persistence.sealing import Sealer, sealing_for


def _aggregate_of(event_cls: type[Any]) -> type[Any] | None:
    """The aggregate class an event class is nested in."""
    module = sys.modules.get(event_cls.__module__)
    outer = getattr(module, event_cls.__qualname__.split(".")[0], None)
    return outer if isinstance(outer, type) else None


class SealingMapper(Mapper[UUID]):
    """Maps events as the library does, sealing personal fields under their subject."""

    def __init__(self, transcoder: Transcoder, sealer: Sealer) -> None:
        super().__init__(transcoder)
        self.sealer = sealer
        self._kinds: dict[type[Any] | None, SubjectKind | None] = {}
        self._personal: dict[type[Any], frozenset[str]] = {}

    def _kind(self, aggregate_cls: type[Any] | None) -> SubjectKind | None:
        try:
            return self._kinds[aggregate_cls]
        except KeyError:
            kind = None if aggregate_cls is None else subject_kind(aggregate_cls)
            self._kinds[aggregate_cls] = kind
            return kind

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        event_cls = type(domain_event)
        snapshot = issubclass(event_cls, CanSnapshotAggregate)
        owner = resolve_topic(domain_event.topic) if snapshot else _aggregate_of(event_cls)
        kind = self._kind(owner)
        if kind is None:
            return super().to_stored_event(domain_event)
        state = dict(vars(domain_event))
        with sealing_for(domain_event.originator_id, kind):
            # Value objects inside seal their personal fields as they are walked.
            if snapshot:
                state["state"] = self._sealed(owner, state["state"])  # type: ignore[arg-type]
            else:
                state = self._sealed(event_cls, state)
            sealed_event = object.__new__(event_cls)
            object.__setattr__(sealed_event, "__dict__", state)
            stored = super().to_stored_event(sealed_event)
        if not snapshot:
            self._index(domain_event, kind)
        return stored

    def _index(self, event: Any, kind: SubjectKind) -> None:
        """Let the subject be found by the values its event names (ADR 0044)."""
        for cls in type(event).__mro__:
            paths = SEARCHABLE.get(cls)
            if paths is not None:
                break
        else:
            return
        keys = self.sealer.keys
        if keys.for_writing(event.originator_id, kind) is None:
            return  # erased meanwhile: nothing to find it by
        for field, path in paths.items():
            value: Any = event
            for name in path:
                value = getattr(value, name)
            if value is not None:
                keys.index(event.originator_id, field, value)

    def _sealed(self, cls: type[Any], fields: dict[str, Any]) -> dict[str, Any]:
        personal = self._personal.get(cls)
        if personal is None:
            personal = self._personal[cls] = personal_fields(cls)
        seal = self.sealer.seal
        return {name: seal(v) if name in personal else v for name, v in fields.items()}
