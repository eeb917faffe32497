"""The base of every aggregate here: events that carry their audit metadata.

eventsourcing's `timestamp` on each event is the moment it was *recorded*; the
moment it *occurred*, the actor, the correlation and causation ids and the
source live in `meta`. Both come from the command's context, never from a
clock read here; a context whose `occurred_at` its actor may not give records
nothing (ADR 32).
"""

from __future__ import annotations

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
