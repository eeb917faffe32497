"""An aggregate's full history, and its state at any version or moment.

"As of a moment" means as *recorded* by then: the state an observer of the
system saw at that moment. Each event also carries when it *occurred*.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar
from uuid import UUID

from cases.application.command_runner import CommandRunner
from cases.domain.audited import AuditedAggregate
from cases.domain.errors import NotFoundError
from cases.domain.text import aware
from cases.history.entries import HistoryEntry, history_entry

A = TypeVar("A", bound=AuditedAggregate)


def check_version(version: int, latest: int) -> None:
    """Refuse a version the aggregate has not reached (it has 1 to `latest`)."""
    if not 1 <= version <= latest:
        raise NotFoundError(f"version {version} does not exist: versions run from 1 to {latest}")


class AuditTrail:
    """Reads histories from the event log; records nothing."""

    def __init__(self, runner: CommandRunner) -> None:
        self.runner = runner

    def history(self, kind: type[A], aggregate_id: UUID) -> list[HistoryEntry]:
        """Every event of the aggregate, in order, with its metadata."""
        self.runner.load(kind, aggregate_id)  # refuse ids of other kinds
        return [history_entry(e) for e in self._events(aggregate_id)]

    def state(
        self,
        kind: type[A],
        aggregate_id: UUID,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> A:
        """The aggregate now, at `version`, or as recorded at `as_of`."""
        if version is not None:
            return self.at_version(kind, aggregate_id, version)
        if as_of is not None:
            return self.as_of(kind, aggregate_id, as_of)
        return self.runner.load(kind, aggregate_id)

    def at_version(self, kind: type[A], aggregate_id: UUID, version: int) -> A:
        check_version(version, self.runner.load(kind, aggregate_id).version)
        return self.runner.load(kind, aggregate_id, version=version)

    def as_of(self, kind: type[A], aggregate_id: UUID, moment: datetime) -> A:
        """The state as recorded at `moment`."""
        aware("moment", moment)
        self.runner.load(kind, aggregate_id)
        recorded = recorded_by(kind, aggregate_id, self._events(aggregate_id), moment)
        return self.runner.load(kind, aggregate_id, version=recorded[-1].originator_version)

    def _events(self, aggregate_id: UUID) -> list[AuditedAggregate.Event]:
        return audited_events(self.runner, aggregate_id)


def audited_events(runner: CommandRunner, aggregate_id: UUID) -> list[AuditedAggregate.Event]:
    """The aggregate's recorded events, in order (the library's own left out)."""
    events = runner.log.events.get(aggregate_id)
    return [e for e in events if isinstance(e, AuditedAggregate.Event)]


def recorded_by(
    kind: type[object], aggregate_id: UUID, events: list[AuditedAggregate.Event], moment: datetime
) -> list[AuditedAggregate.Event]:
    """The first of `events` up to the last recorded at or before `moment`; a
    NotFoundError when none was."""
    recorded: list[AuditedAggregate.Event] = []
    for event in events:
        if event.timestamp > moment:
            break
        recorded.append(event)
    if not recorded:
        raise NotFoundError(
            f"the {kind.__name__} {aggregate_id} was not yet recorded at "
            f"{moment.isoformat()}: {first_recorded(events)}"
        )
    return recorded


def first_recorded(events: list[AuditedAggregate.Event]) -> str:
    """When the first of `events` was recorded, as a refusal of an earlier moment says."""
    if not events:
        return "it has no recorded history"
    return f"it was first recorded at {events[0].timestamp.isoformat()}"
