"""When facts may be said to have happened (ADR 32): a case's steps keep their
order, acts are logged late only within the allowance, customers never date
their acts, invoices and payments fall within the account's history; with no
database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.domain import Snapshot

from cases.domain import billing_commands as bcmd
from cases.domain import case_commands as cmd
from cases.domain import errors
from cases.domain.billing_account import CARRY_OVER_DAYS, BillingAccount
from cases.domain.billing_values import BillingPeriod
from cases.domain.case_values import (
    Direction,
    EscalationCategory,
    EscalationTarget,
    ResolutionCode,
)
from cases.domain.metadata import Actor, Role
from cases.domain.support_case import SupportCase
from cases.domain.support_terms import Channel, EscalationVehicle
from tests.support.builders import T0, ctx, intake, paths, published
from tests.unit.domain import billing_scenario as billing
from tests.unit.domain.case_scenario import (
    at,
    given,
    health_checked,
    received,
    then_events,
    then_refused,
)

IMPORT = Actor("svc-import", Role.SYSTEM)
CUSTOMER = Actor("karin", Role.CUSTOMER)
ALLOWANCE = timedelta(hours=72)


def resolved(case: SupportCase) -> None:
    case.resolve(ctx(at(30)), cmd.Resolve(ResolutionCode.FIXED_BY_PARTNER, "Connector re-created"))


def closed(case: SupportCase) -> None:
    case.close(ctx(at(40)))


def waiting(case: SupportCase) -> None:
    case.wait_on_customer(ctx(at(20)), cmd.WaitOnCustomer("Need a message trace"))


def escalate(case: SupportCase, minute: int) -> None:
    case.escalate(
        ctx(at(minute)),
        cmd.Escalate(
            target=EscalationTarget.VENDOR,
            category=EscalationCategory.SERVICE_DEFECT,
            vehicle=EscalationVehicle.ADVANCED_SUPPORT_FOR_PARTNERS,
            reason="Transport rules ignored for one tenant only",
        ),
        paths=paths(),
    )


def escalated(case: SupportCase) -> None:
    escalate(case, minute=20)


class TestStepsKeepTheirOrder:
    def test_a_close_cannot_precede_its_resolution(self) -> None:
        """Closing, dated before the resolution it closes, is refused."""
        case = given(received(), health_checked, resolved)
        error = then_refused(
            case,
            lambda c: c.close(ctx(at(45), occurred_at=at(25))),
            errors.OccurredBeforePreviousStepError,
        )
        assert at(30).isoformat() in error.message

    def test_a_close_thirty_days_before_its_resolution_is_refused(self) -> None:
        """The case seen in issue 13: closed a month before it was resolved."""
        case = given(received(), health_checked, resolved)
        then_refused(
            case,
            lambda c: c.close(ctx(at(45), occurred_at=at(30) - timedelta(days=30))),
            errors.OccurredBeforeReceiptError,
        )

    def test_a_close_at_the_moment_of_resolution_is_in_order(self) -> None:
        """Not before is not strictly after: the same moment is in order."""
        case = given(received(), health_checked, resolved)
        [event] = then_events(case, lambda c: c.close(ctx(at(45), occurred_at=at(30))))
        assert isinstance(event, SupportCase.Closed)
        assert case.closed_at == at(30)

    def test_a_reopening_cannot_precede_the_close(self) -> None:
        case = given(received(), health_checked, resolved, closed)
        then_refused(
            case,
            lambda c: c.reopen(ctx(at(50), occurred_at=at(35)), cmd.Reopen("Came back")),
            errors.OccurredBeforePreviousStepError,
        )

    def test_a_wait_cannot_end_before_it_began(self) -> None:
        case = given(received(), waiting)
        then_refused(
            case,
            lambda c: c.stop_waiting_on_customer(
                ctx(at(30), occurred_at=at(15)), cmd.StopWaitingOnCustomer("x")
            ),
            errors.OccurredBeforePreviousStepError,
        )

    def test_a_reply_cannot_be_dated_before_the_wait_it_would_end(self) -> None:
        """An inbound message ends a wait; dated before the wait, it would end it
        before it began."""
        case = given(received(), waiting)
        then_refused(
            case,
            lambda c: c.record_communication(
                ctx(at(30), occurred_at=at(15)),
                cmd.RecordCommunication(Direction.INBOUND, Channel.EMAIL, "Trace"),
            ),
            errors.OccurredBeforePreviousStepError,
        )

    def test_an_escalation_cannot_precede_the_service_health_check(self) -> None:
        case = given(
            received(), lambda c: c.check_service_health(ctx(at(10)), cmd.CheckServiceHealth(None))
        )
        then_refused(case, lambda c: escalate(c, minute=5), errors.OccurredBeforePreviousStepError)

    def test_vendor_news_cannot_precede_the_escalation(self) -> None:
        case = given(received(), health_checked, escalated)
        then_refused(
            case,
            lambda c: c.record_hand_back(
                ctx(at(30), occurred_at=at(10)), cmd.RecordHandBack("Fixed")
            ),
            errors.OccurredBeforePreviousStepError,
        )

    def test_an_annotation_may_not_precede_the_step_it_follows(self) -> None:
        """A note dated before the service-health check it follows is refused."""
        case = given(
            received(), lambda c: c.check_service_health(ctx(at(10)), cmd.CheckServiceHealth(None))
        )
        then_refused(
            case,
            lambda c: c.add_note(ctx(at(20), occurred_at=at(5)), cmd.AddNote("Tried a restart")),
            errors.OccurredBeforePreviousStepError,
        )

    def test_annotations_do_not_hold_back_a_call_logged_late(self) -> None:
        """Notes, diagnoses and assignments set no course: a call made before them
        and logged after them is recorded when it happened."""
        case = given(
            received(),
            health_checked,
            lambda c: c.record_diagnosis(
                ctx(at(15)), cmd.RecordDiagnosis("Connector misconfigured")
            ),
            lambda c: c.add_note(ctx(at(20)), cmd.AddNote("Asked a colleague")),
            lambda c: c.assign(ctx(at(21)), cmd.Assign("agent-bo")),
        )
        then_events(
            case,
            lambda c: c.record_communication(
                ctx(at(25), occurred_at=at(5)),
                cmd.RecordCommunication(Direction.OUTBOUND, Channel.PHONE, "Called"),
            ),
        )
        assert case.first_response_at == at(5)

    def test_a_call_logged_late_cannot_precede_a_later_call(self) -> None:
        """Communications move the clocks, so they keep their order."""
        case = given(
            received(),
            lambda c: c.record_communication(
                ctx(at(20)),
                cmd.RecordCommunication(Direction.OUTBOUND, Channel.EMAIL, "Looking into it"),
            ),
        )
        then_refused(
            case,
            lambda c: c.record_communication(
                ctx(at(25), occurred_at=at(5)),
                cmd.RecordCommunication(Direction.OUTBOUND, Channel.PHONE, "Called"),
            ),
            errors.OccurredBeforePreviousStepError,
        )

    def test_the_state_refuses_before_the_order(self) -> None:
        """A closed case says it is closed, whatever the act's date."""
        case = given(received(), health_checked, resolved, closed)
        then_refused(
            case,
            lambda c: c.add_note(ctx(at(50), occurred_at=at(35)), cmd.AddNote("x")),
            errors.CaseClosedError,
        )

    def test_stored_steps_out_of_order_still_replay(self) -> None:
        """Rules refuse new commands; events recorded before them replay as they
        are, the latest step being the latest moment among them."""
        case = received()
        health_checked(case)
        resolved(case)
        case._record(SupportCase.Closed, ctx(at(45), occurred_at=at(25)))  # as before ADR 32
        replayed = _replay(list(case.collect_events()))
        assert replayed.closed_at == at(25)
        then_refused(
            replayed, lambda c: c.reopen(ctx(at(50), occurred_at=at(28)), cmd.Reopen("x")),
            errors.OccurredBeforePreviousStepError,
        )  # fmt: skip


class TestReopenWindow:
    def test_a_late_reopening_cannot_be_dated_back_into_the_window(self) -> None:
        """The window is judged when the reopening is recorded."""
        case = given(received(), health_checked, resolved, closed)
        recorded = at(40) + timedelta(days=14, hours=1)
        error = then_refused(
            case,
            lambda c: c.reopen(
                ctx(recorded, occurred_at=recorded - timedelta(hours=2)), cmd.Reopen("Back")
            ),
            errors.ReopenWindowExpiredError,
        )
        assert "14 days" in error.message

    def test_a_reopening_recorded_within_the_window_is_taken(self) -> None:
        case = given(received(), health_checked, resolved, closed)
        recorded = at(40) + timedelta(days=14)
        occurred = recorded - timedelta(hours=1)
        then_events(
            case, lambda c: c.reopen(ctx(recorded, occurred_at=occurred), cmd.Reopen("Back"))
        )
        assert case.reopen_count == 1

    def test_an_import_of_history_is_judged_when_the_reopening_happened(self) -> None:
        """The system, recording history late, reopens as it happened then."""
        case = given(received(), health_checked, resolved, closed)
        then_events(
            case,
            lambda c: c.reopen(
                ctx(at(40) + timedelta(days=60), actor=IMPORT, occurred_at=at(41)),
                cmd.Reopen("Back"),
            ),
        )
        assert case.reopen_count == 1


class TestBackdatingAllowance:
    def test_staff_log_an_act_late_within_the_allowance(self) -> None:
        """Up to and including the allowance."""
        case = given(received())
        recorded = at(5) + ALLOWANCE
        [event] = then_events(
            case, lambda c: c.add_note(ctx(recorded, occurred_at=at(5)), cmd.AddNote("x"))
        )
        assert event.meta.occurred_at == at(5)

    def test_staff_cannot_date_an_act_further_back(self) -> None:
        case = given(received())
        recorded = at(5) + ALLOWANCE + timedelta(seconds=1)
        error = then_refused(
            case,
            lambda c: c.add_note(ctx(recorded, occurred_at=at(5)), cmd.AddNote("x")),
            errors.BackdatedBeyondAllowanceError,
        )
        assert "occurred_at" in error.message
        assert "3.0 days" in error.message

    def test_the_allowance_is_the_contexts(self) -> None:
        """The process's setting arrives with the command's context."""
        case = given(received())
        strict = replace(ctx(at(120), occurred_at=at(5)), backdating_allowance=timedelta(hours=1))
        then_refused(
            case,
            lambda c: c.add_note(strict, cmd.AddNote("x")),
            errors.BackdatedBeyondAllowanceError,
        )

    def test_the_system_records_history_further_back(self) -> None:
        """An import of history may date acts as far back as they happened."""
        case = given(received())
        recorded = at(5) + timedelta(days=400)
        [event] = then_events(
            case,
            lambda c: c.add_note(ctx(recorded, actor=IMPORT, occurred_at=at(5)), cmd.AddNote("x")),
        )
        assert event.meta.occurred_at == at(5)

    def test_a_request_cannot_be_said_received_beyond_the_allowance(self) -> None:
        """The case seen in issue 13: received 30 days back breaches every clock at intake."""
        with pytest.raises(errors.BackdatedBeyondAllowanceError, match="received_at"):
            receive(ctx(T0), received_at=T0 - timedelta(days=30))

    def test_a_request_received_within_the_allowance_is_taken(self) -> None:
        case = receive(ctx(T0), received_at=T0 - ALLOWANCE)
        assert case.received_at == T0 - ALLOWANCE

    def test_the_system_imports_old_requests(self) -> None:
        case = receive(ctx(T0, actor=IMPORT), received_at=T0 - timedelta(days=30))
        assert case.received_at == T0 - timedelta(days=30)

    def test_billing_acts_keep_the_allowance_too(self) -> None:
        """Every aggregate's acts obey it, not only a case's."""
        account = billing.given(billing.opened())
        late = replace(billing.ctx(billing.T0 + timedelta(days=5)), occurred_at=billing.T0)
        billing.then_refused(
            account,
            lambda a: a.add_subscription(
                late, bcmd.AddSubscription(subscription_id="s", product="Azure", quantity=1)
            ),
            errors.BackdatedBeyondAllowanceError,
        )


class TestCustomersDateNothing:
    def test_a_customers_request_is_received_when_recorded(self) -> None:
        case = receive(ctx(T0, actor=CUSTOMER), received_at=None)
        assert case.received_at == T0

    def test_a_customer_cannot_say_when_a_request_arrived(self) -> None:
        with pytest.raises(errors.CustomerCannotDateActsError):
            receive(ctx(T0, actor=CUSTOMER), received_at=T0 - timedelta(minutes=5))

    def test_a_customer_cannot_date_an_act(self) -> None:
        with pytest.raises(errors.CustomerCannotDateActsError):
            receive(ctx(T0, actor=CUSTOMER, occurred_at=T0 - timedelta(minutes=5)), None)

    def test_staff_intake_without_a_moment_is_received_when_it_happened(self) -> None:
        """No received_at: the request arrived when the intake happened."""
        case = receive(ctx(T0, occurred_at=T0 - timedelta(minutes=3)), received_at=None)
        assert case.received_at == T0 - timedelta(minutes=3)


class TestAccountHistory:
    def test_an_invoice_cannot_be_issued_on_a_day_to_come(self) -> None:
        account = billing.given(billing.opened())
        error = billing.then_refused(
            account,
            lambda a: issue(a, issued_on=billing.OPENED_ON + timedelta(days=1)),
            errors.InvoiceInFutureError,
        )
        assert "still to come" in error.message

    def test_an_invoice_of_today_is_taken(self) -> None:
        account = billing.given(billing.opened())
        [issued] = billing.then_events(account, lambda a: issue(a, issued_on=billing.OPENED_ON))
        assert isinstance(issued, BillingAccount.InvoiceIssued)

    def test_open_items_from_before_the_account_are_carried_over(self) -> None:
        """Up to CARRY_OVER_DAYS before the opening, included."""
        account = billing.given(billing.opened())
        earliest = billing.OPENED_ON - timedelta(days=CARRY_OVER_DAYS)
        billing.then_events(account, lambda a: issue(a, issued_on=earliest))
        billing.then_events(account, lambda a: pay(a, received_on=earliest))
        assert account.paid == billing.eur(100)

    def test_an_invoice_dated_before_the_accounts_history_is_refused(self) -> None:
        account = billing.given(billing.opened())
        too_early = billing.OPENED_ON - timedelta(days=CARRY_OVER_DAYS + 1)
        error = billing.then_refused(
            account, lambda a: issue(a, issued_on=too_early), errors.DatedBeforeAccountHistoryError
        )
        assert str(billing.OPENED_ON) in error.message

    def test_a_payment_dated_before_the_accounts_history_is_refused(self) -> None:
        account = billing.given(billing.opened())
        billing.then_refused(
            account,
            lambda a: pay(a, received_on=date(1, 1, 1)),
            errors.DatedBeforeAccountHistoryError,
        )

    def test_the_history_counts_from_when_the_account_was_opened(self) -> None:
        """An account opened by an import, dated back, carries over from then."""
        opened_at = billing.T0 - timedelta(days=700)
        account = BillingAccount.open(
            ctx(billing.T0, actor=IMPORT, occurred_at=opened_at),
            bcmd.OpenAccount(
                customer_id="contoso",
                currency="EUR",
                net_days=30,
                billing_period=BillingPeriod.MONTHLY,
            ),
        )
        account.collect_events()
        assert account.opened_on == opened_at.date()
        billing.then_events(account, lambda a: issue(a, issued_on=date(2024, 12, 1)))


class TestSnapshotsFromBefore:
    def test_a_case_snapshot_gets_its_latest_step_from_its_state(self) -> None:
        case = given(received(), health_checked, resolved, closed)
        state = _v1_snapshot(case)
        assert state._course_changed_at == at(40)

    def test_an_account_snapshot_was_opened_when_recorded(self) -> None:
        account = billing.given(billing.opened())
        state = _v1_snapshot(account)
        assert state.opened_at == billing.T0


# Helpers ----------------------------------------------------------------------


def receive(command: Any, received_at: Any) -> SupportCase:
    return SupportCase.receive(
        command, cmd.TakeIn(received_at=received_at, **intake()), case_id=uuid4(), terms=published()
    )


def issue(account: BillingAccount, issued_on: date) -> None:
    account.issue_invoice(
        billing.ctx(billing.T0),
        bcmd.IssueInvoice(
            number=f"INV-{issued_on}",
            period=billing.march(),
            lines=(billing.line(100),),
            issued_on=issued_on,
        ),
    )


def pay(account: BillingAccount, received_on: date) -> None:
    account.receive_payment(
        billing.ctx(billing.T0),
        bcmd.ReceivePayment(
            reference=f"BANK-{received_on}", amount=billing.eur(100), received_on=received_on
        ),
    )


def _replay(events: list[Any]) -> SupportCase:
    aggregate: Any = None
    for event in events:
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, SupportCase)
    return aggregate


def _v1_snapshot(aggregate: Any) -> Any:
    """The aggregate restored from a snapshot as taken before ADR 32."""
    snapshot = Snapshot.take(aggregate)
    state = dict(snapshot.state)
    state.pop("class_version")
    state.pop("_course_changed_at", None)
    state.pop("opened_at", None)
    old = Snapshot(
        originator_id=snapshot.originator_id,
        originator_version=snapshot.originator_version,
        timestamp=snapshot.timestamp,
        topic=snapshot.topic,
        state=state,
    )
    return old.mutate(None)
