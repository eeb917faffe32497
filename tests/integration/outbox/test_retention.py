"""Message retention on SQLite and PostgreSQL, against a real local HTTP receiver
(ADR 68): the sweep blanks a delivered message's recipient, subject and body past
the retention, a dead-lettered one's past the longer one, and keeps the rows and
the delivery events in the log; `cases outbox sweep` and the running worker do it."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cases.cli.main import app
from cases.domain.billing_account import BillingAccount
from cases.domain.deliveries import DeliveryOutcome
from cases.outbox.messages import Channel, QueuedMessage, Status
from cases.outbox.store import SWEPT, OutboxStore
from cases.outbox.worker import run_deliveries
from cases.settings import get_settings
from tests.integration.outbox.conftest import Billing, billing_on, outbox_settings
from tests.support.webhook_receiver import webhook_receiver

SECRET = "whsec-test-secret"  # noqa: S105 - a test receiver's secret
RETENTION = {"outbox_retention_days": 7.0, "outbox_dead_retention_days": 30.0}


def webhooks(billing: Billing) -> dict[Status, QueuedMessage]:
    """The two webhook messages by status (one delivered, one bounced)."""
    found = [m for m in OutboxStore(billing.db).listed() if m.channel is Channel.WEBHOOK]
    by_status = {m.status: m for m in found}
    assert len(by_status) == len(found) == 2
    return by_status


def outcomes(billing: Billing) -> list[DeliveryOutcome]:
    return sorted(
        event.delivery.outcome
        for customer in ("contoso", "fabrikam")
        for event in billing.services.log.events.get(BillingAccount.id_for(customer))
        if isinstance(event, BillingAccount.DeliveryRecorded)
    )


def deliver_one_bounce_one(billing: Billing) -> None:
    billing.queue()
    worker = billing.worker()
    try:
        worker.drain()
    finally:
        worker.db.close()


def is_swept(message: QueuedMessage) -> bool:
    return (message.recipient, message.subject, message.body) == (SWEPT, SWEPT, SWEPT)


def test_delivered_then_dead_messages_are_swept_and_their_events_stay(
    store_url: str, tmp_path: Path
) -> None:
    with webhook_receiver(SECRET.encode(), [400]) as (url, receipts):
        settings = outbox_settings(
            store_url, tmp_path, outbox_webhook_url=url, outbox_webhook_secret=SECRET, **RETENTION
        )
        for billing in billing_on(settings):
            deliver_one_bounce_one(billing)
            assert receipts.distinct == 1
            recorded = outcomes(billing)
            assert recorded == sorted([DeliveryOutcome.DELIVERED, DeliveryOutcome.BOUNCED])
            worker = billing.worker()
            try:
                billing.clock.advance(timedelta(days=6, hours=23))
                assert worker.sweep() == 0
                billing.clock.advance(timedelta(hours=2))
                assert worker.sweep() == 1
                by_status = webhooks(billing)
                assert is_swept(by_status[Status.DELIVERED])
                assert not is_swept(by_status[Status.BOUNCED])  # kept for the operator
                assert by_status[Status.BOUNCED].body.startswith("{")
                billing.clock.advance(timedelta(days=23))
                assert worker.sweep() == 1
                assert worker.sweep() == 0  # swept once
            finally:
                worker.db.close()
            assert all(is_swept(m) for m in webhooks(billing).values())
            assert outcomes(billing) == recorded  # the log keeps what became of them
            assert OutboxStore(billing.db).counts()[Status.DELIVERED] == 1


def test_cases_outbox_sweep_sweeps_by_the_real_clock(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Messages settled "long ago" (the manual clock is in 2026-03) are past both
    retentions by the real clock: the command sweeps both, once."""
    with webhook_receiver(SECRET.encode(), [400]) as (url, _):
        settings = outbox_settings(
            store_url, tmp_path, outbox_webhook_url=url, outbox_webhook_secret=SECRET, **RETENTION
        )
        for billing in billing_on(settings):
            deliver_one_bounce_one(billing)
            monkeypatch.setenv("CASES_DATABASE_URL", store_url)
            monkeypatch.setenv("CASES_DATA_DIR", str(tmp_path))
            get_settings.cache_clear()
            try:
                swept = CliRunner().invoke(app, ["outbox", "sweep"])
                again = CliRunner().invoke(app, ["outbox", "sweep"])
            finally:
                get_settings.cache_clear()
            assert swept.exit_code == 0, swept.output
            assert "Swept 2 messages." in swept.output
            assert "Swept 0 messages." in again.output
            assert all(is_swept(m) for m in webhooks(billing).values())


def test_the_running_worker_sweeps_at_its_start(store_url: str, tmp_path: Path) -> None:
    with webhook_receiver(SECRET.encode(), [400]) as (url, _):
        settings = outbox_settings(
            store_url, tmp_path, outbox_webhook_url=url, outbox_webhook_secret=SECRET, **RETENTION
        )
        for billing in billing_on(settings):
            deliver_one_bounce_one(billing)
            billing.clock.advance(timedelta(days=8))
            stopping = threading.Event()
            thread = threading.Thread(target=run_deliveries, args=(billing.worker, stopping))
            thread.start()
            try:
                deadline = time.monotonic() + 30
                while not is_swept(webhooks(billing)[Status.DELIVERED]):
                    assert time.monotonic() < deadline, "the running worker did not sweep"
                    time.sleep(0.05)
                assert not is_swept(webhooks(billing)[Status.BOUNCED])
            finally:
                stopping.set()
                thread.join(10)
            assert not thread.is_alive()
