"""An outbox on each real store: SQLite and PostgreSQL, migrated, with two
customers' accounts invoiced (Contoso reads Swedish, Fabrikam English), the
collection policy published and a collection run done a day after the invoices
fell due: each account owes one overdue reminder."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from cases.application.caller import Caller
from cases.application.collection_run import run_collection
from cases.application.contact_book import ContactBook, Recipient
from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.db.database import ProjectionDatabase, open_projection_db
from cases.db.schema import migrate
from cases.domain import billing_commands as bcmd
from cases.domain.billing_values import BillingPeriod, InvoiceLine, InvoicePeriod
from cases.domain.collection_policy import CollectionStage, CollectionTerms, StageAction
from cases.domain.metadata import Actor, Role, Source
from cases.domain.money import UnitPrice
from cases.followers.outbox import delivery_workers, outbox_runners
from cases.outbox.messages import Channel, QueuedMessage, Status
from cases.outbox.worker import DeliveryWorker
from cases.persistence.database_url import parse_database_url
from cases.settings import Settings
from tests.support.contact_book import FixedContactBook
from tests.support.postgres import throwaway_database

STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
BEA = Actor("billing-bea", Role.BILLING_ADMIN)
DUE = date(2026, 4, 1)
RUN_AT = datetime(2026, 4, 2, 6, 0, tzinfo=UTC)
BOOK = FixedContactBook(
    {
        "contoso": [Recipient("Eva Ekonomi", "ekonomi@contoso.example", "sv")],
        "fabrikam": [Recipient("Bill Payer", "ap@fabrikam.example", "en")],
    }
)


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'outbox.db'}"
        migrate(parse_database_url(url))
        yield url
        return
    with throwaway_database() as url:
        migrate(parse_database_url(url))
        yield url


def outbox_settings(url: str, tmp_path: Path, **extra: Any) -> Settings:
    base: dict[str, Any] = {
        "database_url": url,
        "data_dir": tmp_path,
        "outbox_first_retry_seconds": 1.0,
        "outbox_retry_hours": 1.0,
        "outbox_lease_seconds": 5.0,
        "outbox_send_timeout": 1.0,
        "outbox_sender_name": "Partner AB",
    }
    return Settings(**{**base, **extra})


def webhook_message(url: str, aggregate_id: UUID | None = None) -> QueuedMessage:
    """An account's reminder addressed to the webhook at `url`, as claimed."""
    now = datetime(2026, 4, 2, 7, 0, tzinfo=UTC)
    return QueuedMessage(
        message_id=uuid4(),
        event_id="e:1",
        aggregate_kind="account",
        aggregate_id=aggregate_id or uuid4(),
        kind="overdue_reminder",
        channel=Channel.WEBHOOK,
        recipient=url,
        language="en",
        subject="s",
        body='{"kind": "overdue_reminder"}',
        status=Status.PENDING,
        attempts=1,
        created_at=now,
        next_attempt_at=now,
        last_error=None,
        deferral_recorded=False,
    )


@dataclass
class Billing:
    settings: Settings
    services: Services
    clock: ManualClock
    db: ProjectionDatabase
    book: ContactBook = BOOK

    def queue(self) -> int:
        """Run the outbox follower over everything recorded so far."""
        runner = outbox_runners(
            self.settings, self.services.log, lambda: self.db, contacts=self.book, clock=self.clock
        )()
        return runner.catch_up()

    def worker(self) -> DeliveryWorker:
        """A delivery worker on its own connection, on this billing's clock."""
        make = delivery_workers(
            self.settings,
            self.services.log,
            lambda: open_projection_db(self.settings),
            clock=self.clock,
        )
        assert make is not None
        return make()


def billing_on(
    settings: Settings, book: ContactBook = BOOK, run_at: datetime = RUN_AT
) -> Iterator[Billing]:
    """The billing recorded, its collection run done at `run_at` (by default a
    day after the invoices fell due)."""
    clock = ManualClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    services = bootstrap(settings, clock)
    db = open_projection_db(settings)
    try:
        record_billing(services, clock, run_at)
        yield Billing(settings, services, clock, db, book)
    finally:
        db.close()
        services.close()


def record_billing(services: Services, clock: ManualClock, run_at: datetime = RUN_AT) -> None:
    office = services.billing
    caller = Caller.new(BEA, Source.API)
    office.publish_collection_policy(
        caller,
        CollectionTerms(
            stages=(
                CollectionStage(-7, StageAction.UPCOMING_PAYMENT_REMINDER),
                CollectionStage(1, StageAction.OVERDUE_REMINDER),
                CollectionStage(14, StageAction.FINAL_WARNING),
                CollectionStage(30, StageAction.SUSPEND_ACCESS),
            )
        ),
    )
    for customer, number in (("contoso", "INV-C-03"), ("fabrikam", "INV-F-03")):
        account_id = office.open_account(
            caller,
            bcmd.OpenAccount(
                customer_id=customer,
                currency="SEK",
                net_days=30,
                billing_period=BillingPeriod.MONTHLY,
            ),
        ).aggregate_id
        office.handle(
            caller,
            account_id,
            bcmd.IssueInvoice(
                number=number,
                period=InvoicePeriod(date(2026, 3, 1), date(2026, 3, 31)),
                lines=(InvoiceLine("Azure usage", Decimal(12000), UnitPrice.of("0.0043", "SEK")),),
                issued_on=date(2026, 3, 2),
            ),
        )
    collect(services, clock, run_at)


def collect(services: Services, clock: ManualClock, run_at: datetime) -> None:
    """A collection run at `run_at`, recorded an hour after."""
    clock.set(run_at + timedelta(hours=1))
    caller = Caller.new(Actor("collection-run", Role.SYSTEM), Source.CLI)
    run_collection(services.billing, caller, run_at)
