"""The collection policy and evaluation: every stage, every rule, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import Mapper

from cases.domain import billing_commands as bcmd
from cases.domain import errors
from cases.domain.billing_account import BillingAccount
from cases.domain.billing_values import DisputeOutcome, InvoiceDue, InvoicePeriod
from cases.domain.collection_policy import (
    CollectionPolicy,
    CollectionStage,
    CollectionTerms,
    PublishedPolicy,
    StageAction,
    describe_policy,
)
from cases.history.event_summaries import summarise
from cases.persistence.registry import cases_transcoder
from tests.unit.domain.billing_scenario import (
    DUE,
    DYNAMICS,
    M365,
    OPENED_ON,
    SCHEDULER,
    T0,
    after_due,
    ctx,
    eur,
    evaluated,
    given,
    invoiced,
    kinds,
    march,
    on,
    opened,
    paid,
    standard_policy,
    standard_terms,
    subscribed,
    then_events,
    then_refused,
)

UPCOMING = StageAction.UPCOMING_PAYMENT_REMINDER
OVERDUE = StageAction.OVERDUE_REMINDER
FINAL = StageAction.FINAL_WARNING
SUSPEND = StageAction.SUSPEND_ACCESS


def february() -> InvoicePeriod:
    return InvoicePeriod(date(2026, 2, 1), date(2026, 2, 28))


def account_with_invoice() -> BillingAccount:
    return given(opened(), subscribed(M365, DYNAMICS), invoiced(amount=1000))


def entered(events: list[object]) -> list[int]:
    return [e.stage.days for e in events if isinstance(e, BillingAccount.StageEntered)]


def reminders_of(events: list[object]) -> list[BillingAccount.ReminderSent]:
    return [e for e in events if isinstance(e, BillingAccount.ReminderSent)]


def reminders(events: list[object]) -> list[StageAction]:
    return [e.kind for e in reminders_of(events)]


class TestEachStage:
    @pytest.mark.parametrize(
        ("days", "action", "previous"),
        [
            (-7, UPCOMING, None),
            (1, OVERDUE, -7),
            (7, OVERDUE, 1),
            (14, FINAL, 7),
        ],
    )
    def test_a_notice_stage_is_entered_on_its_day_and_its_notice_sent(
        self, days: int, action: StageAction, previous: int | None
    ) -> None:
        """Each notice stage is entered on its day (not the day before), once."""
        account = account_with_invoice()
        if previous is not None:
            given(account, evaluated(after_due(previous)))
        assert then_events(account, evaluated(after_due(days - 1))) == []
        events = then_events(account, evaluated(after_due(days)))
        assert kinds(events) == ["StageEntered", "ReminderSent"]
        assert events[0].stage.days == days
        assert events[0].invoice_number == "INV-1"
        assert events[0].days_overdue == days
        assert events[1].kind is action
        assert events[1].amount_due == eur(1000)

    def test_the_suspension_stage_suspends_every_subscription_separately(self) -> None:
        """Suspension is recorded per subscription, after the stage itself."""
        account = given(account_with_invoice(), evaluated(after_due(14)))
        assert then_events(account, evaluated(after_due(29))) == []
        events = then_events(account, evaluated(after_due(30)))
        assert kinds(events) == ["StageEntered", "AccessSuspended", "AccessSuspended"]
        assert {e.subscription_id for e in events[1:]} == {"sub-microsoft", "sub-dynamics"}
        assert all(e.stage_days == 30 and e.invoice_number == "INV-1" for e in events[1:])
        assert all(s.is_suspended for s in account.subscriptions.values())

    def test_a_reminder_carries_the_overdue_total_of_every_invoice(self) -> None:
        """A reminder carries the overdue total of every invoice."""
        account = given(
            account_with_invoice(),
            invoiced("INV-2", 250, issued_on=date(2026, 3, 5)),
        )
        events = then_events(account, evaluated(after_due(7)))
        [reminder] = [e for e in events if isinstance(e, BillingAccount.ReminderSent)]
        assert reminder.amount_due == eur(1000)
        assert reminder.overdue_total == eur(1250)


class TestWhatANoticeSays:
    def test_a_notice_lists_every_overdue_invoice_with_its_period(self) -> None:
        """INV-1 (March, due 1 April) and INV-2 (February, due 4 April) are both
        overdue on 8 April; INV-3 (due 1 May) is not, and is not listed."""
        account = given(
            account_with_invoice(),
            invoiced("INV-2", 250, issued_on=date(2026, 3, 5), period=february()),
            invoiced("INV-3", 99, issued_on=date(2026, 4, 1)),
        )
        [reminder] = reminders_of(then_events(account, evaluated(after_due(7))))
        assert reminder.kind is OVERDUE
        assert reminder.period == march()
        assert reminder.overdue_invoices == (
            InvoiceDue("INV-1", march(), DUE, eur(1000)),
            InvoiceDue("INV-2", february(), date(2026, 4, 4), eur(250)),
        )

    def test_an_upcoming_reminder_names_its_invoices_period(self) -> None:
        account = given(opened(), invoiced("INV-2", 250, period=february()))
        [reminder] = reminders_of(then_events(account, evaluated(after_due(-7))))
        assert (reminder.kind, reminder.period) == (UPCOMING, february())
        assert reminder.overdue_invoices == ()

    def test_a_notice_shows_its_period_and_the_overdue_invoices_in_history(self) -> None:
        account = given(account_with_invoice(), invoiced("INV-2", 250, issued_on=date(2026, 3, 5)))
        [reminder] = reminders_of(then_events(account, evaluated(after_due(7))))
        line = summarise("BillingAccount.ReminderSent", vars(reminder))
        assert line == (
            "Sent overdue reminder for invoice INV-1 (period 2026-03-01 to 2026-03-31) "
            "(1000.00 EUR due 2026-04-01; 1250.00 EUR overdue in all; "
            "INV-1 for 2026-03-01 to 2026-03-31, due 2026-04-01: 1000.00 EUR; "
            "INV-2 for 2026-03-01 to 2026-03-31, due 2026-04-04: 250.00 EUR)"
        )

    def test_a_reminder_stored_before_the_invoice_list_reads_back(self) -> None:
        """A version-1 reminder (stored without `period` and `overdue_invoices`)
        is upcast: it names neither, and its summary reads as it always did."""
        [reminder] = reminders_of(then_events(account_with_invoice(), evaluated(after_due(7))))
        transcoder = cases_transcoder()
        mapper: Mapper[Any] = Mapper(transcoder=transcoder)
        stored = mapper.to_stored_event(reminder)
        state = transcoder.decode(stored.state)
        for added in ("period", "overdue_invoices", "class_version"):
            del state[added]
        old = replace(stored, state=transcoder.encode(state))
        read: Any = mapper.to_domain_event(old)
        assert (read.period, read.overdue_invoices) == (None, ())
        assert (read.invoice_number, read.overdue_total) == ("INV-1", eur(1000))
        assert summarise("BillingAccount.ReminderSent", vars(read)) == (
            "Sent overdue reminder for invoice INV-1 "
            "(1000.00 EUR due 2026-04-01; 1000.00 EUR overdue in all)"
        )

    def test_records_the_policy_version_that_governed_each_step(self) -> None:
        """Records the policy version that governed each step."""
        account = account_with_invoice()
        events = then_events(account, evaluated(after_due(30), standard_policy(version=4)))
        assert {e.policy_version for e in events} == {4}

    def test_records_the_scheduler_as_the_actor(self) -> None:
        """Records the scheduler as the actor."""
        account = account_with_invoice()
        [event, *_] = then_events(account, evaluated(after_due(1)))
        assert event.meta.actor == SCHEDULER


class TestCountingFromTheDueDate:
    def test_counts_from_the_due_date_not_the_invoice_date(self) -> None:
        """An invoice issued long ago but due later is not overdue yet."""
        account = given(
            opened(),
            invoiced(issued_on=date(2026, 1, 2), due_on=date(2026, 4, 1)),
        )
        events = then_events(account, evaluated(on(date(2026, 3, 31))))
        assert entered(events) == [-7]
        assert reminders(events) == [UPCOMING]

    def test_counts_days_in_the_accounts_billing_time_zone(self) -> None:
        """23:30 UTC on the due day is already the next day in Stockholm."""
        moment = datetime(2026, 4, 1, 23, 30, tzinfo=UTC)
        in_utc = given(opened(), invoiced(), evaluated(after_due(-1)))
        in_stockholm = given(
            opened(time_zone="Europe/Stockholm"), invoiced(), evaluated(after_due(-1))
        )
        assert entered(then_events(in_utc, evaluated(moment))) == []
        assert entered(then_events(in_stockholm, evaluated(moment))) == [1]

    def test_nothing_to_do_without_an_unpaid_invoice(self) -> None:
        """Nothing to do without an unpaid invoice."""
        account = given(opened(), subscribed(M365), invoiced(), paid(1000, on(OPENED_ON)))
        assert then_events(account, evaluated(after_due(40))) == []


class TestIdempotence:
    def test_evaluating_twice_at_the_same_moment_records_nothing_the_second_time(
        self,
    ) -> None:
        """Evaluating twice at the same moment records nothing the second time."""
        account = account_with_invoice()
        first = then_events(account, evaluated(after_due(30)))
        assert first
        assert then_events(account, evaluated(after_due(30))) == []

    def test_evaluating_at_an_earlier_moment_records_nothing(self) -> None:
        """A late run as of an earlier moment never re-enters or undoes a stage."""
        account = given(account_with_invoice(), evaluated(after_due(30)))
        late_run = ctx(after_due(31), SCHEDULER)
        assert (
            then_events(account, lambda a: a.evaluate(late_run, standard_policy(), after_due(8)))
            == []
        )
        assert all(s.is_suspended for s in account.subscriptions.values())

    def test_refuses_to_evaluate_at_a_moment_still_to_come(self) -> None:
        """Refuses to evaluate at a moment still to come."""
        account = account_with_invoice()
        then_refused(
            account,
            lambda a: a.evaluate(ctx(T0), standard_policy(), T0 + timedelta(seconds=1)),
            errors.EvaluationInFutureError,
        )


class TestCatchingUp:
    def test_enters_every_stage_due_in_order_and_sends_the_latest_notice(self) -> None:
        """A first run at +20 enters -7, +1, +7 and +14; it sends one final warning,
        not four letters at once."""
        account = account_with_invoice()
        events = then_events(account, evaluated(after_due(20)))
        assert entered(events) == [-7, 1, 7, 14]
        assert reminders(events) == [FINAL]

    def test_an_upcoming_payment_reminder_is_not_sent_after_the_due_date(self) -> None:
        """An upcoming payment reminder is not sent after the due date."""
        policy_terms = CollectionTerms(
            stages=(
                CollectionStage(-7, UPCOMING),
                CollectionStage(14, FINAL),
                CollectionStage(30, SUSPEND),
            )
        )
        policy = PublishedPolicy(1, T0, policy_terms, describe_policy(policy_terms))
        account = account_with_invoice()
        events = then_events(account, evaluated(after_due(3), policy))
        assert entered(events) == [-7]
        assert reminders(events) == []


class TestReanchoring:
    def two_invoices(self) -> BillingAccount:
        """INV-1 due 1 April; INV-2 due 21 April."""
        return given(
            opened(),
            subscribed(M365),
            invoiced("INV-1", 1000),
            invoiced("INV-2", 500, issued_on=date(2026, 3, 22)),
        )

    def test_a_partial_payment_that_leaves_the_oldest_unpaid_changes_nothing(self) -> None:
        """A partial payment that leaves the oldest unpaid changes nothing."""
        account = given(self.two_invoices(), evaluated(after_due(7)), paid(400, after_due(8)))
        assert then_events(account, evaluated(after_due(8))) == []

    def test_a_younger_invoice_gets_its_own_upcoming_payment_reminder(self) -> None:
        """INV-2 falls due on 21 April while INV-1 is overdue: on 14 April (-7 of
        INV-2, +13 of INV-1) INV-2 is reminded of its payment, in its own right."""
        account = given(self.two_invoices(), evaluated(after_due(12)))
        events = then_events(account, evaluated(after_due(13)))
        assert entered(events) == [-7]
        assert {e.invoice_number for e in events} == {"INV-2"}
        assert [(e.invoice_number, e.kind) for e in reminders_of(events)] == [("INV-2", UPCOMING)]

    def test_the_anchors_notice_and_a_younger_invoices_reminder_go_out_together(
        self,
    ) -> None:
        """Caught up at +14 of INV-1 (-6 of INV-2): INV-1's final warning, and
        INV-2's upcoming-payment reminder."""
        events = then_events(self.two_invoices(), evaluated(after_due(14)))
        assert [(e.invoice_number, e.kind) for e in reminders_of(events)] == [
            ("INV-1", FINAL),
            ("INV-2", UPCOMING),
        ]

    def test_settling_the_oldest_re_anchors_on_the_next_without_skipping_a_stage(
        self,
    ) -> None:
        """Paying INV-1 at +14 of it moves collection to INV-2, which is at -6 and
        was already reminded: nothing is repeated; at +1 of INV-2 its +1 stage is
        entered, not jumped over."""
        account = given(self.two_invoices(), evaluated(after_due(14)))
        then_events(account, paid(1000, after_due(14), reference="B-2"))
        assert then_events(account, evaluated(after_due(15))) == []
        events = then_events(account, evaluated(after_due(21)))
        assert entered(events) == [1]
        assert events[0].invoice_number == "INV-2"
        assert reminders(events) == [OVERDUE]

    def test_the_new_anchor_enters_every_stage_already_due_in_order(self) -> None:
        """INV-2 already 9 days overdue when INV-1 is settled: +1 and +7 are each
        entered for INV-2, in order (its -7 was entered while it was younger)."""
        account = given(self.two_invoices(), evaluated(after_due(20)))
        given(account, paid(1000, after_due(30), reference="B-2"))
        events = then_events(account, evaluated(after_due(30)))
        assert entered(events) == [1, 7]
        assert {e.invoice_number for e in events} == {"INV-2"}
        assert reminders(events) == [OVERDUE]

    def test_a_younger_invoice_not_yet_reminded_enters_every_stage_on_re_anchoring(
        self,
    ) -> None:
        """No run between INV-2's -7 and its due date: once it is the anchor at
        +9 of it, -7, +1 and +7 are entered in order, and one notice is sent."""
        account = given(self.two_invoices(), evaluated(after_due(5)))
        given(account, paid(1000, after_due(30), reference="B-2"))
        events = then_events(account, evaluated(after_due(30)))
        assert entered(events) == [-7, 1, 7]
        assert reminders(events) == [OVERDUE]

    def test_an_anchor_that_returns_after_a_dispute_repeats_no_reminder(self) -> None:
        """The invoice's stages stay entered while it is disputed."""
        account = given(
            self.two_invoices(),
            evaluated(after_due(14)),
            lambda a: a.open_dispute(ctx(after_due(15)), bcmd.OpenDispute("INV-1", "Seat count")),
            evaluated(after_due(16)),
            lambda a: a.close_dispute(
                ctx(after_due(20)),
                bcmd.CloseDispute("INV-1", DisputeOutcome.REJECTED, "Seats were used"),
            ),
        )
        events = then_events(account, evaluated(after_due(21)))
        assert entered(events) == []
        assert reminders(events) == []

    def test_a_rejected_dispute_brings_the_suspension_back(self) -> None:
        """A rejected dispute brings the suspension back."""
        account = given(
            self.two_invoices(),
            evaluated(after_due(30)),
            lambda a: a.open_dispute(ctx(after_due(31)), bcmd.OpenDispute("INV-1", "Seat count")),
        )
        assert not account.subscriptions["sub-microsoft"].is_suspended
        given(
            account,
            lambda a: a.close_dispute(
                ctx(after_due(40)),
                bcmd.CloseDispute("INV-1", DisputeOutcome.REJECTED, "Seats were used"),
            ),
        )
        events = then_events(account, evaluated(after_due(41)))
        assert kinds(events) == ["AccessSuspended"]


class TestWhatIsSuspended:
    def test_a_suspension_may_name_the_products_it_suspends(self) -> None:
        """A suspension may name the products it suspends."""
        account = account_with_invoice()
        events = then_events(
            account, evaluated(after_due(30), standard_policy(products=(DYNAMICS,)))
        )
        assert [e.subscription_id for e in events if "Suspended" in type(e).__name__] == [
            "sub-dynamics"
        ]
        assert not account.subscriptions["sub-microsoft"].is_suspended

    def test_a_subscription_paid_in_advance_stays_on(self) -> None:
        """A subscription paid in advance stays on."""
        account = given(
            opened(),
            subscribed(M365),
            subscribed(DYNAMICS, paid_through=date(2026, 12, 31)),
            invoiced(),
        )
        then_events(account, evaluated(after_due(30)))
        assert account.subscriptions["sub-microsoft"].is_suspended
        assert not account.subscriptions["sub-dynamics"].is_suspended

    def test_a_subscription_paid_in_advance_is_suspended_when_the_policy_says_so(
        self,
    ) -> None:
        """A subscription paid in advance is suspended when the policy says so."""
        account = given(opened(), subscribed(DYNAMICS, paid_through=date(2026, 12, 31)), invoiced())
        then_events(account, evaluated(after_due(30), standard_policy(spare_paid_in_advance=False)))
        assert account.subscriptions["sub-dynamics"].is_suspended

    def test_when_the_prepaid_period_ends_the_suspension_takes_hold(self) -> None:
        """The suspension stage keeps its effect: a spared subscription whose
        prepaid period ran out is suspended at the next run."""
        paid_through = DUE + timedelta(days=35)
        account = given(
            opened(),
            subscribed(DYNAMICS, paid_through=paid_through),
            invoiced(),
            evaluated(after_due(30)),
        )
        assert then_events(account, evaluated(after_due(35))) == []
        events = then_events(account, evaluated(after_due(36)))
        assert kinds(events) == ["AccessSuspended"]

    def test_a_subscription_added_during_suspension_is_suspended_at_the_next_run(
        self,
    ) -> None:
        """A subscription added during suspension is suspended at the next run."""
        account = given(
            account_with_invoice(), evaluated(after_due(30)), subscribed("Power BI Pro")
        )
        events = then_events(account, evaluated(after_due(31)))
        assert [e.subscription_id for e in events] == ["sub-power"]


class TestPolicyTerms:
    def test_refuses_a_policy_without_stages(self) -> None:
        """Refuses a policy without stages."""
        with pytest.raises(errors.EmptyCollectionPolicyError):
            CollectionTerms(stages=())

    @pytest.mark.parametrize(
        "days",
        [(1, 7, 7), (7, 1)],
        ids=["two stages on one day", "out of order"],
    )
    def test_refuses_stages_out_of_order(self, days: tuple[int, ...]) -> None:
        """Refuses stages out of order."""
        with pytest.raises(errors.StagesOutOfOrderError):
            CollectionTerms(stages=tuple(CollectionStage(d, OVERDUE) for d in days))

    @pytest.mark.parametrize(
        ("days", "action"),
        [(1, UPCOMING), (0, OVERDUE), (-3, FINAL), (0, SUSPEND)],
    )
    def test_refuses_a_stage_on_the_wrong_side_of_the_due_date(
        self, days: int, action: StageAction
    ) -> None:
        """Refuses a stage on the wrong side of the due date."""
        with pytest.raises(errors.StageTimingError):
            CollectionStage(days, action)

    def test_refuses_a_suspension_without_a_final_warning_before_it(self) -> None:
        """Refuses a suspension without a final warning before it."""
        with pytest.raises(errors.SuspensionWithoutWarningError):
            CollectionTerms(stages=(CollectionStage(7, OVERDUE), CollectionStage(30, SUSPEND)))

    def test_only_a_suspension_names_products(self) -> None:
        """Only a suspension names products."""
        with pytest.raises(errors.InvalidValueError):
            CollectionStage(7, OVERDUE, (M365,))

    def test_refuses_a_stage_too_far_from_the_due_date(self) -> None:
        """Refuses a stage too far from the due date."""
        with pytest.raises(errors.InvalidValueError):
            CollectionStage(400, OVERDUE)


class TestCustomerText:
    def test_says_when_non_payment_affects_access(self) -> None:
        """The customer text says when non-payment affects access, stage by stage."""
        text = describe_policy(standard_terms())
        assert "7 days before an invoice falls due, we remind you" in text
        assert "still unpaid 1 day after its due date, we send a reminder" in text
        assert "14 days after its due date, we send a final warning" in text
        assert (
            "still unpaid 30 days after its due date, we suspend access to all your "
            "subscriptions" in text
        )
        assert "paid for in advance stay on" in text
        assert "restores it at once" in text

    def test_names_the_products_a_suspension_affects(self) -> None:
        """Names the products a suspension affects."""
        text = describe_policy(standard_terms(products=(DYNAMICS, "Power BI Pro", M365)))
        assert f"your {DYNAMICS}, Power BI Pro and {M365} subscriptions" in text

    def test_a_policy_without_suspension_says_access_is_not_affected(self) -> None:
        """A policy without suspension says access is not affected."""
        text = describe_policy(CollectionTerms(stages=(CollectionStage(1, OVERDUE),)))
        assert "Non-payment does not affect your access" in text
        assert "suspend" not in text

    def test_a_policy_that_suspends_everything_says_nothing_about_prepaid_access(
        self,
    ) -> None:
        """A policy that suspends everything says nothing about prepaid access."""
        text = describe_policy(standard_terms(spare_paid_in_advance=False))
        assert "paid for in advance" not in text


class TestVersions:
    def policy(self) -> CollectionPolicy:
        return given(CollectionPolicy.establish(ctx(T0)))

    def test_publishes_numbered_versions_with_their_customer_text(self) -> None:
        """Publishes numbered versions with their customer text."""
        policy = self.policy()
        assert policy.publish(ctx(T0), standard_terms(), T0) == 1
        assert policy.publish(ctx(T0), standard_terms(False), T0 + timedelta(days=1)) == 2
        [first, second] = policy.collect_events()
        assert isinstance(first, CollectionPolicy.Published)
        assert isinstance(second, CollectionPolicy.Published)
        assert first.customer_text == describe_policy(standard_terms())
        assert policy.published_version(2).terms.spare_paid_in_advance is False

    def test_the_version_in_force_is_the_latest_to_take_effect(self) -> None:
        """The version in force is the latest to take effect."""
        policy = given(
            self.policy(),
            lambda p: p.publish(ctx(T0), standard_terms(), T0),
            lambda p: p.publish(ctx(T0), standard_terms(False), T0 + timedelta(days=10)),
        )
        assert policy.in_force_at(T0 + timedelta(days=9)).version == 1
        assert policy.in_force_at(T0 + timedelta(days=10)).version == 2

    def test_no_policy_in_force_before_the_first_takes_effect(self) -> None:
        """No policy in force before the first takes effect."""
        policy = given(self.policy(), lambda p: p.publish(ctx(T0), standard_terms(), T0))
        with pytest.raises(errors.NoCollectionPolicyError):
            policy.in_force_at(T0 - timedelta(seconds=1))
        with pytest.raises(errors.NoCollectionPolicyError):
            policy.published_version(2)

    def test_refuses_a_version_taking_effect_before_it_is_published(self) -> None:
        """Refuses a version taking effect before it is published."""
        then_refused(
            self.policy(),
            lambda p: p.publish(ctx(T0), standard_terms(), T0 - timedelta(days=1)),
            errors.RetroactivePolicyError,
        )

    def test_refuses_a_version_taking_effect_before_the_one_in_force(self) -> None:
        """Refuses a version taking effect before the one in force."""
        policy = given(
            self.policy(),
            lambda p: p.publish(ctx(T0), standard_terms(), T0 + timedelta(days=10)),
        )
        then_refused(
            policy,
            lambda p: p.publish(ctx(T0), standard_terms(), T0 + timedelta(days=5)),
            errors.RetroactivePolicyError,
        )
