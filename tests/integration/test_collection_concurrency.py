"""Collection runs and payments racing on the same accounts, on PostgreSQL.

Every thread has its own bootstrapped services (its own connection pool) on
one database, as separate processes would. Afterwards no reminder or stage is
recorded twice for the same invoice, and every payment is there exactly once.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest

from cases.application.caller import Caller
from cases.application.collection_run import CollectionSummary, run_collection
from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.domain import billing_commands as bcmd
from cases.domain import errors
from cases.domain.billing_account import BillingAccount
from cases.domain.billing_values import BillingPeriod, InvoiceLine, InvoicePeriod
from cases.domain.collection_policy import CollectionStage, CollectionTerms, StageAction
from cases.domain.metadata import Actor, Role, Source
from cases.domain.money import Money, UnitPrice
from cases.settings import Settings
from tests.support.postgres import throwaway_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ACCOUNTS = 12
PAYERS = 3
RUNNERS = 3
INSTALMENTS = 4  # each account pays its 1 000 EUR in four parts
DUE = date(2026, 4, 1)
MOMENTS = [-7, 1, 7, 14, 30, 31]  # the runs, as of these days after the due date


def at(days: int) -> datetime:
    return datetime.combine(DUE + timedelta(days=days), datetime.min.time(), UTC)


def eur(amount: int) -> Money:
    return Money.of(amount, "EUR")


def billing() -> Caller:
    return Caller.new(Actor("billing-bea", Role.BILLING_ADMIN), Source.IMPORT)


def scheduler() -> Caller:
    return Caller.new(Actor("collection-run", Role.SYSTEM), Source.SCHEDULER)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at(-40))


@pytest.fixture
def group(clock: ManualClock) -> Iterator[list[Services]]:
    """Services for each thread, on one throwaway PostgreSQL database."""
    with throwaway_database() as url:
        settings = Settings(database_url=url, snapshot_interval=5)
        services = [bootstrap(settings, clock) for _ in range(PAYERS + RUNNERS)]
        try:
            yield services
        finally:
            for each in services:
                each.close()


def prepare(services: Services, clock: ManualClock) -> list[UUID]:
    office = services.billing
    office.publish_collection_policy(
        billing(),
        CollectionTerms(
            stages=(
                CollectionStage(-7, StageAction.UPCOMING_PAYMENT_REMINDER),
                CollectionStage(1, StageAction.OVERDUE_REMINDER),
                CollectionStage(7, StageAction.OVERDUE_REMINDER),
                CollectionStage(14, StageAction.FINAL_WARNING),
                CollectionStage(30, StageAction.SUSPEND_ACCESS),
            )
        ),
        effective_from=at(-40),
    )
    clock.set(at(-30))  # the invoices' issue day: none is issued ahead of its day
    ids = []
    for n in range(ACCOUNTS):
        account_id = office.open_account(
            billing(),
            bcmd.OpenAccount(
                customer_id=f"customer-{n:02}",
                currency="EUR",
                net_days=30,
                billing_period=BillingPeriod.MONTHLY,
            ),
        ).aggregate_id
        office.handle(
            billing(),
            account_id,
            bcmd.AddSubscription(subscription_id="m365", product="Microsoft 365", quantity=5),
        )
        office.handle(
            billing(),
            account_id,
            bcmd.IssueInvoice(
                number="INV-1",
                period=InvoicePeriod(date(2026, 3, 1), date(2026, 3, 31)),
                lines=(InvoiceLine("Microsoft 365", Decimal(5), UnitPrice.of(200, "EUR")),),
                issued_on=date(2026, 3, 2),
            ),
        )
        ids.append(account_id)
    return ids


def race(jobs: list[Callable[[], None]]) -> list[BaseException]:
    start = threading.Barrier(len(jobs))
    failures: list[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        start.wait()
        try:
            job()
        except BaseException as e:  # noqa: BLE001 - reported by the caller's assertion
            failures.append(e)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_racing_runs_and_payments_duplicate_no_reminder_and_lose_no_payment(
    group: list[Services], clock: ManualClock
) -> None:
    """Three collection runs and three payers race over twelve accounts."""
    ids = prepare(group[0], clock)
    clock.set(at(33))
    summaries: list[CollectionSummary] = []

    def payer(index: int, services: Services) -> Callable[[], None]:
        def pay() -> None:
            for instalment in range(INSTALMENTS):
                for account_id in ids[index::PAYERS]:
                    reference = f"BANK-{account_id.hex[:8]}-{instalment}"
                    while True:  # a client retries a command that kept losing races
                        try:
                            services.billing.handle(
                                billing(),
                                account_id,
                                bcmd.ReceivePayment(
                                    reference=reference, amount=eur(250), received_on=at(33).date()
                                ),
                            )
                        except errors.ConcurrentChangeError:
                            continue
                        break

        return pay

    def runner(services: Services) -> Callable[[], None]:
        def run() -> None:
            summaries.extend(
                run_collection(services.billing, scheduler(), at(days)) for days in MOMENTS
            )

        return run

    jobs = [payer(i, s) for i, s in enumerate(group[:PAYERS])]
    jobs += [runner(s) for s in group[PAYERS:]]
    assert race(jobs) == []

    assert len(summaries) == RUNNERS * len(MOMENTS)
    assert all(s.evaluated == ACCOUNTS for s in summaries)
    reader = group[0]
    for account_id in ids:
        account = reader.billing.account(account_id)
        expected = {f"BANK-{account_id.hex[:8]}-{n}" for n in range(INSTALMENTS)}
        assert sorted(account.payment_references) == sorted(expected)
        assert account.balance == eur(0)
        assert not account.subscriptions["m365"].is_suspended
        history = reader.audit.history(BillingAccount, account_id)
        stages = Counter(
            (h.details["invoice_number"], h.details["stage"].days)
            for h in history
            if h.event_type == "BillingAccount.StageEntered"
        )
        reminders = Counter(
            (h.details["invoice_number"], h.details["stage_days"])
            for h in history
            if h.event_type == "BillingAccount.ReminderSent"
        )
        suspensions = [h for h in history if h.event_type == "BillingAccount.AccessSuspended"]
        reinstatements = [h for h in history if h.event_type == "BillingAccount.AccessReinstated"]
        assert all(count == 1 for count in stages.values()), stages
        assert all(count == 1 for count in reminders.values()), reminders
        assert len(suspensions) == len(reinstatements) <= 1
        assert [h.version for h in history] == list(range(1, len(history) + 1))
