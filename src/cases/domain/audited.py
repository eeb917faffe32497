"""The base of every aggregate here: events that carry their audit metadata.

eventsourcing's `timestamp` on each event is the moment it was *recorded*; the
moment it *occurred*, the actor, the correlation and causation ids and the
source live in `meta`. Both come from the command's context, never from a
clock read here; a context whose `occurred_at` its actor may not give records
nothing (ADR 32).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Self
from uuid import UUID

from eventsourcing.domain import Aggregate

from cases.domain.dating import check_dating
from cases.domain.metadata import CommandContext, EventMetadata


class AuditedAggregate(Aggregate):
    """An aggregate whose every event records who, when, why and from where."""

    class Event(Aggregate.Event):
        meta: EventMetadata

    class Created(Event, Aggregate.Created):
        pass

    @classmethod
    def _start(
        cls,
        event_class: type[AuditedAggregate.Created],
        ctx: CommandContext,
        aggregate_id: UUID,
        **attributes: Any,
    ) -> Self:
        check_dating(ctx)
        return cls._create(
            event_class,
            id=aggregate_id,
            timestamp=ctx.recorded_at,
            meta=ctx.metadata,
            **attributes,
        )

    def _record(
        self,
        event_class: type[AuditedAggregate.Event],
        ctx: CommandContext,
        **attributes: Any,
    ) -> None:
        check_dating(ctx)
        self.trigger_event(event_class, timestamp=ctx.recorded_at, meta=ctx.metadata, **attributes)


class Replaces:
    """Mixed into an event whose every field replaces the aggregate's attribute of
    the same name (a customer renamed, an advisory revised): its `apply`, written once.
    List it before the event base it mixes into."""

    def apply(self, aggregate: Any) -> None:
        for name in _replaced(type(self)):
            setattr(aggregate, name, getattr(self, name))


_REPLACED: dict[type, tuple[str, ...]] = {}


def _replaced(event_class: type) -> tuple[str, ...]:
    """The fields `event_class` declares beyond every audited event's own (found once)."""
    names = _REPLACED.get(event_class)
    if names is None:
        common = {f.name for f in dataclasses.fields(AuditedAggregate.Event)}
        fields = dataclasses.fields(event_class)
        names = _REPLACED[event_class] = tuple(f.name for f in fields if f.name not in common)
    return names
