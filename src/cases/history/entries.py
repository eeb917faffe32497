"""A recorded event as an auditor reads it: its type, moments, metadata and own fields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cases.domain.audited import AuditedAggregate
from cases.domain.metadata import EventMetadata

_ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "meta"})


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One recorded event, as an auditor reads it."""

    version: int
    event_type: str
    recorded_at: datetime
    meta: EventMetadata
    details: dict[str, Any]


def history_entry(event: AuditedAggregate.Event) -> HistoryEntry:
    """An event as an auditor reads it: type, moments, metadata, its own fields."""
    return HistoryEntry(
        version=event.originator_version,
        event_type=type(event).__qualname__,
        recorded_at=event.timestamp,
        meta=event.meta,
        details=event_details(event),
    )


def event_details(event: object) -> dict[str, Any]:
    """An event's own fields (not its envelope), by name."""
    details = {k: v for k, v in vars(event).items() if k not in _ENVELOPE}
    details.pop("originator_topic", None)
    return details
