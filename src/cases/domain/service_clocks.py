"""Service-level clocks: how long the partner took, in business time, against targets.

A case runs four kinds of clock. The customer's clocks are *first response*
(received → first outbound message), *next update* (one per gap between outbound
messages while the case is open) and *resolution* (received → resolved; a reopen
resumes it); they pause while the case waits on the customer. The *vendor* clock
(one per escalation, escalated → handed back) is the vendor's underpinning
contract and never pauses for the customer.

A clock's life is recorded as facts (started, paused, resumed, re-targeted,
breached, fulfilled, stopped). Every fact carries the moments and durations it
was computed with (deadline, elapsed business time), so a replay copies them and
never recomputes a date: a later change of terms, calendar or holiday list
cannot move a recorded deadline.

Clocks never run backwards: a fact whose moment is earlier than the clock's last
timing change (start, pause, resume, re-target) takes effect at that change.

Verdicts (ADR 33): a clock is within target while its business time is at most
its target (≤), so its *deadline* is the last moment still within: a reply at the
deadline is in time. A clock that runs past its deadline is breached at it; a
clock whose target is already exceeded when it is re-targeted (running or
paused) is breached at the change. A breach stands once recorded, even if a later
change loosens the target, unless a later-recorded fact shows the clock stopped
by the breach's moment with its target not exceeded (a reply or a pause that
began in time): that fact withdraws the breach with a fact of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from cases.domain.business_calendar import BusinessCalendar
from cases.domain.support_terms import ServiceHours, ServiceLevelTarget, Severity


class ClockKind(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_UPDATE = "next_update"
    RESOLUTION = "resolution"
    VENDOR = "vendor"

    @property
    def is_customer_clock(self) -> bool:
        """The customer's clocks pause while the case waits on the customer."""
        return self is not ClockKind.VENDOR


@dataclass(frozen=True, slots=True)
class ServiceLevelTerms:
    """What a case keeps of the terms it was received under: the service hours
    that make its business calendar and the targets per severity."""

    service_hours: ServiceHours
    targets: tuple[ServiceLevelTarget, ...]

    @property
    def calendar(self) -> BusinessCalendar:
        return BusinessCalendar.from_hours(self.service_hours)

    def target(self, kind: ClockKind, severity: Severity) -> timedelta | None:
        """The business time `kind` may run for a case of `severity`, if any."""
        target = next(t for t in self.targets if t.severity is severity)
        minutes = {
            ClockKind.FIRST_RESPONSE: target.first_response_minutes,
            ClockKind.NEXT_UPDATE: target.next_update_minutes,
            ClockKind.RESOLUTION: target.resolution_minutes,
            ClockKind.VENDOR: target.vendor_hand_back_minutes,
        }[kind]
        return None if minutes is None else timedelta(minutes=minutes)


@dataclass(frozen=True, slots=True)
class ServiceClock:
    """One clock of one case as its facts left it."""

    kind: ClockKind
    number: int
    started_at: datetime
    target: timedelta | None
    # Business time counted up to `running_since` (or up to the pause or end).
    elapsed: timedelta
    running_since: datetime | None
    deadline: datetime | None
    last_change: datetime
    breached_at: datetime | None = None
    finished_at: datetime | None = None
    fulfilled: bool = False

    @property
    def clock_id(self) -> str:
        """Which clock of its case this is, e.g. `next_update-2`: numbers count per kind.

        Read by name: replay keys a case's clocks by it (`clocks[next_update-2]`)."""
        return f"{self.kind.value}-{self.number}"

    @property
    def is_finished(self) -> bool:
        return self.finished_at is not None

    @property
    def is_running(self) -> bool:
        return self.running_since is not None

    @property
    def is_paused(self) -> bool:
        return not self.is_finished and self.running_since is None

    def effective(self, moment: datetime) -> datetime:
        """`moment`, or the clock's last timing change if that came later."""
        return max(moment, self.last_change)

    def elapsed_at(self, moment: datetime, calendar: BusinessCalendar) -> timedelta:
        """Business time counted by `moment` (the clock's own, less pauses)."""
        if self.running_since is None:
            return self.elapsed
        return self.elapsed + calendar.business_duration(self.running_since, moment)

    @property
    def is_over_target(self) -> bool:
        """Whether the business time counted at its last change already exceeds
        its target (a target made tighter than the time already spent)."""
        return self.target is not None and self.elapsed > self.target

    def due_breach(self, moment: datetime) -> bool:
        """Whether an unfinished clock has no breach recorded although its target
        was exceeded at its last change or it has run past its deadline before
        `moment` (a deadline recorded before ADR 33 may still lead to the next
        opening: `ClockedCase.breach_moment` decides)."""
        if self.breached_at is not None or self.is_finished:
            return False
        if self.is_over_target:
            return True
        return self.is_running and self.deadline is not None and self.deadline < moment

    def stopped_in_time(self, at: datetime, elapsed: timedelta) -> bool:
        """Whether stopping at `at` after `elapsed` (a reply, or a pause) disproves
        the recorded breach: the clock stopped by the breach's moment, within its
        target. A breach at a re-target the time already spent exceeded is never
        disproved, nor one followed by a looser target, even in the same instant:
        both leave the clock's last change at (or after) the breach, while a
        deadline passed is breached after the clock's last change."""
        return (
            self.breached_at is not None
            and self.last_change < self.breached_at
            and at <= self.breached_at
            and (self.target is None or elapsed <= self.target)
        )

    # Transitions: each applies one recorded fact ---------------------------

    def paused(self, at: datetime, elapsed: timedelta) -> ServiceClock:
        return replace(self, elapsed=elapsed, running_since=None, deadline=None, last_change=at)

    def resumed(self, at: datetime, deadline: datetime | None) -> ServiceClock:
        return replace(
            self,
            running_since=at,
            deadline=deadline,
            last_change=at,
            finished_at=None,
            fulfilled=False,
        )

    def retargeted(
        self, at: datetime, target: timedelta | None, elapsed: timedelta, deadline: datetime | None
    ) -> ServiceClock:
        running_since = at if self.is_running else None
        return replace(
            self,
            target=target,
            elapsed=elapsed,
            running_since=running_since,
            deadline=deadline,
            last_change=at,
        )

    def breached(self, at: datetime) -> ServiceClock:
        return replace(self, breached_at=at)

    def breach_withdrawn(self) -> ServiceClock:
        return replace(self, breached_at=None)

    def finished(self, at: datetime, elapsed: timedelta, *, fulfilled: bool) -> ServiceClock:
        return replace(
            self,
            elapsed=elapsed,
            running_since=None,
            deadline=None,
            finished_at=at,
            fulfilled=fulfilled,
        )


def started_clock(
    kind: ClockKind,
    number: int,
    at: datetime,
    target: timedelta | None,
    deadline: datetime | None,
) -> ServiceClock:
    return ServiceClock(
        kind=kind,
        number=number,
        started_at=at,
        target=target,
        elapsed=timedelta(0),
        running_since=at,
        deadline=deadline,
        last_change=at,
    )


def deadline_for(
    calendar: BusinessCalendar,
    running_since: datetime,
    target: timedelta | None,
    elapsed: timedelta,
) -> datetime | None:
    """The last moment at which a clock running since `running_since`, with
    `elapsed` already counted, is still within `target`: the moment the target is
    spent, or the next opening after it when service is closed then (no business
    time passes in between, so a reply then is still in time). `running_since`
    itself when the target is already exceeded."""
    if target is None:
        return None
    remaining = target - elapsed
    if remaining < timedelta(0):
        return running_since
    return calendar.next_opening(calendar.add_business_time(running_since, remaining))
