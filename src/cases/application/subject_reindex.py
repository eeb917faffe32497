"""Write the subjects' search digests again, from the events (ADR 0044, ADR 0056).

A subject is found by keyed digests of its e-mail address and name
(`subject_index`), keyed by a key derived from the master key. After a rotation
of the master key those digests no longer match what a search computes, so the
rotation rebuilds them: every event that names a searchable value
(`personal_data.SEARCHABLE`) is read back through the store's mapper (its sealed
fields opened with the subject keys, now wrapped by the new master key) and its
values are indexed under the current master key. Only then are the digests that
are not among the new ones deleted, so a search finds the subject throughout.
Erased subjects have no key, their values read `erased`: nothing is indexed.
Safe to re-run: indexing is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import resolve_topic

from cases.persistence.event_log import EventLog
from cases.persistence.event_rows import row_batches
from cases.persistence.personal_data import ERASED, SEARCHABLE
from cases.progress import Progress


@dataclass(frozen=True, slots=True)
class Reindexed:
    """What a rebuild did: subjects indexed, digests written and stale ones deleted."""

    subjects: int
    digests: int
    stale: int


def reindex_subjects(
    log: EventLog,
    *,
    batch: int = 1000,
    progress: Progress | None = None,
) -> Reindexed:
    """Index every searchable value of every subject with a key under the current
    master key, then delete the other digests (where the keys are kept, ADR 0067)."""
    keys = log.subject_keys
    if keys is None:
        raise ValueError("no master key is set: there is no subject index")
    head = log.head()
    kept: set[tuple[str, str, UUID]] = set()
    subjects: set[UUID] = set()
    searchable_of: dict[str, dict[str, tuple[str, ...]] | None] = {}
    for rows in row_batches(log, batch):
        for _, subject, version, topic, state in rows:
            if topic not in searchable_of:
                searchable_of[topic] = SEARCHABLE.get(resolve_topic(topic))
            searchable = searchable_of[topic]
            if searchable is None or keys.for_reading(subject) is None:
                continue  # nothing to find by; or erased, or recorded before keys
            event = log.mapper.to_domain_event(StoredEvent(subject, version, topic, state))
            for field, path in searchable.items():
                value: Any = event
                for name in path:
                    value = getattr(value, name)
                if value is None or value == ERASED:
                    continue
                keys.index(subject, field, value)
                kept.add((field, keys.master.digest(field, value), subject))
                subjects.add(subject)
        if progress is not None:
            progress(rows[-1][0], head)
    stale = sorted(keys.digests() - kept)
    keys.drop_digests(stale)
    return Reindexed(len(subjects), len(kept), len(stale))
