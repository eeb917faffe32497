"""The outbox webhook against a real local HTTP receiver, on SQLite and PostgreSQL:
signed, retried after 5xx answers and timeouts with backoff, dead-lettered after
the retry period, and sent again with the same id (never delivered as a second
message) after the worker is SIGKILLed mid-delivery."""

from __future__ import annotations

import json
import signal
import time
from datetime import timedelta
from pathlib import Path

from cases.domain.billing_account import BillingAccount
from cases.domain.deliveries import DeliveryOutcome
from cases.outbox.messages import Channel, Status
from cases.outbox.store import OutboxStore
from tests.integration.outbox.conftest import Billing, billing_on, outbox_settings
from tests.support import children
from tests.support.server import BIN, ManagedProcess, store_env
from tests.support.webhook_receiver import webhook_receiver

SECRET = "whsec-test-secret"  # noqa: S105 - a test receiver's secret


def outcomes(billing: Billing) -> list[tuple[str, DeliveryOutcome]]:
    return sorted(
        (str(event.delivery.message_id), event.delivery.outcome)
        for customer in ("contoso", "fabrikam")
        for event in billing.services.log.events.get(BillingAccount.id_for(customer))
        if isinstance(event, BillingAccount.DeliveryRecorded)
    )


def test_signed_messages_are_retried_after_errors_and_timeouts(
    store_url: str, tmp_path: Path
) -> None:
    """Two 500s and a timeout defer the messages; they are delivered once each after
    the backoff; every request carried a signature the receiver verified."""
    with webhook_receiver(SECRET.encode(), [500, 500, "sleep"], sleep=2.0) as (url, receipts):
        settings = outbox_settings(
            store_url, tmp_path, outbox_webhook_url=url, outbox_webhook_secret=SECRET
        )
        for billing in billing_on(settings):
            billing.queue()
            worker = billing.worker()
            try:
                for _ in range(6):
                    worker.drain()
                    billing.clock.advance(timedelta(minutes=2))
            finally:
                worker.db.close()
            assert receipts.bad_signatures == 0
            assert receipts.distinct == 2
            assert len(receipts.attempts) == 5  # 2 + 3 failed attempts
            body = json.loads(next(iter(receipts.accepted.values())))
            assert body["kind"] == "overdue_reminder"
            assert body["message_id"] in receipts.accepted
            assert OutboxStore(billing.db).counts()[Status.DELIVERED] == 2
            recorded = [outcome for _, outcome in outcomes(billing)]
            assert recorded.count(DeliveryOutcome.DELIVERED) == 2
            assert recorded.count(DeliveryOutcome.DEFERRED) >= 1


def test_a_receiver_down_for_the_whole_period_dead_letters_then_retry_delivers(
    store_url: str, tmp_path: Path
) -> None:
    """Retried with backoff for the period (an hour here), then dead-lettered as
    failed and recorded so; retried by an operator once the receiver is back."""
    with webhook_receiver(SECRET.encode(), [503] * 1000) as (url, receipts):
        settings = outbox_settings(
            store_url, tmp_path, outbox_webhook_url=url, outbox_webhook_secret=SECRET
        )
        for billing in billing_on(settings):
            billing.queue()
            worker = billing.worker()
            outbox = OutboxStore(billing.db)
            try:
                for _ in range(40):
                    worker.drain()
                    billing.clock.advance(timedelta(minutes=5))
                dead = outbox.listed(dead=True)
                assert {m.status for m in dead} == {Status.FAILED}
                assert len(dead) == 2
                attempts = len(receipts.attempts)
                assert 4 <= attempts // 2 <= 12  # backoff: not one attempt per poll
                assert [o for _, o in outcomes(billing)].count(DeliveryOutcome.FAILED) == 2
                receipts.script.clear()
                for message in dead:
                    assert outbox.retry(message.message_id, billing.clock.now())
                assert worker.drain() == 2
            finally:
                worker.db.close()
            assert receipts.distinct == 2


def test_a_worker_killed_mid_delivery_sends_again_with_the_same_id(
    store_url: str, tmp_path: Path
) -> None:
    """SIGKILL while the receiver holds a request: after the lease runs out a new
    worker sends it again with the same message id; the receiver, deduplicating,
    has each message once, and the account records one delivery per message."""
    with webhook_receiver(SECRET.encode(), hold=1.0) as (url, receipts):
        settings = outbox_settings(
            store_url, tmp_path, outbox_webhook_url=url, outbox_webhook_secret=SECRET
        )
        for billing in billing_on(settings):
            billing.queue()
            webhooks = [m for m in OutboxStore(billing.db).listed() if m.channel is Channel.WEBHOOK]
            env = store_env(
                store_url,
                tmp_path,
                CASES_OUTBOX_WEBHOOK_URL=url,
                CASES_OUTBOX_WEBHOOK_SECRET=SECRET,
                CASES_OUTBOX_LEASE_SECONDS="2",
                CASES_OUTBOX_SEND_TIMEOUT="5",
            )
            command = [str(BIN / "cases"), "outbox", "run"]
            first = ManagedProcess(command, env, tmp_path / "worker.log")
            first.start()
            deadline = time.monotonic() + 30
            while not receipts.attempts:
                assert time.monotonic() < deadline, first.log_text()[-3000:]
                time.sleep(0.02)
            assert first.process is not None
            children.kill_group(first.process, signal.SIGKILL)
            first.process.wait(10)
            second = ManagedProcess(command, env, tmp_path / "worker2.log")
            second.start()
            try:
                deadline = time.monotonic() + 60
                outbox = OutboxStore(billing.db)
                while outbox.counts()[Status.DELIVERED] < len(webhooks):
                    assert time.monotonic() < deadline, second.log_text()[-3000:]
                    time.sleep(0.1)
            finally:
                second.stop()
            assert receipts.distinct == len(webhooks) == 2
            assert set(receipts.accepted) == {str(m.message_id) for m in webhooks}
            assert len(receipts.attempts) == len(webhooks) + 1  # the killed one, again
            assert max(receipts.attempts.count(i) for i in receipts.attempts) == 2
            delivered = [m for m, o in outcomes(billing) if o is DeliveryOutcome.DELIVERED]
            assert sorted(delivered) == sorted(str(m.message_id) for m in webhooks)
