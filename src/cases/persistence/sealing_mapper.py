"""The mapper that seals an event's or a snapshot's personal fields (ADR 0044).

It relies only on eventsourcing's public `Mapper.to_stored_event(domain_event)`
reading the event's class and ``vars(domain_event)``: it hands on a copy of the
event whose personal fields are `Sealed`, encoded while `sealing_for` names the
record's subject (so value objects inside seal theirs too). Reading back needs
nothing here: the transcoder opens sealed texts, or gives the placeholder.

When the keys ride on the records (SQLite, `SubjectKeys.written_with_records`),
a record whose encoding made its subject's key, or that names values its
subject is found by, is handed on as a `StoredWithSubject`: the store's
recorder writes the key and the digests in the record's own transaction.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any
from uuid import UUID

from eventsourcing.domain import CanSnapshotAggregate
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import resolve_topic

from cases.domain.erasure import SubjectKind
from cases.domain.metadata import Actor, EventMetadata
from cases.fault_points import fault_point
from cases.persistence.personal_data import SEARCHABLE, decision, personal_fields, subject_kind
from cases.persistence.sealing import Sealer, sealing_for
from cases.persistence.subject_keys import SubjectRows


@dataclass(frozen=True)
class StoredWithSubject(StoredEvent):
    """A stored record and what it brings to the keys' tables, to be written in
    its transaction (`recorders.py` does, on SQLite)."""

    subject_rows: SubjectRows | None = dataclass_field(default=None, compare=False)


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
    holds_personal: bool  # False: encoded as is, with nothing to seal


def _holds_personal(event_cls: type[Any]) -> bool:
    """Whether an event of the class can hold a personal text: in a field of its own,
    in a value object within, or in its metadata (which today holds none)."""
    decided = decision(event_cls)
    if decided is None or decided.personal or decided.within:
        return True
    return bool(personal_fields(EventMetadata) or personal_fields(Actor))


def _plan(event_cls: type[Any]) -> _Plan:
    # `CanSnapshotAggregate` is a runtime Protocol: checking it costs tens of
    # microseconds, so once per class.
    if issubclass(event_cls, CanSnapshotAggregate):
        return _Plan(True, None, frozenset(), {}, holds_personal=True)
    aggregate = _aggregate_of(event_cls)
    kind = None if aggregate is None else subject_kind(aggregate)
    searchable = next((SEARCHABLE[c] for c in event_cls.__mro__ if c in SEARCHABLE), {})
    return _Plan(False, kind, personal_fields(event_cls), searchable, _holds_personal(event_cls))


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
        keys = self.sealer.keys
        if domain_event.originator_version == 1:
            keys.new_subject(domain_event.originator_id, plan.kind)
        stored = self._sealed(domain_event, plan.kind, plan)
        values = self._searched_by(domain_event, plan.kind, plan.searchable)
        if keys.written_with_records:
            digests = keys.digests_of(values) if values else ()
            return _carrying(stored, keys.rows_for_record(domain_event.originator_id, digests))
        # Its new key and its digests in one write, ahead of the event (whose
        # commit makes them durable); sealed again under a key stored first.
        if not keys.write_ahead(domain_event.originator_id, values):
            stored = self._sealed(domain_event, plan.kind, plan)
        fault_point("sealed-before-write")  # its key and digests stored, it not yet
        return stored

    def _sealed(self, domain_event: Any, kind: SubjectKind, plan: _Plan) -> StoredEvent:
        """The event as stored, its personal fields sealed under its subject."""
        if not plan.holds_personal:
            return super().to_stored_event(domain_event)
        personal = plan.personal
        seal = self.sealer.seal
        with sealing_for(domain_event.originator_id, kind):
            # Value objects inside seal their personal fields as they are walked.
            state = {k: seal(v) if k in personal else v for k, v in vars(domain_event).items()}
            return super().to_stored_event(_with_state(type(domain_event), state))

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
            stored = super().to_stored_event(_with_state(type(snapshot), state))
        keys = self.sealer.keys
        if keys.written_with_records:
            return _carrying(stored, keys.rows_for_record(snapshot.originator_id))
        if not keys.write_ahead(snapshot.originator_id, []):  # a key it made
            return self._snapshot_to_stored(snapshot)
        return stored

    def _searched_by(
        self, event: Any, kind: SubjectKind, searchable: dict[str, tuple[str, ...]]
    ) -> list[tuple[str, str]]:
        """The (field, value) pairs the event's subject is found by (ADR 0044)."""
        if not searchable:
            return []
        if self.sealer.keys.for_writing(event.originator_id, kind) is None:
            return []  # erased meanwhile: nothing to find it by
        values = []
        for field, path in searchable.items():
            value: Any = event
            for name in path:
                value = getattr(value, name)
            if value is not None:
                values.append((field, value))
        return values


def _carrying(stored: StoredEvent, rows: SubjectRows | None) -> StoredEvent:
    """`stored`, carrying `rows` to its transaction if there are any."""
    if rows is None:
        return stored
    return StoredWithSubject(
        stored.originator_id, stored.originator_version, stored.topic, stored.state, rows
    )


def _with_state(event_cls: type[Any], state: dict[str, Any]) -> Any:
    """An event of `event_cls` holding `state`, made as the library reads one back."""
    event = object.__new__(event_cls)
    object.__setattr__(event, "__dict__", state)
    return event
