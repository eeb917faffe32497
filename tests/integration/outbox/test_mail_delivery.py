"""The outbox over real SMTP (aiosmtpd), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from cases.clock import wait_until
from cases.domain.billing_account import BillingAccount
from cases.domain.deliveries import DeliveryOutcome
from cases.followers.in_process import InProcessProjections
from cases.outbox.messages import Status
from cases.outbox.store import OutboxStore
from tests.integration.outbox.conftest import BOOK, Billing, billing_on, outbox_settings
from tests.support.mail_server import MailHandler, mail_server


@pytest.fixture
def smtp() -> Iterator[tuple[int, MailHandler]]:
    with mail_server() as server:
        yield server


def deliveries(billing: Billing, customer: str) -> list[tuple[str, DeliveryOutcome, int]]:
    account = billing.services.billing.account(BillingAccount.id_for(customer))
    events = billing.services.log.events.get(account.id)
    return [
        (e.delivery.recipient, e.delivery.outcome, e.delivery.attempts)
        for e in events
        if isinstance(e, BillingAccount.DeliveryRecorded)
    ]


def test_a_collection_runs_reminders_arrive_in_the_customers_language(
    store_url: str, tmp_path: Path, smtp: tuple[int, MailHandler]
) -> None:
    """Each account's overdue reminder reaches its billing contact, in Swedish or
    English, naming the billing period, every overdue invoice with its amount and
    due date, and the policy's own text; the delivery is recorded on the account."""
    port, server = smtp
    settings = outbox_settings(store_url, tmp_path, smtp_host="127.0.0.1", smtp_port=port)
    for billing in billing_on(settings):
        assert billing.queue() > 0
        worker = billing.worker()
        try:
            assert worker.drain() == 2
        finally:
            worker.db.close()
        mails = {str(m["To"]): m for m in server.messages()}
        assert set(mails) == {"ekonomi@contoso.example", "ap@fabrikam.example"}
        swedish = mails["ekonomi@contoso.example"]
        text = swedish.get_content()
        assert swedish["Subject"] == "Påminnelse: förfallen faktura, faktura INV-C-03"
        assert swedish["Content-Language"] == "sv"
        assert "Faktureringsperiod: 2026-03-01 till 2026-03-31." in text
        assert "- INV-C-03 för 2026-03-01 till 2026-03-31, förföll 2026-04-01: 51.60 SEK" in text
        assert "If an invoice is still unpaid 14 days after its due date" in text
        english = mails["ap@fabrikam.example"].get_content()
        assert "Billing period: 2026-03-01 to 2026-03-31." in english
        assert "- INV-F-03 for 2026-03-01 to 2026-03-31, due 2026-04-01: 51.60 SEK" in english
        assert deliveries(billing, "contoso") == [
            ("ekonomi@contoso.example", DeliveryOutcome.DELIVERED, 1)
        ]
        assert OutboxStore(billing.db).counts()[Status.DELIVERED] == 2
        assert billing.queue() == 0  # the follower is caught up: nothing queued twice
        assert OutboxStore(billing.db).counts()[Status.DELIVERED] == 2


def test_a_server_that_refuses_then_accepts_delivers_once(store_url: str, tmp_path: Path) -> None:
    """A 451 defers the message (recorded once as deferred); the retry after the
    backoff delivers it, once."""
    with mail_server(refuse_first=2) as (port, server):
        settings = outbox_settings(store_url, tmp_path, smtp_host="127.0.0.1", smtp_port=port)
        for billing in billing_on(settings):
            billing.queue()
            worker = billing.worker()
            try:
                assert worker.drain() == 0
                assert server.messages() == []
                assert worker.drain() == 0  # not due yet: the backoff holds it
                billing.clock.advance(timedelta(minutes=5))
                assert worker.drain() == 2
                billing.clock.advance(timedelta(minutes=5))
                assert worker.drain() == 0
            finally:
                worker.db.close()
            assert len(server.messages()) == 2
            assert deliveries(billing, "contoso") == [
                ("ekonomi@contoso.example", DeliveryOutcome.DEFERRED, 1),
                ("ekonomi@contoso.example", DeliveryOutcome.DELIVERED, 2),
            ] or deliveries(billing, "fabrikam") == [
                ("ap@fabrikam.example", DeliveryOutcome.DEFERRED, 1),
                ("ap@fabrikam.example", DeliveryOutcome.DELIVERED, 2),
            ]


def test_a_refused_mailbox_bounces_to_the_dead_letters(store_url: str, tmp_path: Path) -> None:
    """A 550 for the recipient is final: the message is dead-lettered as bounced at
    once, the account records it, and an operator can queue it again."""
    with mail_server(bounce=frozenset({"ap@fabrikam.example"})) as (port, server):
        settings = outbox_settings(store_url, tmp_path, smtp_host="127.0.0.1", smtp_port=port)
        for billing in billing_on(settings):
            billing.queue()
            worker = billing.worker()
            try:
                assert worker.drain() == 1
                outbox = OutboxStore(billing.db)
                [dead] = outbox.listed(dead=True)
                assert (dead.recipient, dead.status) == ("ap@fabrikam.example", Status.BOUNCED)
                assert deliveries(billing, "fabrikam")[0][1] is DeliveryOutcome.BOUNCED
                server.bounce = frozenset()
                assert outbox.retry(dead.message_id, billing.clock.now())
                assert not outbox.retry(dead.message_id, billing.clock.now())
                assert worker.drain() == 1
            finally:
                worker.db.close()
            assert len(server.messages()) == 2


def test_in_process_the_follower_and_the_worker_deliver_what_commands_record(
    store_url: str, tmp_path: Path, smtp: tuple[int, MailHandler]
) -> None:
    """As `cases serve` runs them on SQLite: threads beside the projections queue and
    deliver a collection run's reminders while the commands go on."""
    port, server = smtp
    settings = outbox_settings(store_url, tmp_path, smtp_host="127.0.0.1", smtp_port=port)
    for billing in billing_on(settings):
        with InProcessProjections.from_settings(
            settings,
            log=billing.services.log,
            names=["account_standing"],
            outbox=True,
            contacts=BOOK,
            poll_interval=0.05,
        ) as runners:
            assert wait_until(lambda: len(server.messages()) == 2, timeout=30)
            assert not runners.failures
        assert {str(m["To"]) for m in server.messages()} == {
            "ekonomi@contoso.example",
            "ap@fabrikam.example",
        }
