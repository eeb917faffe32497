"""Service-level clocks, with figures computed by hand.

The terms are the demo partner's: weekdays 08-12 and 13-17 in Stockholm,
Swedish public holidays; first response / next update / resolution / vendor
targets of 1h/2h/8h/8h (critical), 4h/8h/40h/24h (moderate). Every expected
moment below was counted on a calendar, not computed with the code under test.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.application import project_aggregate
from eventsourcing.persistence import Mapper

from cases.domain import case_commands as cmd
from cases.domain import errors
from cases.domain.case_values import (
    Direction,
    EscalationCategory,
    EscalationTarget,
    ResolutionCode,
)
from cases.domain.metadata import CommandContext, Source
from cases.domain.service_clocks import ClockKind
from cases.domain.support_case import SupportCase
from cases.domain.support_terms import Channel, EscalationVehicle, Severity
from cases.persistence.registry import cases_transcoder
from tests.support.builders import ctx, intake, paths, published

STOCKHOLM = ZoneInfo("Europe/Stockholm")
FIRST, NEXT, RESOLUTION, VENDOR = (
    ClockKind.FIRST_RESPONSE,
    ClockKind.NEXT_UPDATE,
    ClockKind.RESOLUTION,
    ClockKind.VENDOR,
)


def local(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=STOCKHOLM)


def hours(h: float) -> timedelta:
    return timedelta(hours=h)


def receive(at: datetime, severity: Severity = Severity.MODERATE) -> SupportCase:
    published_terms = published()
    return SupportCase.receive(
        ctx(at),
        cmd.TakeIn(received_at=at, **intake(severity=severity)),
        case_id=uuid4(),
        terms=published_terms,
    )


def evaluation(at: datetime) -> tuple[CommandContext, datetime]:
    """A scheduled evaluation at `at`, recorded a minute later."""
    return ctx(at + timedelta(minutes=1), source=Source.SCHEDULER), at


def facts(case: SupportCase, name: str) -> list[Any]:
    return [e for e in case.collect_events() if type(e).__name__ == name]


def reply(case: SupportCase, at: datetime, *, occurred_at: datetime | None = None) -> None:
    case.record_communication(
        ctx(at, occurred_at=occurred_at),
        cmd.RecordCommunication(Direction.OUTBOUND, Channel.EMAIL, "Looking into it"),
    )


class TestFirstResponse:
    def test_a_reply_within_service_hours(self) -> None:
        """Received Monday 09:00, answered 11:30: 2h30 of the 4h target."""
        case = receive(local(3, 2, 9))
        [first, resolution] = list(case.clocks)
        assert (first.kind, first.deadline) == (FIRST, local(3, 2, 14))  # 3h + 1h after lunch
        assert resolution.deadline == local(3, 9, 9)  # 40h: five business days
        case.collect_events()
        reply(case, local(3, 2, 11, 30))
        [fulfilled] = [e for e in case.collect_events() if type(e).__name__.endswith("Fulfilled")]
        assert (fulfilled.clock, fulfilled.elapsed, fulfilled.within_target) == (
            FIRST,
            hours(2.5),
            True,
        )
        next_update = case.clock(NEXT, 1)
        # 8h from 11:30: 0.5h + 4h on Monday, 3.5h on Tuesday.
        assert next_update.deadline == local(3, 3, 11, 30)

    def test_received_outside_service_hours_counts_from_the_next_opening(self) -> None:
        """Friday 18:30, critical: the 1h target runs Monday 08:00-09:00."""
        case = receive(local(3, 6, 18, 30), Severity.CRITICAL)
        assert case.clock(FIRST).deadline == local(3, 9, 9)
        reply(case, local(3, 9, 8, 45))
        assert case.clock(FIRST).elapsed == timedelta(minutes=45)
        assert case.clock(FIRST).fulfilled

    def test_easter_holidays_are_not_business_time(self) -> None:
        """Thursday 2 April 16:00: 1h that day; Good Friday, the weekend and Easter
        Monday are closed; the remaining 3h end Tuesday 7 April 11:00."""
        case = receive(local(4, 2, 16))
        assert case.clock(FIRST).deadline == local(4, 7, 11)

    def test_received_on_a_holiday_and_breached_by_the_scheduled_evaluation(self) -> None:
        """Good Friday 10:00: the 4h run Tuesday 08-12, and no business time passes
        in the lunch break, so a reply until 13:00 is within target (ADR 33): the
        deadline is 13:00. An evaluation at 13:30 records the breach at 13:00, once."""
        case = receive(local(4, 3, 10))
        assert case.clock(FIRST).deadline == local(4, 7, 13)
        case.collect_events()
        assert case.evaluate_service_clocks(*evaluation(local(4, 7, 12, 30))) == 0
        assert case.evaluate_service_clocks(*evaluation(local(4, 7, 13))) == 0
        assert case.evaluate_service_clocks(*evaluation(local(4, 7, 13, 30))) == 1
        [breach] = facts(case, "ServiceClockBreached")
        assert (breach.clock, breach.at, breach.target) == (FIRST, local(4, 7, 13), hours(4))
        assert case.evaluate_service_clocks(*evaluation(local(4, 7, 13, 30))) == 0
        assert case.evaluate_service_clocks(*evaluation(local(4, 8, 9))) == 0
        assert case.collect_events() == []
        reply(case, local(4, 7, 14))
        [fulfilled] = facts(case, "ServiceClockFulfilled")
        assert (fulfilled.elapsed, fulfilled.within_target) == (hours(5), False)

    def test_across_the_change_to_summer_time(self) -> None:
        """Friday 27 March 16:00 CET: 1h that day, 3h on Monday 30 March (CEST)."""
        case = receive(local(3, 27, 16))
        deadline = case.clock(FIRST).deadline
        assert deadline == local(3, 30, 11)
        assert deadline is not None
        assert deadline.utcoffset() == hours(2)

    def test_an_evaluation_cannot_look_into_the_future(self) -> None:
        case = receive(local(3, 2, 9))
        with pytest.raises(errors.EvaluationInFutureError):
            case.evaluate_service_clocks(ctx(local(3, 2, 14)), local(3, 2, 15))
        assert case.collect_events()[-1].clock is RESOLUTION  # nothing after intake

    def test_a_late_recorded_reply_made_in_time_withdraws_the_breach(self) -> None:
        """Critical, received 09:00; evaluated at 10:30, breached at 10:00; a call at
        09:40 logged at 10:45 fulfils the clock in 40 minutes and withdraws it."""
        case = receive(local(3, 2, 9), Severity.CRITICAL)
        case.evaluate_service_clocks(*evaluation(local(3, 2, 10, 30)))
        assert case.clock(FIRST).breached_at == local(3, 2, 10)
        case.collect_events()
        reply(case, local(3, 2, 10, 45), occurred_at=local(3, 2, 9, 40))
        [withdrawn] = facts_of(case, "ServiceClockBreachWithdrawn")
        assert (withdrawn.breached_at, withdrawn.fulfilled_at) == (
            local(3, 2, 10),
            local(3, 2, 9, 40),
        )
        clock = case.clock(FIRST)
        assert (clock.breached_at, clock.elapsed, clock.fulfilled) == (None, hours(40 / 60), True)


def facts_of(case: SupportCase, name: str) -> list[Any]:
    return [e for e in case.pending_events if type(e).__name__ == name]


class TestWaitingOnTheCustomer:
    def test_pauses_the_customer_clocks_and_the_paused_time_does_not_count(self) -> None:
        """Received Monday 2 March 09:00; answered and put on hold at 10:00; the
        customer replies Wednesday 10:00 (16 business hours paused); resolved Friday
        17:00. Resolution: 1h + 6h (Wed) + 8h (Thu) + 8h (Fri) = 23h of 40h. The
        next-update clock resumed Wednesday 10:00 with 8h: due Thursday 10:00,
        breached then, and stopped by the resolution."""
        case = receive(local(3, 2, 9))
        reply(case, local(3, 2, 10))
        case.wait_on_customer(ctx(local(3, 2, 10)), cmd.WaitOnCustomer("Asked for message headers"))
        paused = facts(case, "ServiceClockPaused")
        assert {(p.clock, p.at, p.elapsed) for p in paused} == {
            (RESOLUTION, local(3, 2, 10), hours(1)),
            (NEXT, local(3, 2, 10), hours(0)),
        }
        case.record_communication(
            ctx(local(3, 4, 10)),
            cmd.RecordCommunication(Direction.INBOUND, Channel.EMAIL, "Headers attached"),
        )
        resumed = {r.clock: r.deadline for r in facts(case, "ServiceClockResumed")}
        # 39h left from Wednesday 10:00: 6h + 8h (Thu) + 8h (Fri) + 8h (Mon) + 8h
        # (Tue 10 March) + 1h on Wednesday 11 March.
        assert resumed == {RESOLUTION: local(3, 11, 9), NEXT: local(3, 5, 10)}
        case.check_service_health(ctx(local(3, 6, 16)), cmd.CheckServiceHealth(None))
        case.resolve(
            ctx(local(3, 6, 17)), cmd.Resolve(ResolutionCode.FIXED_BY_PARTNER, "Connector fixed")
        )
        events = case.collect_events()
        names = [type(e).__name__ for e in events]
        assert names[0] == "ServiceClockBreached"  # recorded by the next command, at its moment
        breach = events[0]
        assert (breach.clock, breach.number, breach.at) == (NEXT, 1, local(3, 5, 10))
        fulfilled = next(e for e in events if type(e).__name__ == "ServiceClockFulfilled")
        assert (fulfilled.clock, fulfilled.elapsed, fulfilled.within_target) == (
            RESOLUTION,
            hours(23),
            True,
        )
        assert fulfilled.calendar_elapsed == timedelta(days=4, hours=8)
        stopped = next(e for e in events if type(e).__name__ == "ServiceClockStopped")
        assert (stopped.clock, stopped.elapsed) == (NEXT, hours(22))
        assert stopped.reason == "case resolved"


class TestSeverityChange:
    def test_retargets_running_clocks_and_a_spent_target_breaches_at_once(self) -> None:
        """Moderate, received 09:00; made critical at 10:30. First response: 1h30
        already > 1h, so breached at 10:30. Resolution: 8h less 1h30 leaves 6h30:
        10:30-12, 13-17, Tuesday 08-09."""
        case = receive(local(3, 2, 9))
        case.collect_events()
        case.change_severity(
            ctx(local(3, 2, 10, 30)), cmd.ChangeSeverity(Severity.CRITICAL, "Whole company down")
        )
        retargeted = {
            r.clock: (r.target, r.deadline) for r in facts_of(case, "ServiceClockRetargeted")
        }
        assert retargeted == {
            FIRST: (hours(1), local(3, 2, 10, 30)),
            RESOLUTION: (hours(8), local(3, 3, 9)),
        }
        [breach] = facts(case, "ServiceClockBreached")
        assert (breach.clock, breach.at) == (FIRST, local(3, 2, 10, 30))


class TestVerdicts:
    """ADR 33: within target is elapsed ≤ target; a target already spent when it
    is tightened is a breach; a later-recorded fact that shows the clock stopped
    in time withdraws a breach, a looser target never does."""

    def test_a_reply_exactly_at_the_deadline_is_within_target(self) -> None:
        """Critical, received 09:00: due 10:00. An evaluation at 10:00 records
        nothing; a reply at 10:00 (1h of 1h) is in time."""
        case = receive(local(3, 2, 9), Severity.CRITICAL)
        assert case.clock(FIRST).deadline == local(3, 2, 10)
        assert case.evaluate_service_clocks(*evaluation(local(3, 2, 10))) == 0
        case.collect_events()
        reply(case, local(3, 2, 10))
        assert facts_of(case, "ServiceClockBreached") == []
        [fulfilled] = facts_of(case, "ServiceClockFulfilled")
        assert (fulfilled.clock, fulfilled.elapsed, fulfilled.within_target) == (
            FIRST,
            hours(1),
            True,
        )

    def test_a_reply_in_the_lunch_break_after_the_target_was_spent_is_in_time(self) -> None:
        """Moderate, received 08:00: 4h are spent at 12:00 and no business time
        passes until 13:00, so the deadline is 13:00 and a reply at 12:45 (4h of
        4h) is in time; one at 13:01 is a minute late, breached at 13:00."""
        case = receive(local(3, 2, 8))
        assert case.clock(FIRST).deadline == local(3, 2, 13)
        reply(case, local(3, 2, 12, 45))
        [fulfilled] = facts(case, "ServiceClockFulfilled")
        assert (fulfilled.elapsed, fulfilled.within_target) == (hours(4), True)
        late = receive(local(3, 2, 8))
        late.collect_events()
        reply(late, local(3, 2, 13, 1))
        [breach] = facts_of(late, "ServiceClockBreached")
        assert (breach.clock, breach.at) == (FIRST, local(3, 2, 13))
        [fulfilled] = facts(late, "ServiceClockFulfilled")
        assert (fulfilled.elapsed, fulfilled.within_target) == (hours(4 + 1 / 60), False)

    def test_a_target_spent_while_paused_is_breached_at_the_change(self) -> None:
        """Moderate, received 09:00, waiting on the customer from 11:00 (2h of
        4h); made critical at 11:30: 2h already exceed the 1h target, so the first
        response is breached at 11:30. Answered at 14:00, still waiting: late."""
        case = receive(local(3, 2, 9))
        case.wait_on_customer(ctx(local(3, 2, 11)), cmd.WaitOnCustomer("Asked for logs"))
        case.collect_events()
        case.change_severity(
            ctx(local(3, 2, 11, 30)), cmd.ChangeSeverity(Severity.CRITICAL, "Whole company down")
        )
        [breach] = facts_of(case, "ServiceClockBreached")
        assert (breach.clock, breach.at, breach.target) == (FIRST, local(3, 2, 11, 30), hours(1))
        assert case.clock(RESOLUTION).breached_at is None  # 2h of 8h
        reply(case, local(3, 2, 14))
        [fulfilled] = facts_of(case, "ServiceClockFulfilled")
        assert (fulfilled.clock, fulfilled.elapsed, fulfilled.within_target) == (
            FIRST,
            hours(2),
            False,
        )
        assert facts_of(case, "ServiceClockBreachWithdrawn") == []

    def test_a_target_met_exactly_while_paused_is_not_breached(self) -> None:
        """Waiting after 1h, made critical (1h): not over target; resumed at
        14:00, it is due at once and breached only if it runs on: a reply at 14:00
        is in time."""
        case = receive(local(3, 2, 9))
        case.wait_on_customer(ctx(local(3, 2, 10)), cmd.WaitOnCustomer("Asked for logs"))
        case.change_severity(
            ctx(local(3, 2, 10, 30)), cmd.ChangeSeverity(Severity.CRITICAL, "Worse")
        )
        assert case.clock(FIRST).breached_at is None
        case.stop_waiting_on_customer(
            ctx(local(3, 2, 14)), cmd.StopWaitingOnCustomer("Logs arrived")
        )
        assert case.clock(FIRST).deadline == local(3, 2, 14)
        case.collect_events()
        reply(case, local(3, 2, 14))
        [fulfilled] = facts_of(case, "ServiceClockFulfilled")
        assert (fulfilled.elapsed, fulfilled.within_target) == (hours(1), True)

    def test_a_breach_then_a_looser_target_keeps_the_breach(self) -> None:
        """Critical, received 09:00, breached at 10:00; made moderate at 11:00
        (4h); answered at 11:30 after 2h30, within the new target but late."""
        case = receive(local(3, 2, 9), Severity.CRITICAL)
        case.evaluate_service_clocks(*evaluation(local(3, 2, 10, 30)))
        case.change_severity(
            ctx(local(3, 2, 11)), cmd.ChangeSeverity(Severity.MODERATE, "Workaround found")
        )
        case.collect_events()
        reply(case, local(3, 2, 11, 30))
        assert facts_of(case, "ServiceClockBreachWithdrawn") == []
        [fulfilled] = facts_of(case, "ServiceClockFulfilled")
        assert (fulfilled.elapsed, fulfilled.target, fulfilled.within_target) == (
            hours(2.5),
            hours(4),
            False,
        )
        assert case.clock(FIRST).breached_at == local(3, 2, 10)

    def test_a_late_recorded_pause_that_began_in_time_withdraws_the_breach(self) -> None:
        """Critical, received 09:00; evaluated at 10:30, breached at 10:00. At
        10:45 the agent records that the case has waited on the customer since
        09:40: the breach is withdrawn with the pause (40 min of 1h). The customer
        answers at 13:30; 20 min remain, due 13:50; a reply at 13:45 (55 min) is in time."""
        case = receive(local(3, 2, 9), Severity.CRITICAL)
        case.evaluate_service_clocks(*evaluation(local(3, 2, 10, 30)))
        assert case.clock(FIRST).breached_at == local(3, 2, 10)
        case.collect_events()
        case.wait_on_customer(
            ctx(local(3, 2, 10, 45), occurred_at=local(3, 2, 9, 40)),
            cmd.WaitOnCustomer("Asked for logs"),
        )
        events = case.collect_events()
        [disproved] = [e for e in events if isinstance(e, SupportCase.ServiceClockBreachDisproved)]
        assert (disproved.clock, disproved.breached_at, disproved.paused_at) == (
            FIRST,
            local(3, 2, 10),
            local(3, 2, 9, 40),
        )
        assert disproved.elapsed == timedelta(minutes=40)
        names = [type(e).__name__ for e in events]
        assert names.index("ServiceClockBreachDisproved") < names.index("ServiceClockPaused")
        clock = case.clock(FIRST)
        assert (clock.breached_at, clock.is_paused, clock.elapsed) == (None, True, hours(40 / 60))
        case.record_communication(
            ctx(local(3, 2, 13, 30)),
            cmd.RecordCommunication(Direction.INBOUND, Channel.EMAIL, "Logs attached"),
        )
        assert case.clock(FIRST).deadline == local(3, 2, 13, 50)
        reply(case, local(3, 2, 13, 45))
        [fulfilled] = facts(case, "ServiceClockFulfilled")
        assert (fulfilled.elapsed, fulfilled.within_target) == (hours(55 / 60), True)

    def test_a_late_recorded_pause_that_began_after_the_deadline_leaves_the_breach(
        self,
    ) -> None:
        """The same, waiting since 10:10: the clock had run past 10:00 already."""
        case = receive(local(3, 2, 9), Severity.CRITICAL)
        case.evaluate_service_clocks(*evaluation(local(3, 2, 10, 30)))
        case.collect_events()
        case.wait_on_customer(
            ctx(local(3, 2, 10, 45), occurred_at=local(3, 2, 10, 10)),
            cmd.WaitOnCustomer("Asked for logs"),
        )
        assert facts_of(case, "ServiceClockBreachDisproved") == []
        assert case.clock(FIRST).breached_at == local(3, 2, 10)

    def test_a_late_recorded_pause_at_the_deadline_withdraws_the_breach(self) -> None:
        """Waiting since exactly 10:00: 1h of 1h, within target."""
        case = receive(local(3, 2, 9), Severity.CRITICAL)
        case.evaluate_service_clocks(*evaluation(local(3, 2, 10, 30)))
        case.collect_events()
        case.wait_on_customer(
            ctx(local(3, 2, 10, 45), occurred_at=local(3, 2, 10)), cmd.WaitOnCustomer("Asked")
        )
        [disproved] = facts_of(case, "ServiceClockBreachDisproved")
        assert (disproved.clock, disproved.elapsed) == (FIRST, hours(1))

    def test_the_withdrawal_is_stored_and_replayed(self) -> None:
        """Encoded and decoded like every stored event, the facts rebuild the case."""
        case = receive(local(3, 2, 9), Severity.CRITICAL)
        case.evaluate_service_clocks(*evaluation(local(3, 2, 10, 30)))
        case.wait_on_customer(
            ctx(local(3, 2, 10, 45), occurred_at=local(3, 2, 9, 40)), cmd.WaitOnCustomer("Asked")
        )
        mapper: Mapper[Any] = Mapper(transcoder=cases_transcoder())
        stored = [mapper.to_stored_event(e) for e in case.collect_events()]
        replayed = project_aggregate(None, [mapper.to_domain_event(s) for s in stored])
        assert replayed == case
        assert replayed is not None
        assert replayed.clock(FIRST).breached_at is None


def recorded_before_adr_33(events: list[Any], **changes: Any) -> SupportCase:
    """The case as a store written before ADR 33 holds it: `events` without the
    breaches it did not record (`drop_breaches`), with the other fields given
    (`deadline`, `within_target`) on the facts that have them, renumbered, and
    replayed."""
    drop = changes.pop("drop_breaches", False)
    kept = [e for e in events if not (drop and isinstance(e, SupportCase.ServiceClockBreached))]
    old = []
    for version, event in enumerate(kept, start=1):
        fields = {k: v for k, v in changes.items() if hasattr(event, k) and event.clock is FIRST}
        old.append(dataclasses.replace(event, originator_version=version, **fields))
    case = project_aggregate(None, old)
    assert case is not None
    return case


class TestFactsRecordedBeforeAdr33:
    """Old facts replay to the state they had and their verdicts stand; the new
    rules judge what old clocks do from now on."""

    def test_an_old_deadline_in_the_lunch_break_breaches_after_it(self) -> None:
        """Received 08:00, 4h: recorded then as due at 12:00 (the moment the
        target was spent); judged now, the breach comes only after 13:00."""
        new = receive(local(3, 2, 8))
        case = recorded_before_adr_33(new.collect_events(), deadline=local(3, 2, 12))
        assert case.clock(FIRST).deadline == local(3, 2, 12)  # replayed as recorded
        assert case.evaluate_service_clocks(*evaluation(local(3, 2, 12, 30))) == 0
        assert case.evaluate_service_clocks(*evaluation(local(3, 2, 13, 30))) == 1
        assert case.clock(FIRST).breached_at == local(3, 2, 13)

    def test_an_unfinished_clock_retargeted_below_its_spent_time_is_breached_next(
        self,
    ) -> None:
        """Paused after 2h, made critical at 11:30, no breach recorded then: the
        next command on the case records it, at the re-target."""
        new = receive(local(3, 2, 9))
        new.wait_on_customer(ctx(local(3, 2, 11)), cmd.WaitOnCustomer("Asked for logs"))
        new.change_severity(
            ctx(local(3, 2, 11, 30)), cmd.ChangeSeverity(Severity.CRITICAL, "Worse")
        )
        case = recorded_before_adr_33(new.collect_events(), drop_breaches=True)
        assert case.clock(FIRST).breached_at is None
        case.add_note(ctx(local(3, 2, 12)), cmd.AddNote("Customer travelling"))
        [breach] = facts(case, "ServiceClockBreached")
        assert (breach.clock, breach.at) == (FIRST, local(3, 2, 11, 30))

    def test_an_old_within_target_verdict_stands(self) -> None:
        """The same clock answered before ADR 33: "within target" is kept."""
        new = receive(local(3, 2, 9))
        new.wait_on_customer(ctx(local(3, 2, 11)), cmd.WaitOnCustomer("Asked for logs"))
        new.change_severity(
            ctx(local(3, 2, 11, 30)), cmd.ChangeSeverity(Severity.CRITICAL, "Worse")
        )
        reply(new, local(3, 2, 14))
        case = recorded_before_adr_33(new.collect_events(), drop_breaches=True, within_target=True)
        assert (case.clock(FIRST).fulfilled, case.clock(FIRST).breached_at) == (True, None)
        case.add_note(ctx(local(3, 2, 15)), cmd.AddNote("Customer travelling"))
        assert [f.clock for f in facts(case, "ServiceClockBreached")] == []


class TestVendorClock:
    def test_runs_from_escalation_to_hand_back_and_ignores_waiting_on_the_customer(self) -> None:
        """Escalated Monday 10:00 with a 24h vendor target; the customer wait does not
        pause it; handed back Tuesday 10:00: 6h + 2h = 8h."""
        case = receive(local(3, 2, 9))
        case.check_service_health(ctx(local(3, 2, 9, 30)), cmd.CheckServiceHealth(None))
        case.escalate(
            ctx(local(3, 2, 10)),
            cmd.Escalate(
                target=EscalationTarget.VENDOR,
                category=EscalationCategory.SERVICE_DEFECT,
                vehicle=EscalationVehicle.ADVANCED_SUPPORT_FOR_PARTNERS,
                reason="Transport rules ignored",
            ),
            paths=paths(),
        )
        started = facts(case, "ServiceClockStarted")[-1]
        assert (started.clock, started.number, started.since_received) == (VENDOR, 1, hours(1))
        assert started.deadline == local(3, 5, 10)  # 24h: Mon 6h, Tue 8h, Wed 8h, Thu 2h
        case.wait_on_customer(ctx(local(3, 2, 11)), cmd.WaitOnCustomer("Waiting for a test window"))
        assert case.clock(VENDOR, 1).is_running
        case.record_hand_back(ctx(local(3, 3, 10)), cmd.RecordHandBack("Fix deployed"))
        [fulfilled] = facts(case, "ServiceClockFulfilled")
        assert (fulfilled.clock, fulfilled.elapsed, fulfilled.within_target) == (
            VENDOR,
            hours(8),
            True,
        )


class TestReopen:
    def test_resumes_the_resolution_clock_and_starts_a_next_update(self) -> None:
        """Resolved Monday 12:00 after 3h; reopened Tuesday 09:00: 37h remain: 7h on
        Tuesday, 8h Wednesday to Friday, then 6h on Monday 9 March: due 15:00."""
        case = receive(local(3, 2, 9))
        case.check_service_health(ctx(local(3, 2, 9, 30)), cmd.CheckServiceHealth(None))
        case.resolve(ctx(local(3, 2, 12)), cmd.Resolve(ResolutionCode.FIXED_BY_PARTNER, "Fixed"))
        case.collect_events()
        case.reopen(ctx(local(3, 3, 9)), cmd.Reopen("Back again"))
        [resumed] = facts_of(case, "ServiceClockResumed")
        assert (resumed.clock, resumed.deadline) == (RESOLUTION, local(3, 9, 15))
        started = [e for e in case.pending_events if type(e).__name__ == "ServiceClockStarted"]
        assert [(s.clock, s.number) for s in started] == [(NEXT, 1)]


def test_a_case_replays_to_the_same_clocks() -> None:
    """Applying the recorded facts again, without the calendar, gives the same clocks."""
    case = receive(local(3, 2, 9))
    reply(case, local(3, 2, 10))
    case.wait_on_customer(ctx(local(3, 2, 10)), cmd.WaitOnCustomer("Asked"))
    case.change_severity(ctx(local(3, 2, 11)), cmd.ChangeSeverity(Severity.CRITICAL, "Worse"))
    events = case.collect_events()
    copy = None
    for event in events:
        copy = event.mutate(copy)
    assert copy is not None
    assert copy.clocks == case.clocks
