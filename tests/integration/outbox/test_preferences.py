"""The customer's communication preferences decide what the outbox sends it, over
real SMTP (aiosmtpd), on SQLite and PostgreSQL: a declined optional notice reaches
nobody, mandatory notices always go, and the channels it names are the ones used."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cases.application.contact_book import Recipient
from cases.domain.customer_values import CommunicationPreferences, NoticeChannel, OptionalNotice
from cases.outbox.messages import Channel, Status
from cases.outbox.store import OutboxStore
from cases.outbox.transports import WebhookTransport
from tests.integration.outbox.conftest import (
    RUN_AT,
    Billing,
    billing_on,
    collect,
    outbox_settings,
    webhook_message,
)
from tests.support.contact_book import FixedContactBook
from tests.support.mail_server import mail_server
from tests.support.webhook_receiver import webhook_receiver

BEFORE_DUE = datetime(2026, 3, 26, 6, 0, tzinfo=UTC)  # six days before: the upcoming reminder
HOOK = "https://hooks.fabrikam.example/cases"
CONTACTS = {
    "contoso": [Recipient("Eva Ekonomi", "ekonomi@contoso.example", "sv")],
    "fabrikam": [Recipient("Bill Payer", "ap@fabrikam.example", "en")],
}


def delivered(billing: Billing) -> int:
    worker = billing.worker()
    try:
        return worker.drain()
    finally:
        worker.db.close()


def test_a_declined_upcoming_reminder_is_never_sent_but_the_overdue_one_is(
    store_url: str, tmp_path: Path
) -> None:
    """Contoso declined upcoming-payment reminders: only Fabrikam's arrives; a day
    after the due date both overdue reminders (mandatory) arrive."""
    book = FixedContactBook(
        CONTACTS,
        preferences={
            "contoso": CommunicationPreferences(
                opted_out=(OptionalNotice.UPCOMING_PAYMENT_REMINDER,)
            )
        },
    )
    with mail_server() as (port, server):
        settings = outbox_settings(store_url, tmp_path, smtp_host="127.0.0.1", smtp_port=port)
        for billing in billing_on(settings, book, run_at=BEFORE_DUE):
            billing.queue()
            assert delivered(billing) == 1
            [upcoming] = server.messages()
            assert str(upcoming["To"]) == "ap@fabrikam.example"
            assert upcoming["Subject"] == "Payment reminder, invoice INV-F-03"
            collect(billing.services, billing.clock, RUN_AT)
            billing.queue()
            assert delivered(billing) == 2
            overdue = [str(m["To"]) for m in server.messages()[1:]]
            assert sorted(overdue) == ["ap@fabrikam.example", "ekonomi@contoso.example"]
            assert OutboxStore(billing.db).counts()[Status.DELIVERED] == 3


def test_the_channels_the_customer_names_are_the_ones_used(store_url: str, tmp_path: Path) -> None:
    """Fabrikam wants its notices by webhook only: no e-mail to its contact, one
    message to its own webhook; Contoso names both: an e-mail and a webhook message."""
    book = FixedContactBook(
        CONTACTS,
        preferences={
            "fabrikam": CommunicationPreferences((NoticeChannel.WEBHOOK,), HOOK),
            "contoso": CommunicationPreferences(
                (NoticeChannel.EMAIL, NoticeChannel.WEBHOOK), "https://hooks.contoso.example/x"
            ),
        },
    )
    with mail_server() as (port, server):
        settings = outbox_settings(store_url, tmp_path, smtp_host="127.0.0.1", smtp_port=port)
        for billing in billing_on(settings, book):
            billing.queue()
            queued = OutboxStore(billing.db).listed()
            assert sorted((m.channel, m.recipient) for m in queued) == [
                (Channel.EMAIL, "ekonomi@contoso.example"),
                (Channel.WEBHOOK, "https://hooks.contoso.example/x"),
                (Channel.WEBHOOK, HOOK),
            ]
            assert delivered(billing) == 1  # no webhook transport: those wait in the outbox
            assert [str(m["To"]) for m in server.messages()] == ["ekonomi@contoso.example"]


def test_a_customers_webhook_message_is_posted_to_its_own_address() -> None:
    """The webhook transport posts a message addressed to a customer's webhook there,
    signed with the outbox secret (the outbox webhook's own URL is not needed)."""
    secret = b"whsec-test"
    with webhook_receiver(secret, []) as (url, receipts):
        transport = WebhookTransport(None, secret)
        message = webhook_message(url)
        try:
            assert transport.send(message) == "HTTP 200"
        finally:
            transport.close()
        assert receipts.distinct == 1
        assert receipts.bad_signatures == 0
