"""The reminder rule over random invoices and payments, evaluated every day.

Every invoice collectible on some day of its upcoming-payment window is
reminded of its payment, whether or not it is the oldest; no invoice skips a
stage; no stage is entered, nor any notice sent, twice (ADR 47).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases.domain import billing_commands as bcmd
from cases.domain.billing_account import BillingAccount
from cases.domain.collection_policy import (
    CollectionStage,
    CollectionTerms,
    PublishedPolicy,
    StageAction,
    describe_policy,
)
from tests.unit.domain.billing_scenario import SCHEDULER, T0, ctx, eur, line, march, on, opened

pytestmark = pytest.mark.slow

UPCOMING = StageAction.UPCOMING_PAYMENT_REMINDER
DAYS = 90


def policy_with(upcoming: list[int]) -> PublishedPolicy:
    stages = [CollectionStage(days, UPCOMING) for days in sorted(set(upcoming))]
    stages += [
        CollectionStage(1, StageAction.OVERDUE_REMINDER),
        CollectionStage(7, StageAction.OVERDUE_REMINDER),
        CollectionStage(14, StageAction.FINAL_WARNING),
        CollectionStage(30, StageAction.SUSPEND_ACCESS),
    ]
    terms = CollectionTerms(tuple(stages))
    return PublishedPolicy(1, T0 - timedelta(days=60), terms, describe_policy(terms))


invoices = st.lists(
    st.tuples(st.integers(0, DAYS - 1), st.integers(0, 40), st.integers(1, 900)),
    min_size=1,
    max_size=8,
)
payments = st.lists(st.tuples(st.integers(0, DAYS - 1), st.integers(1, 900)), max_size=8)
upcoming_days = st.lists(st.integers(-14, 0), min_size=1, max_size=3)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invoices, payments, upcoming_days)
def test_every_invoice_is_reminded_once_and_no_stage_is_skipped(
    issued: list[tuple[int, int, int]],
    paid: list[tuple[int, int]],
    upcoming: list[int],
) -> None:
    policy = policy_with(upcoming)
    first_upcoming = policy.terms.stages[0].days
    account = opened()
    account.collect_events()
    events: list[object] = []
    in_window: set[str] = set()
    for offset in range(DAYS):
        day = T0.date() + timedelta(days=offset)
        moment = on(day, 10)
        for n, (issued_on, net, amount) in enumerate(issued):
            if issued_on == offset:
                due = day + timedelta(days=net)
                invoice = bcmd.IssueInvoice(f"INV-{n}", march(), (line(amount),), day, due)
                _issue(account, moment, invoice)
        for n, (paid_on, amount) in enumerate(paid):
            if paid_on == offset:
                account.receive_payment(
                    ctx(moment), bcmd.ReceivePayment(f"PAY-{n}", eur(amount), day)
                )
        in_window |= {
            i.number
            for i in account.invoices.values()
            if i.is_collectible and first_upcoming <= i.days_overdue(day) <= 0
        }
        account.evaluate(ctx(moment, SCHEDULER), policy, moment)
        events += account.collect_events()

    reminders = [e for e in events if isinstance(e, BillingAccount.ReminderSent)]
    upcoming_reminders = [r for r in reminders if r.kind is UPCOMING]
    assert {r.invoice_number for r in upcoming_reminders} == in_window
    assert all(r.due_on >= _day_of(r) for r in upcoming_reminders)
    sent = Counter((r.invoice_number, r.stage_days) for r in reminders)
    assert all(count == 1 for count in sent.values()), sent
    entered = [e for e in events if isinstance(e, BillingAccount.StageEntered)]
    stage_days = [stage.days for stage in policy.terms.stages]
    for number in account.invoices:
        days = [e.stage.days for e in entered if e.invoice_number == number]
        assert days == stage_days[: len(days)], (number, days)


def _issue(account: BillingAccount, moment: datetime, command: bcmd.IssueInvoice) -> None:
    account.issue_invoice(ctx(moment), command)


def _day_of(reminder: BillingAccount.ReminderSent) -> date:
    return reminder.meta.occurred_at.date()
