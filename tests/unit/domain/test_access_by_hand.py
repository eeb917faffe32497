"""Suspending and reinstating access by hand, and holding collection on a payment
promise (ADR 47): no database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from cases.domain import billing_commands as bcmd
from cases.domain import errors
from cases.domain.billing_account import BillingAccount
from cases.domain.billing_values import AccessState
from cases.domain.collection_policy import StageAction
from cases.domain.metadata import Role
from cases.domain.permissions import Permission, allows
from tests.unit.domain.billing_scenario import (
    DUE,
    M365,
    after_due,
    ctx,
    evaluated,
    given,
    invoiced,
    opened,
    paid,
    subscribed,
    then_events,
    then_refused,
)

SUB = "sub-microsoft"
Step = Callable[[BillingAccount], None]


def suspend(at_days: int = 0, subscription_id: str = SUB) -> Step:
    return lambda a: a.suspend_access(
        ctx(after_due(at_days)), bcmd.SuspendAccess(subscription_id, "Asked by the customer")
    )


def reinstate(at_days: int = 0) -> Step:
    return lambda a: a.reinstate_access(
        ctx(after_due(at_days)), bcmd.ReinstateAccess(SUB, "Bank confirmed the payment")
    )


def hold(until: date, at_days: int = 0) -> Step:
    return lambda a: a.hold_collection(
        ctx(after_due(at_days)), bcmd.HoldCollection(until, "Promised to pay by then")
    )


def account() -> BillingAccount:
    return given(opened(), subscribed(M365), invoiced(amount=1000))


class TestSuspendingByHand:
    def test_suspends_the_subscription_until_reinstated_by_hand(self) -> None:
        acc = account()
        [event] = then_events(acc, suspend())
        assert isinstance(event, BillingAccount.AccessSuspendedByHand)
        assert acc.subscriptions[SUB].access is AccessState.SUSPENDED

    def test_a_payment_does_not_lift_a_suspension_by_hand(self) -> None:
        acc = given(account(), suspend(), paid(1000, after_due(1)))
        assert acc.subscriptions[SUB].is_suspended
        given(acc, reinstate(2))
        assert not acc.subscriptions[SUB].is_suspended

    def test_refuses_a_subscription_suspended_already_or_unknown(self) -> None:
        acc = given(account(), suspend())
        then_refused(acc, suspend(), errors.AccessAlreadySuspendedError)
        then_refused(acc, suspend(subscription_id="nope"), errors.UnknownSubscriptionError)


class TestReinstatingByHand:
    def test_reinstates_a_subscription_collection_suspended(self) -> None:
        acc = given(account(), evaluated(after_due(30)))
        assert acc.subscriptions[SUB].is_suspended
        [event] = then_events(acc, reinstate(30))
        assert isinstance(event, BillingAccount.AccessReinstated)
        assert event.reason == "Bank confirmed the payment"
        assert not acc.subscriptions[SUB].is_suspended

    def test_refuses_a_subscription_that_is_not_suspended(self) -> None:
        then_refused(account(), reinstate(), errors.AccessNotSuspendedError)


class TestHoldingCollection:
    def test_nothing_is_entered_sent_or_suspended_through_the_promised_day(self) -> None:
        promised = DUE + timedelta(days=40)
        acc = given(account(), evaluated(after_due(1)), hold(promised, at_days=2))
        assert then_events(acc, evaluated(after_due(35))) == []
        assert then_events(acc, evaluated(after_due(40))) == []
        assert not acc.subscriptions[SUB].is_suspended

    def test_the_day_after_the_promise_collection_catches_up_in_order(self) -> None:
        acc = given(account(), evaluated(after_due(1)), hold(DUE + timedelta(days=40), 2))
        events = then_events(acc, evaluated(after_due(41)))
        entered = [e.stage.days for e in events if isinstance(e, BillingAccount.StageEntered)]
        assert entered == [7, 14, 30]
        assert [e.kind for e in events if isinstance(e, BillingAccount.ReminderSent)] == [
            StageAction.FINAL_WARNING
        ]
        assert acc.subscriptions[SUB].is_suspended

    def test_a_manual_reinstatement_under_a_hold_stays(self) -> None:
        acc = given(
            account(), evaluated(after_due(30)), reinstate(31), hold(DUE + timedelta(45), 31)
        )
        assert then_events(acc, evaluated(after_due(32))) == []
        assert not acc.subscriptions[SUB].is_suspended

    def test_refuses_a_hold_ending_before_today(self) -> None:
        then_refused(account(), hold(DUE, at_days=3), errors.HoldInPastError)


def test_only_billing_admins_and_the_system_act_on_access_by_hand() -> None:
    for permission in (Permission.MANAGE_ACCESS, Permission.HOLD_COLLECTION):
        assert {r for r in Role if allows(r, permission)} == {Role.BILLING_ADMIN, Role.SYSTEM}
