"""Load an aggregate, run one command on it, save what it decided: atomically.

Every command either records all of its events in one transaction or none:
eventsourcing writes an aggregate's pending events together, and the store's
unique (aggregate, version) key refuses a writer that lost a race. A command
without an expected version is retried on fresh state; one with an expected
version (an HTTP `If-Match`) is refused instead.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import RecordConflictError, Recording

from cases.application.caller import Caller
from cases.application.clock import Clock
from cases.application.working_copies import Slot, WorkingCopies
from cases.domain.audited import AuditedAggregate
from cases.domain.errors import (
    AlreadyExistsError,
    ConcurrentChangeError,
    NotFoundError,
    VersionMismatchError,
)
from cases.domain.metadata import BACKDATING_ALLOWANCE, CommandContext
from cases.persistence.event_log import EventLog, replay

logger = structlog.get_logger("cases.commands")

A = TypeVar("A", bound=AuditedAggregate)
B = TypeVar("B", bound=AuditedAggregate)
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a recorded command reached: the aggregate's version, the log position."""

    aggregate_id: UUID
    version: int
    position: int


class CommandRunner:
    """Runs commands against aggregates in the event log.

    With `copies`, a command works on the process's working copy of its aggregate
    (brought up to date first) instead of loading it from the store each time."""

    def __init__(
        self,
        log: EventLog,
        clock: Clock,
        max_attempts: int = 8,
        copies: WorkingCopies | None = None,
        backdating_allowance: timedelta = BACKDATING_ALLOWANCE,
    ) -> None:
        self.log = log
        self.clock = clock
        self.max_attempts = max_attempts
        self.copies = copies
        self.backdating_allowance = backdating_allowance

    def _context(self, caller: Caller) -> CommandContext:
        """The command's context, recorded now, with the process's allowance."""
        return caller.context(self.clock.now(), self.backdating_allowance)

    def load(self, kind: type[A], aggregate_id: UUID, version: int | None = None) -> A:
        """The aggregate's current state (or at `version`), if it is a `kind`."""
        try:
            aggregate: object = self.log.repository.get(
                aggregate_id, version=version, projector_func=replay
            )
        except AggregateNotFoundError:
            aggregate = None
        if isinstance(aggregate, kind):
            return aggregate
        raise NotFoundError(f"no {_noun(kind)} has the id {aggregate_id}")

    def exists(self, kind: type[A], aggregate_id: UUID) -> bool:
        try:
            self.load(kind, aggregate_id)
        except NotFoundError:
            return False
        return True

    def create(
        self,
        caller: Caller,
        start: Callable[[CommandContext], A],
        companions: Callable[[A, CommandContext], Sequence[DomainEvent]] | None = None,
    ) -> Receipt:
        """Record a new aggregate, with any companion events (e.g. its entry in a
        directory log) in the same transaction; refuse an id already taken.

        A conflict on a companion (another creation took that directory place)
        is retried on fresh state."""
        for attempt in range(self.max_attempts):
            ctx = self._context(caller)
            aggregate = start(ctx)
            extra = companions(aggregate, ctx) if companions else ()
            try:
                (receipt,) = self._save(aggregate, extra=extra)
            except RecordConflictError:
                if self.exists(type(aggregate), aggregate.id) or not extra:
                    raise AlreadyExistsError(
                        f"a {_noun(type(aggregate))} with the id {aggregate.id} already exists"
                    ) from None
                _back_off(attempt)
                continue
            if self.copies is not None:
                with self.copies.hold(aggregate.id) as slot:
                    slot.aggregate = aggregate
            return receipt
        raise ConcurrentChangeError("other records kept being created meanwhile; try again")

    def change(
        self,
        kind: type[A],
        aggregate_id: UUID,
        caller: Caller,
        decide: Callable[[A, CommandContext], R],
        expected_version: int | None = None,
    ) -> tuple[R, Receipt]:
        """Run `decide` on fresh state and record its events."""
        with self._slot(aggregate_id) as slot:
            for attempt in range(self.max_attempts):
                aggregate = self._up_to_date(slot, kind, aggregate_id)
                if expected_version is not None and aggregate.version != expected_version:
                    raise VersionMismatchError(
                        f"the {_noun(kind)} is at version {aggregate.version}, "
                        f"not {expected_version}"
                    )
                try:
                    result = decide(aggregate, self._context(caller))
                except BaseException:
                    if aggregate.pending_events:  # changed, then refused: not a copy to keep
                        slot.aggregate = None
                    raise
                try:
                    (receipt,) = self._save(aggregate)
                except RecordConflictError:
                    slot.aggregate = None
                    if expected_version is not None:
                        raise VersionMismatchError(
                            f"the {_noun(kind)} changed after version {expected_version}"
                        ) from None
                    _back_off(attempt)
                    continue
                except BaseException:
                    slot.aggregate = None  # its events were taken, whether or not recorded
                    raise
                return result, receipt
        raise ConcurrentChangeError(
            f"the {_noun(kind)} kept changing under this command; try again"
        )

    def inspect(self, kind: type[A], aggregate_id: UUID, look: Callable[[A], R]) -> R:
        """`look` at the aggregate's current state, which it must not change (it
        may be the working copy, held for the look's duration)."""
        with self._slot(aggregate_id) as slot:
            return look(self._up_to_date(slot, kind, aggregate_id))

    @contextmanager
    def _slot(self, aggregate_id: UUID) -> Iterator[Slot]:
        if self.copies is None:
            yield Slot()
            return
        with self.copies.hold(aggregate_id) as slot:
            yield slot

    def _up_to_date(self, slot: Slot, kind: type[A], aggregate_id: UUID) -> A:
        """The slot's working copy with the events recorded since (by other
        processes, or by this one outside `change`), or the aggregate loaded."""
        aggregate = slot.aggregate
        slot.aggregate = None
        if isinstance(aggregate, kind):
            newer = list(self.log.events.get(aggregate_id, gt=aggregate.version))
            if newer:
                aggregate = replay(aggregate, newer)
        if not isinstance(aggregate, kind):
            aggregate = self.load(kind, aggregate_id)
        slot.aggregate = aggregate
        return aggregate

    def change_both(
        self,
        first: tuple[type[A], UUID],
        second: tuple[type[B], UUID],
        caller: Caller,
        decide: Callable[[A, B, CommandContext], R],
    ) -> tuple[R, Receipt, Receipt]:
        """Run `decide` on two aggregates and record both sets of events in one
        transaction (e.g. a billing case linked to its account)."""
        for attempt in range(self.max_attempts):
            a = self.load(*first)
            b = self.load(*second)
            result = decide(a, b, self._context(caller))
            try:
                receipt_a, receipt_b = self._save(a, b)
            except RecordConflictError:
                _back_off(attempt)
                continue
            return result, receipt_a, receipt_b
        raise ConcurrentChangeError("the records kept changing under this command; try again")

    def _save(
        self, *aggregates: AuditedAggregate, extra: Sequence[DomainEvent] = ()
    ) -> tuple[Receipt, ...]:
        recordings: list[Recording[UUID]] = self.log.save(*aggregates, *extra)
        if recordings:
            _log_recorded(recordings)
        return tuple(
            Receipt(
                aggregate_id=aggregate.id,
                version=aggregate.version,
                position=max(
                    (
                        r.notification.id
                        for r in recordings
                        if r.domain_event.originator_id == aggregate.id
                    ),
                    default=0,
                ),
            )
            for aggregate in aggregates
        )


def _log_recorded(recordings: Sequence[Recording[UUID]]) -> None:
    """One line per command: what it recorded, where, for whom (no contents)."""
    first = recordings[0].domain_event
    meta = getattr(first, "meta", None)
    logger.info(
        "events_recorded",
        event_types=[type(r.domain_event).__qualname__ for r in recordings],
        aggregate_ids=sorted({str(r.domain_event.originator_id) for r in recordings}),
        versions=[r.domain_event.originator_version for r in recordings],
        positions=[recordings[0].notification.id, recordings[-1].notification.id],
        correlation_id=meta.correlation_id if meta else None,
        principal_id=meta.actor.principal_id if meta else None,
        role=meta.actor.role.value if meta else None,
        source=meta.source.value if meta else None,
    )


def _back_off(attempt: int) -> None:
    """Wait a random while that grows with each lost race, so racers spread out."""
    time.sleep(random.uniform(0, 0.002 * 2**attempt))  # noqa: S311 - jitter, not crypto


def _noun(kind: type[object]) -> str:
    name = kind.__name__
    return "".join(f" {c.lower()}" if c.isupper() else c for c in name).strip()
