"""Auditor replay: each event with the changes it made, computed by applying the
events one at a time; cut off at a version or a recorded moment."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from cases.application.caller import Caller
from cases.application.replay import Change, Replayer, ReplayStep, diff, state_of
from cases.bootstrap import Services, services_on
from cases.clock import ManualClock
from cases.domain import billing_commands as bcmd
from cases.domain import case_commands as cmd
from cases.domain import errors
from cases.domain.billing_account import BillingAccount
from cases.domain.billing_values import AccessState, BillingPeriod, InvoiceLine, InvoicePeriod
from cases.domain.case_values import (
    CaseStatus,
    EscalationCategory,
    EscalationTarget,
    ResolutionCode,
)
from cases.domain.collection_policy import CollectionStage, CollectionTerms, StageAction
from cases.domain.metadata import Actor, Role, Source
from cases.domain.money import Money, UnitPrice
from cases.domain.service_clocks import ClockKind
from cases.domain.support_case import SupportCase
from cases.domain.support_terms import EscalationVehicle
from cases.persistence.event_log import EventLog
from tests.support.builders import T0, caller, intake, terms, vendor_round_trip

BEA = Actor("billing-bea", Role.BILLING_ADMIN)
RUN = Actor("collection-run", Role.SYSTEM)
DUE = date(2026, 4, 1)  # net 30 from 2 March


def eur(amount: str | int) -> Money:
    return Money.of(amount, "EUR")


def billing() -> Caller:
    return Caller.new(BEA, Source.API)


def after_due(days: int) -> datetime:
    return datetime.combine(DUE + timedelta(days=days), datetime.min.time(), UTC).replace(hour=6)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def services(clock: ManualClock) -> Iterator[Services]:
    services = services_on(EventLog({"PERSISTENCE_MODULE": "eventsourcing.popo"}), clock)
    try:
        yield services
    finally:
        services.close()


@pytest.fixture
def replayer(services: Services) -> Replayer:
    return Replayer(services.runner)


def changes(step: ReplayStep) -> dict[str, tuple[object, object]]:
    return {c.path: (c.before, c.after) for c in step.changes}


def own_steps(steps: Sequence[ReplayStep]) -> list[ReplayStep]:
    """The steps of the case's own events, without its service-level clock facts."""
    return [s for s in steps if ".ServiceClock" not in s.entry.event_type]


@dataclass
class CaseStory:
    case_id: UUID
    recorded: list[datetime]  # when each version was recorded, from version 1


@pytest.fixture
def case_story(services: Services, clock: ManualClock) -> CaseStory:
    """Received, health checked, escalated, referenced, handed back, resolved,
    closed and reopened: versions 1 to 8, ten minutes apart."""
    desk, who = services.desk, caller()
    desk.publish_terms(who, terms(), effective_from=T0)
    recorded = []

    def tick() -> None:
        clock.advance(timedelta(minutes=10))
        recorded.append(clock.now())

    tick()
    case_id = desk.receive_case(who, cmd.TakeIn(received_at=clock.now(), **intake())).aggregate_id
    for command in vendor_round_trip():
        tick()
        desk.handle(who, case_id, command)
    return CaseStory(case_id, recorded)


@pytest.fixture
def account_id(services: Services, clock: ManualClock) -> UUID:
    """A 1 000 EUR invoice due 1 April, and a second of 500 EUR; collection at +1
    and at +30 (final warning, suspension); 400 EUR paid after the suspension,
    then the 600 EUR rest."""
    office = services.billing
    office.publish_collection_policy(
        billing(),
        CollectionTerms(
            stages=(
                CollectionStage(1, StageAction.OVERDUE_REMINDER),
                CollectionStage(14, StageAction.FINAL_WARNING),
                CollectionStage(30, StageAction.SUSPEND_ACCESS),
            )
        ),
    )
    account_id = office.open_account(
        billing(),
        bcmd.OpenAccount(
            customer_id="contoso", currency="EUR", net_days=30, billing_period=BillingPeriod.MONTHLY
        ),
    ).aggregate_id
    office.handle(
        billing(),
        account_id,
        bcmd.AddSubscription(subscription_id="m365", product="Microsoft 365", quantity=25),
    )
    for number, price, issued in (("F-2001", 40, date(2026, 3, 2)), ("F-2002", 20, DUE)):
        clock.set(datetime.combine(issued, datetime.min.time(), UTC).replace(hour=12))
        office.handle(
            billing(),
            account_id,
            bcmd.IssueInvoice(
                number=number,
                period=InvoicePeriod(issued, issued + timedelta(days=29)),
                lines=(
                    InvoiceLine(
                        "Microsoft 365 E3, 25 seats", Decimal(25), UnitPrice.of(price, "EUR")
                    ),
                ),
                issued_on=issued,
            ),
        )
    scheduler = Caller.new(RUN, Source.SCHEDULER)
    for days in (1, 30):
        clock.set(after_due(days))
        office.evaluate(scheduler, account_id, after_due(days))
    clock.set(after_due(31))
    for reference, amount in (("B-1", 400), ("B-2", 600)):
        office.handle(
            billing(),
            account_id,
            bcmd.ReceivePayment(
                reference=reference, amount=eur(amount), received_on=DUE + timedelta(days=31)
            ),
        )
    return account_id


class TestCaseReplay:
    def test_every_event_is_a_step_with_its_metadata(
        self, replayer: Replayer, case_story: CaseStory
    ) -> None:
        """One step per recorded event, in order, with who, when and a summary."""
        steps = replayer.replay(SupportCase, case_story.case_id)
        assert [s.entry.version for s in steps] == list(range(1, len(steps) + 1))
        own = own_steps(steps)
        assert [s.entry.recorded_at for s in own] == case_story.recorded
        assert steps[0].entry.meta.actor == Actor("agent-anna", Role.HELPDESK_AGENT)
        assert own[7].summary == "Reopened: Delays are back"

    def test_clock_facts_are_steps_that_change_the_clocks(
        self, replayer: Replayer, case_story: CaseStory
    ) -> None:
        """Intake starts the first-response and resolution clocks; the hand-back
        fulfils the vendor clock; each fact is a readable step."""
        steps = replayer.replay(SupportCase, case_story.case_id)
        started = list(steps[1:3])
        assert [s.entry.event_type for s in started] == ["SupportCase.ServiceClockStarted"] * 2
        assert started[0].summary.startswith("Started the first response clock at 2026-")
        assert changes(started[1])["clocks[resolution-1].kind"] == (None, ClockKind.RESOLUTION)
        assert "clocks[first_response-1].kind" not in changes(started[1])
        clock_paths = {
            p.split("]")[0] for s in steps for p in changes(s) if p.startswith("clocks[")
        }
        assert {"clocks[first_response-1", "clocks[resolution-1", "clocks[vendor-1"} <= clock_paths
        assert all(not p.removeprefix("clocks[").isdigit() for p in clock_paths)
        fulfilled = next(s for s in steps if s.entry.event_type.endswith("ServiceClockFulfilled"))
        assert fulfilled.summary.startswith("Fulfilled the vendor clock 1 at ")
        assert "(within target)" in fulfilled.summary

    def test_intake_sets_the_fields_it_brings_and_nothing_of_the_library(
        self, replayer: Replayer, case_story: CaseStory
    ) -> None:
        """The first step lists what the case starts with; empty values and the
        library's bookkeeping (`_version`, `_id`, ...) are left out."""
        received = changes(replayer.replay(SupportCase, case_story.case_id)[0])
        assert received["customer_id"] == (None, "contoso")
        assert received["contact.name"] == (None, "Karin Lund")
        assert received["status"] == (None, CaseStatus.NEW)
        assert received["reopen_count"] == (None, 0)
        assert "assignee" not in received
        assert "escalations" not in received
        assert not any(path.startswith("_") for path in received)

    def test_escalation_reference_and_hand_back_name_the_escalation_by_number(
        self, replayer: Replayer, case_story: CaseStory
    ) -> None:
        """An escalation appears field by field under its number; later events
        change only the fields they touch."""
        steps = own_steps(replayer.replay(SupportCase, case_story.case_id))
        escalated, referenced, handed_back = (changes(s) for s in steps[2:5])
        at = case_story.recorded
        assert escalated == {
            "escalations[1].number": (None, 1),
            "escalations[1].target": (None, EscalationTarget.VENDOR),
            "escalations[1].category": (None, EscalationCategory.SERVICE_DEFECT),
            "escalations[1].vehicle": (None, EscalationVehicle.ADVANCED_SUPPORT_FOR_PARTNERS),
            "escalations[1].reason": (None, "Queue grows with a healthy connector"),
            "escalations[1].escalated_at": (None, at[2]),
            "escalations[1].vendor_request": (None, False),
            "escalations[1].vendor_notes": (None, 0),
            "status": (CaseStatus.IN_PROGRESS, CaseStatus.ESCALATED),
        }
        assert referenced == {"escalations[1].vendor_reference": (None, "2611080040012345")}
        assert handed_back == {
            "escalations[1].handed_back_at": (None, at[4]),
            "escalations[1].hand_back_summary": (None, "Fix deployed"),
            "status": (CaseStatus.ESCALATED, CaseStatus.IN_PROGRESS),
        }

    def test_resolve_close_and_reopen(self, replayer: Replayer, case_story: CaseStory) -> None:
        """Resolving sets the resolution, closing the close, reopening clears both."""
        steps = own_steps(replayer.replay(SupportCase, case_story.case_id))
        resolved, closed, reopened = (changes(s) for s in steps[5:8])
        at = case_story.recorded
        assert resolved == {
            "resolution.code": (None, ResolutionCode.FIXED_BY_VENDOR),
            "resolution.summary": (None, "Fixed upstream"),
            "resolution.resolved_at": (None, at[5]),
            "status": (CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED),
        }
        assert closed == {
            "closed_at": (None, at[6]),
            "status": (CaseStatus.RESOLVED, CaseStatus.CLOSED),
        }
        assert reopened == {
            "resolution.code": (ResolutionCode.FIXED_BY_VENDOR, None),
            "resolution.summary": ("Fixed upstream", None),
            "resolution.resolved_at": (at[5], None),
            "closed_at": (at[6], None),
            "reopen_count": (0, 1),
            "status": (CaseStatus.CLOSED, CaseStatus.IN_PROGRESS),
        }

    def test_the_replayed_state_is_the_loaded_state(
        self, services: Services, replayer: Replayer, case_story: CaseStory
    ) -> None:
        """Applying the events one at a time ends where loading the case does."""
        replay = replayer.run(SupportCase, case_story.case_id)
        loaded = services.desk.case(case_story.case_id)
        assert state_of(replay.state) == state_of(loaded)
        assert replay.latest_version == loaded.version


class TestAccountReplay:
    def test_invoices_are_keyed_by_number_and_money_compared_whole(
        self, replayer: Replayer, account_id: UUID
    ) -> None:
        """Issuing an invoice adds it under its number; the totals move in money."""
        steps = replayer.replay(BillingAccount, account_id)
        issued = changes(steps[2])
        assert issued["invoices[F-2001].total"] == (None, eur(1000))
        assert issued["invoices[F-2001].lines[0].quantity"] == (None, Decimal(25))
        assert issued["invoices[F-2001].settled"] == (None, eur(0))
        assert issued["charged"] == (eur(0), eur(1000))
        assert issued["balance"] == (eur(0), eur(1000))
        second = changes(steps[3])
        assert not any("F-2001" in path for path in second)
        assert second["balance"] == (eur(1000), eur(1500))

    def test_collection_suspends_and_a_partial_payment_changes_only_money(
        self, replayer: Replayer, account_id: UUID
    ) -> None:
        """The +30 stage suspends the subscription; 400 EUR settles part of the
        oldest invoice and leaves the suspension."""
        steps = replayer.replay(BillingAccount, account_id)
        [suspended] = [s for s in steps if s.entry.event_type.endswith(".AccessSuspended")]
        assert changes(suspended) == {
            "subscriptions[m365].access": (AccessState.ACTIVE, AccessState.SUSPENDED),
            "subscriptions[m365].suspended_at_days": (None, 30),
        }
        partial, rest, reinstated = steps[-3:]
        assert changes(partial) == {
            "invoices[F-2001].settled": (eur(0), eur(400)),
            "paid": (eur(0), eur(400)),
            "payment_references[0]": (None, "B-1"),
            "balance": (eur(1500), eur(1100)),
        }
        assert changes(rest) == {
            "invoices[F-2001].settled": (eur(400), eur(1000)),
            "paid": (eur(400), eur(1000)),
            "payment_references[1]": (None, "B-2"),
            "balance": (eur(1100), eur(500)),
        }
        assert changes(reinstated) == {
            "subscriptions[m365].access": (AccessState.SUSPENDED, AccessState.ACTIVE),
            "subscriptions[m365].suspended_at_days": (30, None),
        }
        assert reinstated.entry.meta.correlation_id == rest.entry.meta.correlation_id

    def test_a_reminder_changes_nothing(self, replayer: Replayer, account_id: UUID) -> None:
        """A reminder is recorded but changes no state: a step with no changes."""
        reminders = [
            s
            for s in replayer.replay(BillingAccount, account_id)
            if s.entry.event_type == "BillingAccount.ReminderSent"
        ]
        assert len(reminders) == 2
        assert all(r.changes == () for r in reminders)


class TestCutOffs:
    def test_version_stops_after_that_version(
        self, replayer: Replayer, case_story: CaseStory
    ) -> None:
        """The version of the escalation replays up to it and ends escalated."""
        own = own_steps(replayer.replay(SupportCase, case_story.case_id))
        escalated = own[2].entry.version
        replay = replayer.run(SupportCase, case_story.case_id, version=escalated)
        assert [s.entry.version for s in replay.steps] == list(range(1, escalated + 1))
        assert replay.state.status is CaseStatus.ESCALATED
        assert replay.latest_version > escalated

    def test_as_of_stops_after_the_last_event_recorded_by_then(
        self, replayer: Replayer, case_story: CaseStory
    ) -> None:
        """A moment between two recordings stops after the earlier; one equal to a
        recording includes it."""
        at = case_story.recorded
        steps = replayer.replay(SupportCase, case_story.case_id)
        by_then = [s.entry.version for s in steps if s.entry.recorded_at <= at[4]]
        between = replayer.replay(
            SupportCase, case_story.case_id, as_of=at[5] - timedelta(seconds=1)
        )
        assert [s.entry.version for s in between] == by_then
        exactly = replayer.replay(SupportCase, case_story.case_id, as_of=at[5])
        assert exactly[-1].entry.version == max(
            s.entry.version for s in steps if s.entry.recorded_at <= at[5]
        )
        assert exactly[-1].entry.event_type.endswith("ServiceClockStopped")

    def test_version_and_as_of_together_take_the_earlier(
        self, replayer: Replayer, case_story: CaseStory
    ) -> None:
        """Given both, the replay stops at whichever comes first."""
        at = case_story.recorded
        steps = replayer.replay(SupportCase, case_story.case_id, version=2, as_of=at[6])
        assert [s.entry.version for s in steps] == [1, 2]

    def test_refuses_unknown_ids_versions_and_moments(
        self, replayer: Replayer, case_story: CaseStory, account_id: UUID
    ) -> None:
        """Unknown ids, another kind's id, versions out of range and moments before
        the first recording are refused as not found; a moment without a zone as
        invalid."""
        case_id = case_story.case_id
        with pytest.raises(errors.NotFoundError, match="no support case has the id"):
            replayer.replay(SupportCase, uuid4())
        with pytest.raises(errors.NotFoundError):
            replayer.replay(SupportCase, account_id)
        latest = len(replayer.replay(SupportCase, case_id))
        with pytest.raises(errors.NotFoundError, match=f"versions run from 1 to {latest}"):
            replayer.replay(SupportCase, case_id, version=latest + 1)
        with pytest.raises(errors.NotFoundError, match=f"versions run from 1 to {latest}"):
            replayer.replay(SupportCase, case_id, version=0)
        with pytest.raises(errors.NotFoundError, match="not yet recorded"):
            replayer.replay(SupportCase, case_id, as_of=case_story.recorded[0] - timedelta(1))
        with pytest.raises(errors.InvalidValueError):
            replayer.replay(SupportCase, case_id, as_of=datetime(2026, 3, 2, 9, 0))  # noqa: DTZ001


class TestDiff:
    def test_tuples_without_a_natural_key_go_by_position(self) -> None:
        """Elements without a `number` are compared by index."""
        assert diff(("a",), ("a", "b"), "findings") == [Change("findings[1]", None, "b")]

    def test_dicts_go_by_key_and_removals_are_listed(self) -> None:
        """A key that disappears is a change to nothing."""
        assert diff({"x": 1, "y": 2}, {"x": 1}, "d") == [Change("d[y]", 2, None)]

    def test_a_value_of_another_type_is_one_change(self) -> None:
        """A value replaced by one of another type is reported whole."""
        assert diff(eur(1), "one", "v") == [Change("v", eur(1), "one")]

    def test_empty_collections_and_nothing_are_the_same(self) -> None:
        """An empty tuple where there was nothing is no change."""
        assert diff(None, (), "escalations") == []
        assert diff({}, None, "invoices") == []
