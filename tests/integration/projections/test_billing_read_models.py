"""Account standing and receivables on SQLite and PostgreSQL: the tables kept
live while a billing history was recorded equal the tables rebuilt from
scratch, the standing of every account is what its aggregate says, and the
aging report for any as-of date, past ones included, is what a brute-force
replay of the accounts' events gives, to the minor unit.

The history (tens of accounts in three currencies over eight months, every
billing event type) is recorded once per store through the billing office, in
stretches of days; between stretches each projection's runner applies part or
all of what is new, in small batches.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.db.database import ProjectionDatabase
from cases.db.schema import migrate
from cases.domain.billing_account import BillingAccount
from cases.domain.billing_values import Invoice
from cases.domain.money import Money
from cases.followers.catalog import projection_named
from cases.followers.rebuild import rebuild
from cases.followers.runner import ProjectionRunner
from cases.persistence.database_url import parse_database_url
from cases.projections.account_standing import (
    AccountStanding,
    AccountStandingProjection,
    AccountStandingView,
    StandingFilter,
)
from cases.projections.receivables import AgingRow, ReceivablesView, from_minor
from cases.settings import Settings
from tests.support.billing_history import START, BillingHistory
from tests.support.postgres import sql_store
from tests.support.projection_tables import columns, indexes, projection_rows

ACCOUNTS = 45
DAYS = 240
BATCHES = {"account_standing": 7, "receivables": 13}
STORE_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
E = BillingAccount


@dataclass
class BillingStore:
    """A store whose billing projections were kept live while its history was
    recorded, and the accounts' events."""

    services: Services
    db: ProjectionDatabase
    history: BillingHistory
    events: dict[UUID, list[Any]] = field(default_factory=dict)

    def accounts(self) -> list[BillingAccount]:
        return [self.services.billing.account(account_id) for account_id in sorted(self.events)]


@pytest.fixture(scope="module", params=STORE_KINDS)
def billing(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BillingStore]:
    with sql_store(request.param, tmp_path_factory.mktemp("billing-read-models")) as url:
        migrate(parse_database_url(url))
        clock = ManualClock(START)
        services = bootstrap(Settings(database_url=url, snapshot_interval=5), clock)
        db = ProjectionDatabase(parse_database_url(url))
        try:
            history = BillingHistory(services, clock, accounts=ACCOUNTS)
            _record_while_projecting(history, services, db)
            store = BillingStore(services, db, history)
            for customer in history.customers:
                store.events[customer.account_id] = list(
                    services.log.events.get(customer.account_id)
                )
            yield store
        finally:
            db.close()
            services.close()


def _record_while_projecting(
    history: BillingHistory, services: Services, db: ProjectionDatabase
) -> None:
    rng = random.Random(8)  # noqa: S311 - test data
    runners = [
        ProjectionRunner(services.log, projection_named(name), db, batch_size=size)
        for name, size in BATCHES.items()
    ]
    while (history.today - START.date()).days < DAYS:
        history.record_days(rng.randint(4, 25))
        for runner in runners:  # some fall behind for a while, some keep up
            for _ in range(rng.randint(1, 30)):
                runner.step()
    for runner in runners:
        runner.catch_up()


# Brute force, from the events -------------------------------------------------


@dataclass
class InvoiceReplay:
    """One invoice's changes, each on the day it takes effect."""

    currency: str
    issued_on: date
    due_on: date
    moves: list[tuple[date, Decimal, int]] = field(default_factory=list)

    def move(self, day: date, amount: Decimal, dispute: int = 0) -> None:
        self.moves.append((max(day, self.issued_on), amount, dispute))

    def open_on(self, day: date) -> Decimal:
        return sum((amount for on, amount, _ in self.moves if on <= day), Decimal(0))

    def disputed_on(self, day: date) -> bool:
        return sum(dispute for on, _, dispute in self.moves if on <= day) > 0


def replay_invoices(events: list[Any]) -> dict[str, InvoiceReplay]:
    """Every invoice of an account, from its events: a payment takes effect on
    the day received, anything else on the day it occurred where the account
    bills, neither before the invoice's issue."""
    opened = events[0]
    zone = ZoneInfo(opened.time_zone)
    invoices: dict[str, InvoiceReplay] = {}
    for e in events:
        day = e.meta.occurred_at.astimezone(zone).date()
        if isinstance(e, E.InvoiceIssued):
            invoices[e.number] = InvoiceReplay(opened.currency, e.issued_on, e.due_on)
            invoices[e.number].move(e.issued_on, e.total.amount)
        elif isinstance(e, E.PaymentReceived):
            for allocation in e.allocations:
                invoices[allocation.invoice_number].move(e.received_on, -allocation.amount.amount)
        elif isinstance(e, E.CreditApplied | E.WrittenOff):
            invoices[e.invoice_number].move(day, -e.amount.amount)
        elif isinstance(e, E.CreditNoteIssued):
            invoices[e.invoice_number].move(day, e.released.amount - e.amount.amount)
        elif isinstance(e, E.DisputeOpened | E.DisputeClosed):
            invoices[e.invoice_number].move(day, Decimal(0), 1 if _opens(e) else -1)
    return invoices


def _opens(e: Any) -> bool:
    return isinstance(e, E.DisputeOpened)


def brute_aging(store: BillingStore, as_of: date) -> list[AgingRow]:
    """The aging report, invoice by invoice, from the events."""
    buckets: dict[str, list[Decimal]] = {}
    for events in store.events.values():
        for invoice in replay_invoices(events).values():
            amount = invoice.open_on(as_of)
            if amount <= 0:
                continue
            sums = buckets.setdefault(invoice.currency, [Decimal(0)] * 6)
            past_due = (as_of - invoice.due_on).days
            if invoice.disputed_on(as_of):
                column = 5
            elif past_due <= 0:
                column = 0
            else:
                column = min(4, (past_due - 1) // 30 + 1)
            sums[column] += amount
    rows = []
    for currency, sums in sorted(buckets.items()):
        current, d1_30, d31_60, d61_90, d90_plus, disputed = sums
        total = sum(sums, Decimal(0))
        rows.append(AgingRow(currency, current, d1_30, d31_60, d61_90, d90_plus, disputed, total))
    return rows


def brute_overdue(events: list[Any], as_of: date) -> Decimal:
    return sum(
        (
            invoice.open_on(as_of)
            for invoice in replay_invoices(events).values()
            if invoice.due_on < as_of and not invoice.disputed_on(as_of)
        ),
        Decimal(0),
    )


def as_of_dates(store: BillingStore) -> list[date]:
    """Days across the history, one before its start, and one well after it."""
    first = START.date()
    return [
        first - timedelta(days=1),
        first + timedelta(days=35),
        first + timedelta(days=71),
        first + timedelta(days=118),
        first + timedelta(days=163),
        first + timedelta(days=201),
        store.history.last_day,
        store.history.last_day + timedelta(days=75),
    ]


# Live equals rebuilt -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BATCHES))
def test_live_tables_equal_a_rebuild_from_scratch(billing: BillingStore, name: str) -> None:
    """Tables kept live in small batches while the history was recorded are, row
    for row, the tables a rebuild from scratch swaps in; the swap keeps the
    migrated columns and indexes."""
    projection = projection_named(name)
    kept_live = projection_rows(billing.db, projection)
    assert all(kept_live.values()), f"{name} has an empty table"
    shape = {t: (columns(billing.db, t), indexes(billing.db, t)) for t in projection.tables}

    rebuild(billing.services.log, projection, billing.db, batch_size=5000)

    assert projection_rows(billing.db, projection) == kept_live
    assert {t: (columns(billing.db, t), indexes(billing.db, t)) for t in projection.tables} == shape


def test_the_history_holds_every_billing_account_event(billing: BillingStore) -> None:
    """The generated history reaches every billing-account event type, in three
    currencies, so the comparisons cover every handler and minor unit."""
    seen = {type(e) for events in billing.events.values() for e in events}
    assert seen == set(AccountStandingProjection.handles)
    assert {events[0].currency for events in billing.events.values()} == {"EUR", "SEK", "JPY"}
    assert sum(len(events) for events in billing.events.values()) > 2000
    payments = [
        e for events in billing.events.values() for e in events if isinstance(e, E.PaymentReceived)
    ]
    assert any(e.received_on < e.timestamp.date() - timedelta(days=1) for e in payments)
    assert any(e.unapplied.is_positive for e in payments)  # over-payments
    paid = Counter((e.originator_id, a.invoice_number) for e in payments for a in e.allocations)
    assert max(paid.values()) >= 2  # invoices paid in parts
    notes = [
        e for events in billing.events.values() for e in events if isinstance(e, E.CreditNoteIssued)
    ]
    assert any(e.released.is_positive for e in notes)  # credit notes after payment


# Account standing -------------------------------------------------------------


def _expected_standing(account: BillingAccount, events: list[Any]) -> AccountStanding:
    """The standing as the aggregate (and, for the last reminder, its events) has it."""
    anchor = account.anchor
    day = account.day_of(events[-1].meta.occurred_at)
    reminders = [e for e in events if isinstance(e, E.ReminderSent)]
    steps = [
        e for e in events if isinstance(e, E.StageEntered | E.ReminderSent | E.AccessSuspended)
    ]
    stage = anchor.last_stage if anchor else None
    return AccountStanding(
        account_id=account.id,
        customer_id=account.customer_id,
        currency=account.currency,
        balance=account.balance.amount,
        credit=account.credit_balance.amount,
        overdue=account.overdue_total(day).amount,
        overdue_as_of=day,
        oldest_unpaid_invoice=anchor.number if anchor else None,
        oldest_unpaid_due_on=anchor.due_on if anchor else None,
        stage_days=stage,
        stage_invoice=anchor.number if anchor and stage is not None else None,
        suspended_subscriptions=tuple(
            sorted(s.subscription_id for s in account.subscriptions.values() if s.is_suspended)
        ),
        last_reminder_kind=reminders[-1].kind.value if reminders else None,
        last_reminder_at=reminders[-1].meta.occurred_at if reminders else None,
        policy_version=steps[-1].policy_version if steps else None,
        version=account.version,
        position=0,  # not compared
    )


def _comparable(standing: AccountStanding | None) -> tuple[object, ...]:
    """Every field but the position, amounts as text so the scale counts too."""
    assert standing is not None
    values = [getattr(standing, name) for name in AccountStanding.__dataclass_fields__]
    return tuple(str(v) if isinstance(v, Decimal) else v for v in values[:-1])


def test_every_accounts_standing_is_what_its_aggregate_says(billing: BillingStore) -> None:
    """Balance, credit, what was overdue on the last event's day, the oldest
    unpaid invoice and its stage, suspended subscriptions, the last reminder
    and policy version: equal to the aggregate's, to the minor unit."""
    view = AccountStandingView(billing.db)
    accounts = billing.accounts()
    for account in accounts:
        expected = _expected_standing(account, billing.events[account.id])
        assert _comparable(view.get(account.id)) == _comparable(expected), account.customer_id
    standings = [view.get(a.id) for a in accounts]
    assert any(s and s.suspended_subscriptions for s in standings)
    assert any(s and s.credit > 0 for s in standings)
    assert any(s and s.stage_days is not None and s.stage_days > 0 for s in standings)
    steps = (E.StageEntered, E.ReminderSent, E.AccessSuspended)
    versions = {
        e.policy_version for es in billing.events.values() for e in es if isinstance(e, steps)
    }
    assert versions == {1, 2}


def test_filters_by_customer_currency_and_suspension(billing: BillingStore) -> None:
    """A customer's account; accounts of one currency paged by customer; only
    those with suspended access."""
    view = AccountStandingView(billing.db)
    accounts = billing.accounts()
    first = accounts[0]
    found = view.for_customer(first.customer_id)
    assert found is not None
    assert found.account_id == first.id
    paged: list[str] = []
    after = None
    while page := view.page(StandingFilter(currency="SEK"), limit=4, after=after):
        paged += [s.customer_id for s in page]
        after = page[-1].customer_id
    assert paged == sorted(a.customer_id for a in accounts if a.currency == "SEK")
    suspended = view.page(StandingFilter(suspended_only=True), limit=1000)
    expected = [
        a.customer_id for a in accounts if any(s.is_suspended for s in a.subscriptions.values())
    ]
    assert [s.customer_id for s in suspended] == sorted(expected)
    assert expected


def test_overdue_accounts_longest_overdue_first(billing: BillingStore) -> None:
    """Accounts with an undisputed invoice past due on a day, ordered by that
    invoice's due date, read in pages; per currency too."""
    view = AccountStandingView(billing.db)
    day = billing.history.last_day
    accounts = billing.accounts()
    expected = sorted(
        (a.anchor.due_on, a.customer_id) for a in accounts if a.anchor and a.anchor.due_on < day
    )
    paged: list[tuple[date, str]] = []
    after = None
    while page := view.overdue(day, limit=5, after=after):
        # An overdue account always has an unpaid invoice, so its due date is set.
        paged += [(s.oldest_unpaid_due_on, s.customer_id) for s in page]  # type: ignore[misc]
        after = paged[-1]
    assert paged == expected
    assert len(expected) > 5
    in_yen = view.overdue(day, currency="JPY", limit=1000)
    assert [s.customer_id for s in in_yen] == [
        customer
        for _, customer in expected
        if customer in {a.customer_id for a in accounts if a.currency == "JPY"}
    ]


# Receivables ------------------------------------------------------------------


def test_aging_on_any_day_equals_a_replay_of_the_events(billing: BillingStore) -> None:
    """The aging report (current, 1-30, 31-60, 61-90, over 90 days past due,
    disputed, total; per currency) on days across the history, including days
    before payments recorded later, equals a replay of every account's events,
    exactly."""
    view = ReceivablesView(billing.db)
    reports = {day: view.aging(day) for day in as_of_dates(billing)}
    for day, report in reports.items():
        assert report == brute_aging(billing, day), day
    assert reports[START.date() - timedelta(days=1)] == []
    for column in ("current", "d1_30", "d31_60", "d61_90", "d90_plus", "disputed"):
        assert any(getattr(row, column) for report in reports.values() for row in report), column
    yen = [row for report in reports.values() for row in report if row.currency == "JPY"]
    assert all(row.total == row.total.to_integral_value() for row in yen)


def test_the_replay_ends_where_the_aggregates_are(billing: BillingStore) -> None:
    """Well after the history, the replay's open amounts and disputes are the
    aggregates' outstanding amounts and disputes: the brute force itself is
    anchored in the aggregates."""
    later = billing.history.last_day + timedelta(days=75)
    for account in billing.accounts():
        replayed = replay_invoices(billing.events[account.id])
        assert {n: (i.open_on(later), i.disputed_on(later)) for n, i in replayed.items()} == {
            n: (i.outstanding.amount, i.disputed) for n, i in account.invoices.items()
        }


def test_an_accounts_overdue_amount_on_any_day(billing: BillingStore) -> None:
    """What an account had overdue on a past day equals the replay; on a day
    after the history, what the aggregate says is overdue then."""
    view = ReceivablesView(billing.db)
    later = billing.history.last_day + timedelta(days=10)
    past = START.date() + timedelta(days=118)
    for account in billing.accounts():
        events = billing.events[account.id]
        assert view.overdue(account.id, past) == brute_overdue(events, past)
        assert view.overdue(account.id, later) == account.overdue_total(later).amount


def test_open_invoices_and_settlement_days(billing: BillingStore) -> None:
    """An account's open invoices are the aggregate's, oldest due first; a
    settled invoice was open the day before its settlement day and not on it."""
    view = ReceivablesView(billing.db)
    settled = 0
    for account in billing.accounts():
        open_now = sorted(
            (i for i in account.invoices.values() if i.is_open), key=Invoice.collection_order
        )
        assert [
            (r.invoice_number, r.open_amount, r.disputed) for r in view.open_invoices(account.id)
        ] == [(i.number, i.outstanding.amount, i.disputed) for i in open_now]
        replayed = replay_invoices(billing.events[account.id])
        for receivable in view.of_customer(account.customer_id):
            if receivable.settled_on is None:
                continue
            settled += 1
            invoice = replayed[receivable.invoice_number]
            assert invoice.open_on(receivable.settled_on) == 0
            if receivable.settled_on > receivable.issued_on:
                assert invoice.open_on(receivable.settled_on - timedelta(days=1)) > 0
    assert settled > 100


def test_minor_units_are_exact_both_ways() -> None:
    """Amounts become whole minor units and come back with the currency's scale:
    cents, no unit for yen, thousandths for dinars."""
    for amount, currency, minor in (
        ("1234.50", "EUR", 123450),
        ("-0.01", "SEK", -1),
        ("987654", "JPY", 987654),
        ("12.345", "KWD", 12345),
    ):
        assert Money.of(amount, currency).minor_units == minor
        assert str(from_minor(minor, currency)) == amount
        assert str(from_minor(Decimal(minor), currency)) == amount  # a PostgreSQL SUM
