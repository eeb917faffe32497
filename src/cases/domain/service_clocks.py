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
        """Which clock of its case this is, e.g. `next_update-2`: numbers count per kind."""
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

    def due_breach(self, moment: datetime) -> bool:
        """Whether the clock's deadline has passed by `moment` unrecorded."""
        return (
            self.deadline is not None
            and self.breached_at is None
            and self.running_since is not None
            and self.deadline <= moment
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
    """When a clock running since `running_since`, with `elapsed` already counted,
    reaches `target`; `running_since` itself when the target is already spent."""
    if target is None:
        return None
    remaining = target - elapsed
    if remaining <= timedelta(0):
        return running_since
    return calendar.add_business_time(running_since, remaining)
