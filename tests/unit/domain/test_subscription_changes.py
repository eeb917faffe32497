"""Changing a subscription's quantity and cancelling it (ADR 61): no database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given as hypothesis_given
from hypothesis import settings
from hypothesis import strategies as st

from cases.domain import billing_commands as bcmd
from cases.domain import errors
from cases.domain.billing_account import BillingAccount
from cases.domain.billing_values import InvoicePeriod, SubscriptionPrice
from cases.domain.metadata import CommandContext, Role
from cases.domain.money import UnitPrice
from cases.domain.permissions import Permission, allows
from tests.unit.domain.billing_scenario import (
    M365,
    OPENED_ON,
    after_due,
    ctx,
    evaluated,
    given,
    invoiced,
    on,
    opened,
    paid,
    subscribed,
    then_events,
    then_refused,
)

SUB = "sub-microsoft"
Step = Callable[[BillingAccount], None]


def change(quantity: int, day: date = OPENED_ON) -> Step:
    return lambda a: a.change_quantity(
        ctx(on(day)), bcmd.ChangeQuantity(SUB, quantity, "Five new starters")
    )


def cancel(day: date = OPENED_ON, effective_on: date | None = None) -> Step:
    return lambda a: a.cancel_subscription(
        ctx(on(day)), bcmd.CancelSubscription(SUB, "Moving to E3", effective_on)
    )


def issue(at: CommandContext, command: bcmd.InvoiceSubscriptions) -> Step:
    return lambda a: a.invoice_subscriptions(at, command)


def account() -> BillingAccount:
    return given(opened(), subscribed(M365))  # ten seats


def month(year: int, number: int) -> InvoicePeriod:
    starts = date(year, number, 1)
    ends = (starts + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return InvoicePeriod(starts, ends)


PRICE = UnitPrice.of("20.60", "EUR")


def invoicing(period: InvoicePeriod, price: UnitPrice = PRICE) -> bcmd.InvoiceSubscriptions:
    return bcmd.InvoiceSubscriptions(
        f"INV-{period.starts_on:%Y-%m}",
        period,
        (SubscriptionPrice(SUB, price),),
        issued_on=period.starts_on,
    )


class TestChangingQuantity:
    def test_the_new_quantity_holds_from_the_day_recorded(self) -> None:
        acc = account()
        [event] = then_events(acc, change(15, date(2026, 4, 10)))
        assert isinstance(event, BillingAccount.QuantityChanged)
        assert (event.previous, event.quantity, event.effective_on) == (10, 15, date(2026, 4, 10))
        subscription = acc.subscriptions[SUB]
        assert subscription.quantity == 15
        assert subscription.quantity_on(date(2026, 4, 9)) == 10
        assert subscription.quantity_on(date(2026, 4, 10)) == 15

    def test_invoices_for_later_periods_bill_the_new_quantity(self) -> None:
        acc = given(account(), change(15, date(2026, 4, 10)), change(12, date(2026, 5, 3)))
        subscription = acc.subscriptions[SUB]
        april, may, june = month(2026, 4), month(2026, 5), month(2026, 6)
        amounts = [subscription.line_for(p, PRICE) for p in (april, may, june)]
        assert [a.amount.amount if a else None for a in amounts] == [
            Decimal("206.00"),  # billed in advance on 1 April: ten seats
            Decimal("309.00"),  # fifteen
            Decimal("247.20"),  # twelve
        ]

    def test_refuses_zero_negative_and_the_same_quantity(self) -> None:
        acc = account()
        then_refused(acc, change(0), errors.InvalidValueError)
        then_refused(acc, change(-3), errors.InvalidValueError)
        then_refused(acc, change(10), errors.SameQuantityError)

    def test_refuses_a_suspended_or_cancelled_subscription(self) -> None:
        suspended = given(account(), invoiced(), evaluated(after_due(30)))
        assert suspended.subscriptions[SUB].is_suspended
        then_refused(suspended, change(11), errors.SubscriptionSuspendedError)
        then_refused(given(account(), cancel()), change(11), errors.SubscriptionCancelledError)


class TestInvoicingSubscriptions:
    def test_issues_the_period_in_advance_with_a_line_per_subscription(self) -> None:
        acc = given(account(), change(15, date(2026, 4, 10)))
        at = ctx(on(date(2026, 5, 1)))
        then_events(acc, issue(at, invoicing(month(2026, 5))))
        issued = acc.invoices["INV-2026-05"]
        assert [(line.quantity, line.amount.amount) for line in issued.lines] == [
            (Decimal(15), Decimal("309.00"))
        ]
        assert issued.due_on == date(2026, 5, 31)  # net 30

    def test_refuses_an_unknown_or_twice_priced_subscription(self) -> None:
        at = ctx(on(date(2026, 5, 1)))
        unknown = bcmd.InvoiceSubscriptions(
            "INV-9", month(2026, 5), (SubscriptionPrice("nope", PRICE),), date(2026, 5, 1)
        )
        then_refused(
            account(),
            issue(at, unknown),
            errors.UnknownSubscriptionError,
        )
        twice = bcmd.InvoiceSubscriptions(
            "INV-9", month(2026, 5), (SubscriptionPrice(SUB, PRICE),) * 2, date(2026, 5, 1)
        )
        then_refused(account(), issue(at, twice), errors.InvalidValueError)


class TestCancelling:
    def test_no_period_starting_on_or_after_the_day_is_invoiced(self) -> None:
        acc = account()
        [event] = then_events(acc, cancel(effective_on=date(2026, 5, 1)))
        assert isinstance(event, BillingAccount.SubscriptionCancelled)
        subscription = acc.subscriptions[SUB]
        assert subscription.line_for(month(2026, 4), PRICE) is not None
        assert subscription.line_for(month(2026, 5), PRICE) is None

    def test_defaults_to_today_and_refuses_a_day_gone(self) -> None:
        acc = given(account(), cancel(day=date(2026, 3, 20)))
        assert acc.subscriptions[SUB].cancelled_on == date(2026, 3, 20)
        then_refused(
            account(),
            cancel(day=date(2026, 3, 20), effective_on=date(2026, 3, 19)),
            errors.CancellationInPastError,
        )

    def test_a_cancelled_subscription_cannot_be_suspended_reinstated_or_cancelled(self) -> None:
        acc = given(account(), cancel(effective_on=date(2026, 6, 1)))
        at = ctx(on(OPENED_ON))
        then_refused(
            acc,
            lambda a: a.suspend_access(at, bcmd.SuspendAccess(SUB, "x")),
            errors.SubscriptionCancelledError,
        )
        then_refused(
            acc,
            lambda a: a.reinstate_access(at, bcmd.ReinstateAccess(SUB, "x")),
            errors.SubscriptionCancelledError,
        )
        then_refused(acc, cancel(), errors.SubscriptionCancelledError)

    def test_a_suspended_subscription_cancelled_comes_back_when_the_debt_is_paid(self) -> None:
        acc = given(account(), invoiced(), evaluated(after_due(30)))
        given(acc, cancel(day=after_due(30).date(), effective_on=date(2026, 7, 1)))
        assert acc.subscriptions[SUB].is_suspended
        given(acc, paid(1000, after_due(31)))
        assert not acc.subscriptions[SUB].is_suspended

    def test_collection_does_not_suspend_a_cancelled_subscription(self) -> None:
        acc = given(account(), invoiced(), cancel(effective_on=date(2026, 4, 1)))
        given(acc, evaluated(after_due(30)))
        assert not acc.subscriptions[SUB].is_suspended


def test_sales_agents_and_billing_admins_manage_subscriptions() -> None:
    allowed = {r for r in Role if allows(r, Permission.MANAGE_SUBSCRIPTIONS)}
    assert allowed == {Role.BILLING_ADMIN, Role.SALES_AGENT, Role.SYSTEM}


# The property: any sequence of quantity changes and a cancellation ------------

DAYS = st.integers(min_value=0, max_value=200)
CHANGES = st.lists(st.tuples(DAYS, st.integers(min_value=1, max_value=500)), max_size=8)
PRICES = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(5000), places=6)


@settings(max_examples=200, deadline=None)
@hypothesis_given(changes=CHANGES, cancelled_after=st.none() | DAYS, price=PRICES)
def test_invoice_lines_equal_an_exact_computation(
    changes: list[tuple[int, int]], cancelled_after: int | None, price: Decimal
) -> None:
    """Every month's invoice has one line, the quantity in force on its first day
    times the unit price, rounded half-up once; none from the month the
    cancellation takes effect."""
    acc = account()
    held: list[tuple[date, int]] = [(date.min, 10)]  # the oracle's own record
    for offset, quantity in sorted(changes):
        day = OPENED_ON + timedelta(days=offset)
        if quantity != held[-1][1]:
            given(acc, change(quantity, day))
            held.append((day, quantity))
    cancelled_on = None
    if cancelled_after is not None:
        cancelled_on = OPENED_ON + timedelta(days=200 + cancelled_after)
        given(acc, cancel(day=OPENED_ON + timedelta(days=200), effective_on=cancelled_on))
    unit_price = UnitPrice(price, "EUR")
    late = ctx(on(OPENED_ON + timedelta(days=700)))  # after every change
    for n in range(16):
        period = month(2026 + (2 + n) // 12, (2 + n) % 12 + 1)
        command = invoicing(period, unit_price)
        if cancelled_on is not None and period.starts_on >= cancelled_on:
            then_refused(acc, issue(late, command), errors.NothingToInvoiceError)
            continue
        seats = [q for day, q in held if day <= period.starts_on][-1]
        expected = (Decimal(seats) * price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if expected == 0:
            continue  # an invoice must ask for something: a sub-cent month is not issued
        given(acc, issue(late, command))
        issued = acc.invoices[command.number]
        [line] = issued.lines
        assert line.quantity == seats
        assert issued.total.amount == line.amount.amount == expected
