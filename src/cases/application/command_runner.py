"""Load an aggregate, run one command on it, save what it decided: atomically.

Every command either records all of its events in one transaction or none:
eventsourcing writes an aggregate's pending events together, and the store's
unique (aggregate, version) key refuses a writer that lost a race. A command
without an expected version is retried on fresh state; one with an expected
version (an HTTP `If-Match`) is refused instead.

A command of a request sent with an Idempotency-Key runs at most once: its
save records the request's step in the same transaction, and a step found
recorded (before deciding, or after losing a race to it) is answered from the
store: the same receipt, and the same result, decided again on the state the
step started from with the moment it was first decided at (ADR 0031).
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import ParamSpec, TypeVar
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import RecordConflictError, Recording

from cases.application.caller import Caller
from cases.application.idempotent_request import IdempotentRequest
from cases.application.working_copies import Slot, WorkingCopies
from cases.clock import Clock
from cases.domain.audited import AuditedAggregate
from cases.domain.errors import (
    AlreadyExistsError,
    ConcurrentChangeError,
    DomainError,
    NotFoundError,
    VersionMismatchError,
)
from cases.domain.metadata import BACKDATING_ALLOWANCE, CommandContext
from cases.fault_points import fault_point
from cases.observability import metrics
from cases.persistence.event_log import EventLog, replay
from cases.persistence.idempotency_steps import RecordedStep, StepToRecord

logger = structlog.get_logger("cases.commands")

A = TypeVar("A", bound=AuditedAggregate)
B = TypeVar("B", bound=AuditedAggregate)
R = TypeVar("R")
T = TypeVar("T")
P = ParamSpec("P")


def _counts_refusals(command: Callable[P, T]) -> Callable[P, T]:
    """Count the command's refusals by rule (metrics): its first argument after
    the runner names the aggregate kind, or is a (kind, id) pair."""

    @functools.wraps(command)
    def counted(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return command(*args, **kwargs)
        except DomainError as e:
            kind = args[1][0] if isinstance(args[1], tuple) else args[1]
            metrics.command_refused(getattr(kind, "__name__", "unknown"), e.rule)
            raise

    return counted


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a recorded command reached: the aggregate's version, the log position."""

    aggregate_id: UUID
    version: int
    position: int
    # A value the first answer showed that the events do not hold (a new
    # principal's token), kept with an idempotent request's step to show again.
    memo: str | None = None


@dataclass(eq=False)
class CommandRunner:
    """Runs commands against aggregates in the event log.

    With `copies`, a command works on the process's working copy of its aggregate
    (brought up to date first) instead of loading it from the store each time."""

    log: EventLog
    clock: Clock
    max_attempts: int = 8
    copies: WorkingCopies | None = None
    backdating_allowance: timedelta = BACKDATING_ALLOWANCE

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

    def forget(self, aggregate_id: UUID) -> None:
        """Drop this process's working copy of the aggregate, if it keeps one."""
        if self.copies is not None:
            self.copies.forget(aggregate_id)

    def exists(self, kind: type[A], aggregate_id: UUID) -> bool:
        try:
            self.load(kind, aggregate_id)
        except NotFoundError:
            return False
        return True

    def change_established(
        self,
        kind: type[A],
        aggregate_id: UUID,
        caller: Caller,
        establish: Callable[[CommandContext], A],
        decide: Callable[[A, CommandContext], R],
    ) -> tuple[R, Receipt]:
        """`change` the one aggregate of its kind (the support offering, the collection
        policy), recording it with `establish` first when it is not there yet."""
        if not self.exists(kind, aggregate_id):
            self.create(kind, caller, establish)
        return self.change(kind, aggregate_id, caller, decide)

    @_counts_refusals
    def create(
        self,
        kind: type[A],
        caller: Caller,
        start: Callable[[CommandContext], A],
        companions: Callable[[A, CommandContext], Sequence[DomainEvent]] | None = None,
        *,
        memo: str | None = None,
    ) -> Receipt:
        """Record a new aggregate, with any companion events (e.g. its entry in a
        directory log) in the same transaction; refuse an id already taken.

        A conflict on a companion (another creation took that directory place)
        is retried on fresh state."""
        request = caller.request
        step = None if request is None else request.name(f"create:{kind.__name__}")
        if request is not None and step is not None:
            recorded = request.recorded(self.log, step)
            if recorded is not None:  # answered before `start`, which may judge the moment
                return _first_receipt(recorded)
        for attempt in range(self.max_attempts):
            ctx = self._context(caller)
            aggregate = start(ctx)
            if not isinstance(aggregate, kind):
                raise TypeError(f"{start!r} started a {type(aggregate).__name__}, not a {kind}")
            extra = companions(aggregate, ctx) if companions else ()
            try:
                (receipt,) = self._save(
                    aggregate, extra=extra, step=_step(request, step, ctx, memo), request=request
                )
            except RecordConflictError:
                recorded = _recorded_meanwhile(request, step, self.log)
                if recorded is not None:
                    return _first_receipt(recorded)
                if self.exists(type(aggregate), aggregate.id) or not extra:
                    raise AlreadyExistsError(
                        f"a {_noun(type(aggregate))} with the id {aggregate.id} already exists"
                    ) from None
                _back_off(attempt)
                continue
            if self.copies is not None:
                with self.copies.hold(aggregate.id) as slot:
                    slot.aggregate = aggregate
            return replace(receipt, memo=memo)
        raise ConcurrentChangeError("other records kept being created meanwhile; try again")

    @_counts_refusals
    def change(
        self,
        kind: type[A],
        aggregate_id: UUID,
        caller: Caller,
        decide: Callable[[A, CommandContext], R],
        expected_version: int | None = None,
    ) -> tuple[R, Receipt]:
        """Run `decide` on fresh state and record its events."""
        request = caller.request
        step = request.name(f"change:{aggregate_id}") if request is not None else None
        if request is not None and step is not None:
            recorded = request.recorded(self.log, step)
            if recorded is not None:
                return self._decided_again(kind, aggregate_id, caller, decide, recorded)
        with self._slot(aggregate_id) as slot:
            for attempt in range(self.max_attempts):
                aggregate = self._up_to_date(slot, kind, aggregate_id)
                if expected_version is not None and aggregate.version != expected_version:
                    raise VersionMismatchError(
                        f"the {_noun(kind)} is at version {aggregate.version}, "
                        f"not {expected_version}"
                    )
                ctx = self._context(caller)
                try:
                    result = decide(aggregate, ctx)
                except BaseException:
                    if aggregate.pending_events:  # changed, then refused: not a copy to keep
                        slot.aggregate = None
                    raise
                try:
                    (receipt,) = self._save(
                        aggregate, step=_step(request, step, ctx), request=request
                    )
                except RecordConflictError:
                    slot.aggregate = None
                    recorded = _recorded_meanwhile(request, step, self.log)
                    if recorded is not None:
                        return self._decided_again(kind, aggregate_id, caller, decide, recorded)
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

    def _decided_again(
        self,
        kind: type[A],
        aggregate_id: UUID,
        caller: Caller,
        decide: Callable[[A, CommandContext], R],
        recorded: RecordedStep,
    ) -> tuple[R, Receipt]:
        """The result and receipt of a recorded step: `decide` run again on the
        state the step started from, at the moment it was decided (the domain is
        a pure function of both), its events dropped, not saved again."""
        receipt = recorded.receipt_of(aggregate_id)
        if receipt is None:
            raise RuntimeError(f"step {recorded.step} recorded nothing on {aggregate_id}")
        before = self.load(kind, aggregate_id, version=receipt.first_version - 1)
        result = decide(before, caller.context(recorded.decided_at, self.backdating_allowance))
        return result, Receipt(aggregate_id, receipt.last_version, receipt.position)

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
        if self.log.subject_keys is not None:  # an erasure elsewhere voids the copies
            self.log.subject_keys.catch_up_with_erasures()
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

    @_counts_refusals
    def change_both(
        self,
        first: tuple[type[A], UUID],
        second: tuple[type[B], UUID],
        caller: Caller,
        decide: Callable[[A, B, CommandContext], R],
    ) -> tuple[R, Receipt, Receipt]:
        """Run `decide` on two aggregates and record both sets of events in one
        transaction (e.g. a billing case linked to its account)."""
        request = caller.request
        step = None if request is None else request.name(f"change2:{first[1]}:{second[1]}")
        recorded = None if request is None or step is None else request.recorded(self.log, step)
        if recorded is not None:
            return self._both_decided_again(first, second, caller, decide, recorded)
        for attempt in range(self.max_attempts):
            a = self.load(*first)
            b = self.load(*second)
            ctx = self._context(caller)
            result = decide(a, b, ctx)
            try:
                receipt_a, receipt_b = self._save(
                    a, b, step=_step(request, step, ctx), request=request
                )
            except RecordConflictError:
                recorded = _recorded_meanwhile(request, step, self.log)
                if recorded is not None:
                    return self._both_decided_again(first, second, caller, decide, recorded)
                _back_off(attempt)
                continue
            return result, receipt_a, receipt_b
        raise ConcurrentChangeError("the records kept changing under this command; try again")

    def _both_decided_again(
        self,
        first: tuple[type[A], UUID],
        second: tuple[type[B], UUID],
        caller: Caller,
        decide: Callable[[A, B, CommandContext], R],
        recorded: RecordedStep,
    ) -> tuple[R, Receipt, Receipt]:
        """`_decided_again` for a step that recorded on two aggregates."""
        receipts = [recorded.receipt_of(aggregate_id) for _, aggregate_id in (first, second)]
        if receipts[0] is None or receipts[1] is None:
            raise RuntimeError(f"step {recorded.step} did not record on both aggregates")
        a = self.load(first[0], first[1], version=receipts[0].first_version - 1)
        b = self.load(second[0], second[1], version=receipts[1].first_version - 1)
        result = decide(a, b, caller.context(recorded.decided_at, self.backdating_allowance))
        return (
            result,
            Receipt(first[1], receipts[0].last_version, receipts[0].position),
            Receipt(second[1], receipts[1].last_version, receipts[1].position),
        )

    def record_together(self, *aggregates: AuditedAggregate) -> tuple[Receipt, ...]:
        """Save what several aggregates decided in one transaction (a page of an
        import); raises RecordConflictError if another writer got there first."""
        return self._save(*aggregates)

    def _save(
        self,
        *aggregates: AuditedAggregate,
        extra: Sequence[DomainEvent] = (),
        step: StepToRecord | None = None,
        request: IdempotentRequest | None = None,
    ) -> tuple[Receipt, ...]:
        recordings: list[Recording[UUID]] = (
            self.log.save(*aggregates, *extra)
            if step is None
            else self.log.save(*aggregates, *extra, idempotency_step=step)
        )
        if recordings:
            if request is not None and step is not None:  # the step went in with them
                request.saved(step.step)
            _log_recorded(recordings)
            metrics.command_recorded(
                type(aggregates[0]).__name__ if aggregates else "unknown",
                [(type(r.domain_event).__qualname__, _clock_of(r)) for r in recordings],
            )
            fault_point("after-commit")
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


def _step(
    request: IdempotentRequest | None,
    step: str | None,
    ctx: CommandContext,
    memo: str | None = None,
) -> StepToRecord | None:
    """What a save of `request` records beside its events, if it is keyed."""
    if request is None or step is None:
        return None
    return request.to_record(step, ctx.recorded_at, memo)


def _recorded_meanwhile(
    request: IdempotentRequest | None, step: str | None, log: EventLog
) -> RecordedStep | None:
    """After a lost race: the step, if a twin of the request recorded it."""
    if request is None or step is None:
        return None
    return request.recorded(log, step, fresh=True)


def _first_receipt(recorded: RecordedStep) -> Receipt:
    """The receipt of the aggregate a recorded creation created (saved first)."""
    first = recorded.receipts[0]
    return Receipt(first.aggregate_id, first.last_version, first.position, recorded.memo)


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


def _clock_of(recording: Recording[UUID]) -> str | None:
    """The kind of service-level clock a clock fact names (None for other events)."""
    clock = getattr(recording.domain_event, "clock", None)
    return None if clock is None else str(getattr(clock, "value", clock))


def _back_off(attempt: int) -> None:
    """Wait a random while that grows with each lost race, so racers spread out."""
    time.sleep(random.uniform(0, 0.002 * 2**attempt))  # noqa: S311 - jitter, not crypto


def _noun(kind: type[object]) -> str:
    name = kind.__name__
    return "".join(f" {c.lower()}" if c.isupper() else c for c in name).strip()
