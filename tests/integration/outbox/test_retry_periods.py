"""The retry period against a real local HTTP receiver, on SQLite and PostgreSQL
(ADR 68): it counts from the first attempt the database recorded, so neither a
message that waited for a worker nor a worker restarted between attempts moves
it; an operator's retry grants one fresh, bounded period and is counted."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from cases.outbox.messages import Channel, QueuedMessage, Status
from cases.outbox.store import OutboxStore
from cases.settings import Settings
from tests.integration.outbox.conftest import Billing, billing_on, outbox_settings
from tests.support.webhook_receiver import webhook_receiver

SECRET = "whsec-test-secret"  # noqa: S105 - a test receiver's secret
PERIOD = timedelta(hours=3)


def webhooks(billing: Billing) -> list[QueuedMessage]:
    return [m for m in OutboxStore(billing.db).listed() if m.channel is Channel.WEBHOOK]


def period_settings(store_url: str, tmp_path: Path, url: str) -> Settings:
    return outbox_settings(
        store_url,
        tmp_path,
        outbox_webhook_url=url,
        outbox_webhook_secret=SECRET,
        outbox_retry_hours=PERIOD.total_seconds() / 3600,
    )


def restarted_workers_until_dead(billing: Billing, limit: timedelta) -> datetime:
    """Drain with a new worker (a restart) every five minutes until every webhook
    message is dead-lettered; the moment that happened."""
    stop = billing.clock.now() + limit
    while billing.clock.now() < stop:
        worker = billing.worker()
        try:
            worker.drain()
        finally:
            worker.db.close()
        if all(m.status is Status.FAILED for m in webhooks(billing)):
            return billing.clock.now()
        billing.clock.advance(timedelta(minutes=5))
    raise AssertionError(f"not dead-lettered within {limit}")


def test_the_period_counts_from_the_first_recorded_attempt_across_restarts(
    store_url: str, tmp_path: Path
) -> None:
    """Queued, then no worker for almost the whole period: the first attempt starts
    the period; workers restarted before every attempt dead-letter the messages
    only once the period has run from that first attempt, not earlier."""
    with webhook_receiver(SECRET.encode(), [503] * 10_000) as (url, receipts):
        settings = period_settings(store_url, tmp_path, url)
        for billing in billing_on(settings):
            billing.queue()
            queued_at = {m.message_id: m.created_at for m in webhooks(billing)}
            billing.clock.advance(PERIOD - timedelta(minutes=10))  # no worker meanwhile
            first_attempt = billing.clock.now()
            dead_at = restarted_workers_until_dead(billing, 2 * PERIOD)
            assert first_attempt + PERIOD / 2 < dead_at <= first_attempt + PERIOD
            dead = webhooks(billing)
            assert {m.period_started_at for m in dead} == {first_attempt}
            assert {m.message_id: m.created_at for m in dead} == queued_at
            assert len(receipts.attempts) > 2 * 5  # retried, with backoff, across restarts


def test_an_operators_retry_grants_one_fresh_bounded_period_and_is_counted(
    store_url: str, tmp_path: Path
) -> None:
    with webhook_receiver(SECRET.encode(), [503] * 10_000) as (url, receipts):
        settings = period_settings(store_url, tmp_path, url)
        for billing in billing_on(settings):
            billing.queue()
            restarted_workers_until_dead(billing, 2 * PERIOD)
            outbox = OutboxStore(billing.db)
            before = {m.message_id: m for m in webhooks(billing)}
            billing.clock.advance(timedelta(days=2))
            retried_at = billing.clock.now()
            for message_id in before:
                assert outbox.retry(message_id, retried_at)
            assert not outbox.retry(next(iter(before)), retried_at)  # pending: not dead
            again = webhooks(billing)
            assert {(m.status, m.attempts, m.operator_retries) for m in again} == {
                (Status.PENDING, 0, 1)
            }
            assert {m.period_started_at for m in again} == {None}  # starts at the next attempt
            assert {m.message_id: m.created_at for m in again} == {
                i: m.created_at for i, m in before.items()
            }
            attempts_before = len(receipts.attempts)
            dead_at = restarted_workers_until_dead(billing, 2 * PERIOD)
            assert retried_at + PERIOD / 2 < dead_at <= retried_at + PERIOD
            assert {m.period_started_at for m in webhooks(billing)} == {retried_at}
            assert len(receipts.attempts) > attempts_before + 2
