"""The clock keeping of a support case: its service-level facts and the rules
that record them (the case's commands call these; see `service_clocks` for the
clocks themselves)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cases.domain import errors
from cases.domain.audited import AuditedAggregate
from cases.domain.business_calendar import BusinessCalendar
from cases.domain.metadata import CommandContext
from cases.domain.service_clocks import (
    ClockKind,
    ServiceClock,
    ServiceLevelTerms,
    deadline_for,
    started_clock,
)
from cases.domain.support_terms import Severity
from cases.domain.text import aware


class ClockFact:
    """What every service-level clock fact is; applied, it changes the clock it
    names (a start makes one instead).

    A mixin, not an event: each fact declares `clock` and `number` itself.
    """

    clock: ClockKind
    number: int

    def apply(self, aggregate: Any) -> None:
        case: ClockedCase = aggregate
        case.put_clock(self.changed(case.clock(self.clock, self.number)))

    def changed(self, clock: ServiceClock) -> ServiceClock:
        raise NotImplementedError


class ClockedCase(AuditedAggregate):
    """A support case's service-level clocks, as facts recorded on the case."""

    if TYPE_CHECKING:  # set by the case (not annotations: they would make a dataclass)
        severity: Severity
        received_at: datetime
        waiting_on_customer_since: datetime | None
        service_levels: ServiceLevelTerms | None
        clocks: tuple[ServiceClock, ...]

    # Service-level clock facts (see cases.domain.service_clocks) ------------

    class ServiceClockStarted(ClockFact, AuditedAggregate.Event):
        """`since_received` is the business time from receipt to `at` (for a
        vendor clock: the time the partner took to escalate)."""

        clock: ClockKind
        number: int
        at: datetime
        target: timedelta | None
        deadline: datetime | None
        since_received: timedelta

        def apply(self, aggregate: Any) -> None:
            case: ClockedCase = aggregate
            clock = started_clock(self.clock, self.number, self.at, self.target, self.deadline)
            case.put_clock(clock)

    class ServiceClockPaused(ClockFact, AuditedAggregate.Event):
        clock: ClockKind
        number: int
        at: datetime
        elapsed: timedelta

        def changed(self, clock: ServiceClock) -> ServiceClock:
            return clock.paused(self.at, self.elapsed)

    class ServiceClockResumed(ClockFact, AuditedAggregate.Event):
        clock: ClockKind
        number: int
        at: datetime
        deadline: datetime | None

        def changed(self, clock: ServiceClock) -> ServiceClock:
            return clock.resumed(self.at, self.deadline)

    class ServiceClockRetargeted(ClockFact, AuditedAggregate.Event):
        clock: ClockKind
        number: int
        at: datetime
        severity: Severity
        target: timedelta | None
        elapsed: timedelta
        deadline: datetime | None

        def changed(self, clock: ServiceClock) -> ServiceClock:
            return clock.retargeted(self.at, self.target, self.elapsed, self.deadline)

    class ServiceClockBreached(ClockFact, AuditedAggregate.Event):
        clock: ClockKind
        number: int
        at: datetime
        target: timedelta | None

        def changed(self, clock: ServiceClock) -> ServiceClock:
            return clock.breached(self.at)

    class ServiceClockBreachWithdrawn(ClockFact, AuditedAggregate.Event):
        """A breach recorded before a fact that shows the clock was fulfilled in
        time (a reply made before the deadline, recorded after it)."""

        clock: ClockKind
        number: int
        breached_at: datetime
        fulfilled_at: datetime

        def changed(self, clock: ServiceClock) -> ServiceClock:
            return clock.breach_withdrawn()

    class ServiceClockBreachDisproved(ClockFact, AuditedAggregate.Event):
        """A breach recorded before a pause that shows the clock had stopped in
        time: the pause began by the breach's moment, with `elapsed` (at most the
        target) counted, and was recorded after the breach (ADR 33). The breach
        is withdrawn; the clock runs again, towards a new deadline, when resumed."""

        clock: ClockKind
        number: int
        breached_at: datetime
        paused_at: datetime
        elapsed: timedelta

        def changed(self, clock: ServiceClock) -> ServiceClock:
            return clock.breach_withdrawn()

    class ServiceClockFulfilled(ClockFact, AuditedAggregate.Event):
        clock: ClockKind
        number: int
        at: datetime
        elapsed: timedelta
        calendar_elapsed: timedelta
        target: timedelta | None
        within_target: bool

        def changed(self, clock: ServiceClock) -> ServiceClock:
            return clock.finished(self.at, self.elapsed, fulfilled=True)

    class ServiceClockStopped(ClockFact, AuditedAggregate.Event):
        clock: ClockKind
        number: int
        at: datetime
        elapsed: timedelta
        reason: str

        def changed(self, clock: ServiceClock) -> ServiceClock:
            return clock.finished(self.at, self.elapsed, fulfilled=False)

    @property
    def levels(self) -> ServiceLevelTerms:
        """The pinned service levels; only a case that has them has clocks."""
        if self.service_levels is None:
            raise LookupError("the case was recorded before service levels were kept")
        return self.service_levels

    @property
    def calendar(self) -> BusinessCalendar:
        return self.levels.calendar

    def clock(self, kind: ClockKind, number: int | None = None) -> ServiceClock:
        """The clock of `kind` numbered `number`, or the latest of its kind."""
        for clock in reversed(self.clocks):
            if clock.kind is kind and (number is None or clock.number == number):
                return clock
        raise LookupError(f"the case has no {kind.value} clock {number or ''}".rstrip())

    def latest_clock(self, kind: ClockKind) -> ServiceClock | None:
        return next((c for c in reversed(self.clocks) if c.kind is kind), None)

    def put_clock(self, clock: ServiceClock) -> None:
        """Keep `clock`, in place of its earlier self if it had one."""
        for index, kept in enumerate(self.clocks):
            if (kept.kind, kept.number) == (clock.kind, clock.number):
                self.clocks = (*self.clocks[:index], clock, *self.clocks[index + 1 :])
                return
        self.clocks = (*self.clocks, clock)

    # Service-level clocks ---------------------------------------------------

    def evaluate_service_clocks(self, ctx: CommandContext, at: datetime) -> int:
        """The scheduled check: record every breach due by `at` that is not yet
        recorded, at its deadline; return how many. Deterministic and idempotent:
        evaluating again at `at` (or earlier) records nothing."""
        aware("at", at)
        if at > ctx.recorded_at:
            raise errors.EvaluationInFutureError(
                f"service clocks cannot be evaluated as of {at.isoformat()}, a moment still to come"
            )
        return self.record_due_breaches(ctx, at)

    def record_due_breaches(self, ctx: CommandContext, moment: datetime | None = None) -> int:
        """Record the breach of every unfinished clock that has run past its
        deadline before `moment` (the command's moment), at its deadline, and of
        every clock whose target was exceeded at its last change, at that change."""
        moment = ctx.occurred_at if moment is None else moment
        due = self.breaches_due(moment)
        for clock, at in due:
            self._record(
                self.ServiceClockBreached,
                ctx,
                clock=clock.kind,
                number=clock.number,
                at=at,
                target=clock.target,
            )
        return len(due)

    def breaches_due(self, moment: datetime) -> list[tuple[ServiceClock, datetime]]:
        """The clocks whose breach is due by `moment` and not recorded, each with
        the moment of its breach."""
        return [
            (clock, at)
            for clock in self.clocks
            if clock.due_breach(moment)
            and (at := self.breach_moment(clock)) is not None
            and (clock.is_over_target or at < moment)
        ]

    def breach_moment(self, clock: ServiceClock) -> datetime | None:
        """When `clock` ran past its target: its last change if the time already
        counted then exceeds the target, else its deadline. A deadline recorded
        before ADR 33 is the moment the target was spent, which may fall where
        service is closed; no business time passes until the next opening, so the
        clock runs past its target there."""
        if clock.is_over_target:
            return clock.last_change
        if clock.deadline is None:
            return None
        return self.calendar.next_opening(clock.deadline)

    def start_clock(
        self, ctx: CommandContext, kind: ClockKind, at: datetime, number: int | None = None
    ) -> None:
        levels = self.service_levels
        if levels is None:
            return
        latest = self.latest_clock(kind)
        if number is None:
            number = 1 if latest is None else latest.number + 1
        if latest is not None and latest.finished_at is not None:
            at = max(at, latest.finished_at)
        target = levels.target(kind, self.severity)
        calendar = levels.calendar
        self._record(
            self.ServiceClockStarted,
            ctx,
            clock=kind,
            number=number,
            at=at,
            target=target,
            deadline=deadline_for(calendar, at, target, timedelta(0)),
            since_received=calendar.business_duration(self.received_at, at),
        )
        if kind.is_customer_clock and self.waiting_on_customer_since is not None:
            self.pause_clock(ctx, self.clock(kind, number))

    def pause_clock(self, ctx: CommandContext, clock: ServiceClock) -> None:
        """Pause `clock`; a pause recorded after a breach it shows wrong (it began
        in time) withdraws the breach first."""
        at = clock.effective(ctx.occurred_at)
        elapsed = clock.elapsed_at(at, self.calendar)
        if clock.breached_at is not None and clock.stopped_in_time(at, elapsed):
            self._record(
                self.ServiceClockBreachDisproved,
                ctx,
                clock=clock.kind,
                number=clock.number,
                breached_at=clock.breached_at,
                paused_at=at,
                elapsed=elapsed,
            )
        self._record(
            self.ServiceClockPaused,
            ctx,
            clock=clock.kind,
            number=clock.number,
            at=at,
            elapsed=elapsed,
        )

    def resume_clock(self, ctx: CommandContext, clock: ServiceClock) -> None:
        at = clock.effective(ctx.occurred_at)
        if clock.finished_at is not None:
            at = max(at, clock.finished_at)
        self._record(
            self.ServiceClockResumed,
            ctx,
            clock=clock.kind,
            number=clock.number,
            at=at,
            deadline=deadline_for(self.calendar, at, clock.target, clock.elapsed),
        )
        # A clock resumed with its target already exceeded (recorded before ADR 33,
        # when a paused clock was not breached at its re-target) is breached now.
        self.record_due_breaches(ctx, at)

    def retarget_clock(self, ctx: CommandContext, clock: ServiceClock) -> None:
        calendar = self.calendar
        at = clock.effective(ctx.occurred_at)
        target = self.levels.target(clock.kind, self.severity)
        elapsed = clock.elapsed_at(at, calendar)
        running = clock.is_running
        self._record(
            self.ServiceClockRetargeted,
            ctx,
            clock=clock.kind,
            number=clock.number,
            at=at,
            severity=self.severity,
            target=target,
            elapsed=elapsed,
            deadline=deadline_for(calendar, at, target, elapsed) if running else None,
        )

    def pause_customer_clocks(self, ctx: CommandContext) -> None:
        for clock in self.clocks:
            if clock.kind.is_customer_clock and clock.is_running:
                self.pause_clock(ctx, clock)

    def resume_customer_clocks(self, ctx: CommandContext) -> None:
        for clock in self.clocks:
            if clock.kind.is_customer_clock and clock.is_paused:
                self.resume_clock(ctx, clock)

    def finish_clock(
        self,
        ctx: CommandContext,
        kind: ClockKind,
        *,
        fulfilled: bool,
        number: int | None = None,
        reason: str = "",
    ) -> None:
        """Fulfil (or stop, when `fulfilled` is false) the clock if it still runs."""
        levels = self.service_levels
        clock = self.latest_clock(kind) if number is None else self.clock(kind, number)
        if levels is None or clock is None or clock.is_finished:
            return
        at = clock.effective(ctx.occurred_at)
        elapsed = clock.elapsed_at(at, levels.calendar)
        facts = {"clock": kind, "number": clock.number, "at": at, "elapsed": elapsed}
        if not fulfilled:
            self._record(self.ServiceClockStopped, ctx, reason=reason, **facts)
            return
        breached_at = clock.breached_at
        if breached_at is not None and clock.stopped_in_time(at, elapsed):
            self._record(
                self.ServiceClockBreachWithdrawn,
                ctx,
                clock=kind,
                number=clock.number,
                breached_at=breached_at,
                fulfilled_at=at,
            )
            breached_at = None
        self._record(
            self.ServiceClockFulfilled,
            ctx,
            calendar_elapsed=levels.calendar.calendar_duration(clock.started_at, at),
            target=clock.target,
            within_target=breached_at is None,
            **facts,
        )
