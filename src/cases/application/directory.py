"""Lists of aggregates of one kind (billing accounts, principals), without a projection.

Creating an aggregate also appends a `Listed` event to one event-sourced log
(eventsourcing's `EventSourcedLog`) in the same `save()`, so the aggregate and
its entry are recorded atomically: there is never an account the collection run
cannot find, nor an entry without its aggregate. The log's versions are
contiguous (the store's unique key refuses a second writer of the same
version), so its last version is also the count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import EventSourcedLog
from eventsourcing.domain import DomainEvent

from cases.application.caller import Caller
from cases.application.command_runner import CommandRunner, Receipt
from cases.domain.audited import AuditedAggregate
from cases.domain.errors import AlreadyExistsError, DomainError
from cases.domain.identity import derived_id
from cases.domain.metadata import CommandContext
from cases.persistence.event_log import EventLog

A = TypeVar("A", bound=AuditedAggregate)


@dataclass(frozen=True)
class Listed(DomainEvent):
    """An aggregate was created; its place in the directory is the event's version."""

    aggregate_id: UUID
    key: str


class Directory:
    """Appends to and pages through the log of one kind of aggregate."""

    def __init__(self, log: EventLog, name: str, page_size: int = 1000) -> None:
        self.id = derived_id(name)
        self._entries = EventSourcedLog(log.events, self.id, Listed)
        self.page_size = page_size

    def listing(self, aggregate_id: UUID, key: str, recorded_at: datetime) -> Listed:
        """The entry to save with the new aggregate: the next version of the log."""
        return Listed(
            originator_id=self.id,
            originator_version=self.count() + 1,
            timestamp=recorded_at,
            aggregate_id=aggregate_id,
            key=key,
        )

    def create_listed(
        self,
        runner: CommandRunner,
        kind: type[A],
        caller: Caller,
        *,
        start: Callable[[CommandContext], A],
        key: Callable[[A], str],
        taken: DomainError,
    ) -> Receipt:
        """Record the aggregate `start` makes and its entry under `key`, in one
        transaction; raise `taken` if its id already is."""
        try:
            return runner.create(
                kind,
                caller,
                start,
                lambda aggregate, ctx: [
                    self.listing(aggregate.id, key(aggregate), ctx.recorded_at)
                ],
            )
        except AlreadyExistsError:
            raise taken from None

    def count(self) -> int:
        last = self._entries.get_last()
        return 0 if last is None else last.originator_version

    def entries(self) -> Iterator[Listed]:
        """Every entry, in the order created, a page at a time."""
        after: int | None = None
        while True:
            page = list(self._entries.get(gt=after, limit=self.page_size))
            yield from page
            if len(page) < self.page_size:
                return
            after = page[-1].originator_version

    def ids(self) -> Iterator[UUID]:
        return (entry.aggregate_id for entry in self.entries())
