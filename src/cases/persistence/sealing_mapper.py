"""The mapper that seals an event's or a snapshot's personal fields (ADR 0044).

It relies only on eventsourcing's public `Mapper.to_stored_event(domain_event)`
reading the event's class and ``vars(domain_event)``: it hands on a copy of the
event whose personal fields are `Sealed`, encoded while `sealing_for` names the
record's subject (so value objects inside seal theirs too). Reading back needs
nothing here: the transcoder opens sealed texts, or gives the placeholder.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class _Plan:
    """What sealing an event class takes, worked out once per class."""

    snapshot: bool
    kind: SubjectKind | None  # of an event's aggregate (a snapshot's is per topic)
    personal: frozenset[str]
    searchable: dict[str, tuple[str, ...]]


def _plan(event_cls: type[Any]) -> _Plan:
    # `CanSnapshotAggregate` is a runtime Protocol: checking it costs tens of
    # microseconds, so once per class.
    if issubclass(event_cls, CanSnapshotAggregate):
        return _Plan(True, None, frozenset(), {})
    aggregate = _aggregate_of(event_cls)
    kind = None if aggregate is None else subject_kind(aggregate)
    searchable = next((SEARCHABLE[c] for c in event_cls.__mro__ if c in SEARCHABLE), {})
    return _Plan(False, kind, personal_fields(event_cls), searchable)


class SealingMapper(Mapper[UUID]):
    """Maps events as the library does, sealing personal fields under their subject."""

    def __init__(self, transcoder: Transcoder, sealer: Sealer) -> None:
        super().__init__(transcoder)
        self.sealer = sealer
        self._plans: dict[type[Any], _Plan] = {}
        self._snapshot_kinds: dict[str, tuple[type[Any], SubjectKind | None]] = {}

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        event_cls = type(domain_event)
        plan = self._plans.get(event_cls)
        if plan is None:
            plan = self._plans[event_cls] = _plan(event_cls)
        if plan.snapshot:
            return self._snapshot_to_stored(domain_event)
        if plan.kind is None:
            return super().to_stored_event(domain_event)
        seal = self.sealer.seal
        personal = plan.personal
        with sealing_for(domain_event.originator_id, plan.kind):
            # Value objects inside seal their personal fields as they are walked.
            state = {k: seal(v) if k in personal else v for k, v in vars(domain_event).items()}
            stored = super().to_stored_event(_with_state(event_cls, state))
        if plan.searchable:
            self._index(domain_event, plan.kind, plan.searchable)
        return stored

    def _snapshot_to_stored(self, snapshot: Any) -> StoredEvent:
        found = self._snapshot_kinds.get(snapshot.topic)
        if found is None:
            owner = resolve_topic(snapshot.topic)
            found = self._snapshot_kinds[snapshot.topic] = (owner, subject_kind(owner))
        owner, kind = found
        if kind is None:
            return super().to_stored_event(snapshot)
        personal = personal_fields(owner)
        seal = self.sealer.seal
        state = dict(vars(snapshot))
        with sealing_for(snapshot.originator_id, kind):
            state["state"] = {k: seal(v) if k in personal else v for k, v in state["state"].items()}
            return super().to_stored_event(_with_state(type(snapshot), state))

    def _index(self, event: Any, kind: SubjectKind, searchable: dict[str, tuple[str, ...]]) -> None:
        """Let the subject be found by the values its event names (ADR 0044)."""
        keys = self.sealer.keys
        if keys.for_writing(event.originator_id, kind) is None:
            return  # erased meanwhile: nothing to find it by
        values = []
        for field, path in searchable.items():
            value: Any = event
            for name in path:
                value = getattr(value, name)
            if value is not None:
                values.append((field, value))
        keys.index_all(event.originator_id, values)  # one write for all of them


def _with_state(event_cls: type[Any], state: dict[str, Any]) -> Any:
    """An event of `event_cls` holding `state`, made as the library reads one back."""
    event = object.__new__(event_cls)
    object.__setattr__(event, "__dict__", state)
    return event
