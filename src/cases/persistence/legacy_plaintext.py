"""Find personal data recorded before sealing (ADR 0056).

Events stored before a master key was set hold their personal fields as plain
text; they are read as they are, and, since the stored bytes of an event never
change (the audit log's tree hashes them), they stay so. Throwing a key away
cannot erase them. This scan finds them from the stored rows alone, without
opening anything: for each event of a subject's aggregate (a case, a
principal), every personal field (`personal_data`), top-level or inside a value
object, whose stored value is a text rather than a sealed token. The result is
what `cases privacy legacy` reports, per subject.

Snapshots lie outside the audit log's tree: one holding plain text is found
here too (`plain_snapshots`), so that `cases privacy reseal` can delete it
(ADR 0066); the next snapshot taken is sealed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.utils import resolve_topic

from cases.domain.erasure import SubjectKind
from cases.persistence.event_log import EventLog
from cases.persistence.event_rows import row_batches
from cases.persistence.personal_data import (
    ERASED,
    VALUE_OBJECTS,
    decision,
    subject_kind,
)
from cases.persistence.sealing import SEALED_NAME
from cases.progress import Progress

_SEALED_MARK = orjson.dumps({"_type_": SEALED_NAME})[1:-1]
"""A sealed text's tag as it appears in the stored JSON."""

_NESTED_PERSONAL = frozenset().union(*(d.personal for d in VALUE_OBJECTS.values()))


@dataclass
class LegacySubject:
    """A subject with personal fields stored in plain text: where and which."""

    subject_id: UUID
    kind: SubjectKind
    events: int = 0
    first_position: int = 0
    fields: set[str] = field(default_factory=set)


def _plain(value: Any) -> bool:
    if isinstance(value, str):
        return value not in ("", ERASED)
    if isinstance(value, list):
        return any(_plain(v) for v in value)
    return False


def _nested_plain(value: Any, where: str) -> Iterator[str]:
    """Paths of personal texts inside an encoded value object (or a list of them)."""
    if isinstance(value, list):
        for item in value:
            yield from _nested_plain(item, where)
        return
    if not isinstance(value, dict) or value.get("_type_") == SEALED_NAME:
        return
    data = value.get("_data_", value)
    if not isinstance(data, dict):
        return
    for name, inner in data.items():
        if name in _NESTED_PERSONAL and _plain(inner):
            yield f"{where}.{name}"
        else:
            yield from _nested_plain(inner, f"{where}.{name}")


def plaintext_fields(event_cls: type[Any], state: dict[str, Any]) -> set[str]:
    """The personal fields of one stored event (its decoded JSON) held as text."""
    decided = decision(event_cls)
    if decided is None:
        return set()
    found = {name for name in decided.personal if _plain(state.get(name))}
    for name in decided.within - {"meta"}:
        found.update(_nested_plain(state.get(name), name))
    return found


def legacy_subjects(
    log: EventLog, *, batch: int = 1000, progress: Progress | None = None
) -> list[LegacySubject]:
    """Every subject some of whose events hold personal fields as plain text,
    in the order of their first such event."""
    head = log.head()
    kinds: dict[str, tuple[type[Any], SubjectKind] | None] = {}
    found: dict[UUID, LegacySubject] = {}
    for rows in row_batches(log, batch):
        for position, subject, _, topic, state in rows:
            if topic not in kinds:
                kinds[topic] = _subject_event(topic)
            known = kinds[topic]
            plain = set() if known is None else plaintext_fields(known[0], orjson.loads(state))
            if plain and known is not None:
                entry = found.setdefault(subject, LegacySubject(subject, known[1], 0, position))
                entry.events += 1
                entry.fields |= plain
        if progress is not None:
            progress(rows[-1][0], head)
    return list(found.values())


def _subject_event(topic: str) -> tuple[type[Any], SubjectKind] | None:
    """The event class of `topic` and its subject's kind, if its aggregate has one."""
    event_cls = resolve_topic(topic)
    owner_name, dot, _ = event_cls.__qualname__.partition(".")
    owner = getattr(sys.modules[event_cls.__module__], owner_name, None) if dot else None
    kind = None if owner is None else subject_kind(owner)
    return None if kind is None else (event_cls, kind)


def plain_events_of(log: EventLog, subject: UUID, *, page: int = 100) -> int:
    """How many of one subject's stored events hold personal fields as plain text.

    They are the first ones: from its first sealed text on, every event of the
    subject is sealed (a key, once made, is used for all its later writes), so
    the reading stops there — one page for a subject sealed from the start."""
    count = 0
    kinds: dict[str, tuple[type[Any], SubjectKind] | None] = {}
    after: int | None = None
    while True:
        stored_events = log.recorder.select_events(subject, gt=after, limit=page)
        for stored in stored_events:
            if stored.topic not in kinds:
                kinds[stored.topic] = _subject_event(stored.topic)
            known = kinds[stored.topic]
            if known is not None and plaintext_fields(known[0], orjson.loads(stored.state)):
                count += 1
            elif _SEALED_MARK in stored.state:
                return count
        if len(stored_events) < page:
            return count
        after = stored_events[-1].originator_version


def plain_snapshots(log: EventLog, subject: UUID) -> list[int]:
    """The versions of the subject's snapshots that hold personal fields as text."""
    if log.snapshots is None:
        return []
    versions = []
    for stored in log.snapshots.recorder.select_events(subject):
        snapshot = orjson.loads(stored.state)
        owner = resolve_topic(snapshot["topic"])
        if plaintext_fields(owner, snapshot["state"]):
            versions.append(stored.originator_version)
    return versions
