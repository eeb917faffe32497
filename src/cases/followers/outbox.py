"""The outbox beside the projections (ADR 50): its follower, which queues the
messages recorded events ask for (a projection runner under the name `outbox`,
never rebuilt: a rebuild would send everything again), and its delivery worker,
which sends them through the transports configured."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from cases.application.billing_office import BillingOffice
from cases.application.command_runner import CommandRunner
from cases.application.contact_book import ContactBook
from cases.application.customer_directory import CustomerDirectory
from cases.application.directory_contacts import DirectoryContactBook
from cases.application.support_desk import SupportDesk
from cases.application.webhook_secrets import WebhookSecrets
from cases.clock import Clock, SystemClock
from cases.db.database import ProjectionDatabase
from cases.followers.runner import ProjectionRunner
from cases.outbox.derivation import OUTBOX, OutboxProjection, SettingsContactBook
from cases.outbox.messages import Channel, QueuedMessage
from cases.outbox.transports import OwnSecrets, SmtpTransport, Transport, WebhookTransport
from cases.outbox.worker import DeliveryWorker, RecordOnAggregates, Retention, Retries
from cases.persistence.event_log import EventLog
from cases.projections.projection import PositionedEvent
from cases.settings import Settings

__all__ = ["OUTBOX", "delivery_workers", "outbox_runners", "transports_of"]


class OutboxRunner(ProjectionRunner):
    """A projection runner that derives the batch's messages before its transaction."""

    projection: OutboxProjection

    def apply_batch(self, events: list[PositionedEvent], after: int, reached: int) -> None:
        self.projection.prepare(events)
        super().apply_batch(events, after, reached)


def outbox_runners(
    settings: Settings,
    log: EventLog,
    open_db: Callable[[], ProjectionDatabase],
    *,
    contacts: ContactBook | None = None,
    batch_size: int = 1000,
    clock: Clock | None = None,
) -> Callable[[], ProjectionRunner]:
    """Make runners of the outbox follower on fresh connections. Without `contacts`,
    recipients come from the customer directory, and for a customer it does not
    hold, from the settings' billing mailbox."""
    if contacts is None:
        directory = CustomerDirectory(CommandRunner(log, clock or SystemClock()))
        contacts = DirectoryContactBook(directory, fallback=SettingsContactBook(settings))
    projection = OutboxProjection(log, settings, contacts, clock)

    def make() -> ProjectionRunner:
        db = open_db()
        try:
            return OutboxRunner(log, projection, db, batch_size=batch_size, clock=clock)
        except BaseException:
            db.close()
            raise

    return make


def transports_of(
    settings: Settings, own_secrets: OwnSecrets | None = None
) -> dict[Channel, Transport]:
    """The transports the settings configure (none: messages wait in the outbox);
    a customer's own webhook secrets from `own_secrets`."""
    transports: dict[Channel, Transport] = {}
    if settings.smtp_host is not None:
        transports[Channel.EMAIL] = SmtpTransport(settings)
    if settings.outbox_webhook_url is not None or settings.outbox_webhook_secret is not None:
        # the outbox webhook, and customers' own webhooks (signed with the same secret)
        transports[Channel.WEBHOOK] = WebhookTransport.from_settings(settings, own_secrets)
    return transports


def delivery_workers(
    settings: Settings,
    log: EventLog,
    open_db: Callable[[], ProjectionDatabase],
    *,
    clock: Clock | None = None,
    transports: dict[Channel, Transport] | None = None,
) -> Callable[[], DeliveryWorker] | None:
    """Make delivery workers, or None when no transport is configured."""
    the_clock = clock or SystemClock()
    runner = CommandRunner(log, the_clock, backdating_allowance=settings.backdating_allowance)
    secrets = WebhookSecrets.of(CustomerDirectory(runner))

    def own_secrets(message: QueuedMessage) -> tuple[bytes, ...]:
        return secrets.for_aggregate(message.aggregate_kind, message.aggregate_id, the_clock.now())

    chosen = transports_of(settings, own_secrets) if transports is None else transports
    if not chosen:
        return None
    record = RecordOnAggregates(BillingOffice(runner), SupportDesk(runner))
    retries = Retries.from_settings(settings)

    def make() -> DeliveryWorker:
        return DeliveryWorker(
            open_db(),
            chosen,
            record,
            retries,
            lease=timedelta(seconds=settings.outbox_lease_seconds),
            clock=the_clock,
            retention=Retention.from_settings(settings),
        )

    return make
