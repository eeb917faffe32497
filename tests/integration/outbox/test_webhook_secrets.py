"""A customer's own webhook signing secret, against real local HTTP receivers, on
SQLite and PostgreSQL (ADR 68): messages to its webhook are signed with it
instead of the partner's; a rotation signs with both (`v1=` twice) for the
overlap, then with the new one only; the log holds the secret sealed, never in
the clear; without a master key a secret is refused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest

from cases.domain import customer_commands as cc
from cases.domain import errors
from cases.domain.billing_account import BillingAccount
from cases.domain.customer import Customer, customer_aggregate_id
from cases.history.event_summaries import summarise
from cases.outbox.messages import Channel
from cases.outbox.transports import DeliveryRefusedError, WebhookTransport
from cases.persistence.subject_keys import MasterKey
from cases.settings import Settings
from tests.integration.outbox.conftest import (
    Billing,
    billing_on,
    outbox_settings,
    webhook_message,
)
from tests.support.builders import caller
from tests.support.customers import register
from tests.support.webhook_receiver import Receipts, webhook_receiver

PARTNER = "whsec-partner-secret-0123456789"
FIRST = "whsec-contoso-first-0123456789abcdef"
SECOND = "whsec-contoso-second-0123456789abcdef"
DAY = timedelta(days=1)


class Receivers:
    """One receiver per secret; which of them verified a message's signature."""

    def __init__(self, stack: ExitStack) -> None:
        self.by_secret: dict[str, tuple[str, Receipts]] = {
            name: stack.enter_context(webhook_receiver(name.encode(), [200] * 100))
            for name in (PARTNER, FIRST, SECOND)
        }

    def verifying(self, transport: WebhookTransport, customer_id: str = "contoso") -> set[str]:
        verified = set()
        for name, (url, receipts) in self.by_secret.items():
            refused_before = receipts.bad_signatures
            try:
                transport.send(webhook_message(url, BillingAccount.id_for(customer_id)))
            except DeliveryRefusedError:  # 401: the signature did not verify
                assert receipts.bad_signatures == refused_before + 1
                continue
            verified.add(name)
        return verified


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    with ExitStack() as stack:
        yield Receivers(stack)


def sealed_billing(store_url: str, tmp_path: Path, master: MasterKey | None) -> Iterator[Billing]:
    extra = {} if master is None else {"master_key": master.as_text()}
    settings: Settings = outbox_settings(
        store_url, tmp_path, outbox_webhook_secret=PARTNER, **extra
    )
    for billing in billing_on(settings):
        billing.services.customers.register(caller(), register("contoso"))
        billing.services.customers.register(caller(), register("fabrikam"))
        yield billing


def set_secret(billing: Billing, secret: str, overlap: timedelta = DAY) -> None:
    services = billing.services
    sealed = services.webhook_secrets.seal("contoso", secret)
    services.customers.handle(caller(), "contoso", cc.SetWebhookSecret(sealed, overlap))


def test_a_customers_secret_signs_and_a_rotation_signs_with_both_for_the_overlap(
    store_url: str, tmp_path: Path, receivers: Receivers
) -> None:
    for billing in sealed_billing(store_url, tmp_path, MasterKey.generate()):
        worker = billing.worker()
        transport = worker.transports[Channel.WEBHOOK]
        assert isinstance(transport, WebhookTransport)
        try:
            assert receivers.verifying(transport) == {PARTNER}  # no own secret yet
            set_secret(billing, FIRST)
            assert receivers.verifying(transport) == {FIRST}
            assert receivers.verifying(transport, "fabrikam") == {PARTNER}
            set_secret(billing, SECOND, overlap=DAY)
            billing.clock.advance(DAY - timedelta(minutes=1))
            assert receivers.verifying(transport) == {FIRST, SECOND}  # v1= twice
            billing.clock.advance(timedelta(minutes=1))
            assert receivers.verifying(transport) == {SECOND}
            set_secret(billing, FIRST, overlap=timedelta(0))  # no overlap: at once
            assert receivers.verifying(transport) == {FIRST}
        finally:
            transport.close()
            worker.db.close()
        with pytest.raises(errors.CustomerUnchangedError):
            set_secret(billing, FIRST)
        with pytest.raises(errors.InvalidValueError):
            set_secret(billing, "too short")


def test_the_log_holds_the_secret_sealed_and_the_history_its_fingerprint(
    store_url: str, tmp_path: Path
) -> None:
    for billing in sealed_billing(store_url, tmp_path, MasterKey.generate()):
        set_secret(billing, FIRST)
        set_secret(billing, SECOND)
        aggregate_id = customer_aggregate_id("contoso")
        stored = billing.services.log.recorder.select_events(aggregate_id)
        assert stored
        assert not any(FIRST.encode() in e.state or SECOND.encode() in e.state for e in stored)
        history = billing.services.audit.history(Customer, aggregate_id)
        summaries = [summarise(h.event_type, h.details) for h in history[-2:]]
        fingerprints = [s.fingerprint for s in billing.services.customers.customer("contoso")
                        .webhook_secrets]  # fmt: skip
        assert summaries[0] == f"Webhook secret {fingerprints[1]} set"
        assert summaries[1].startswith(f"Webhook secret {fingerprints[0]} set; the previous")
        assert FIRST not in " ".join(summaries)
        assert SECOND not in " ".join(summaries)


def test_without_a_master_key_a_secret_is_refused(store_url: str, tmp_path: Path) -> None:
    for billing in sealed_billing(store_url, tmp_path, None):
        version = billing.services.customers.customer("contoso").version
        with pytest.raises(errors.WebhookSecretNotSealableError):
            set_secret(billing, FIRST)
        assert billing.services.customers.customer("contoso").version == version


def test_a_secret_sealed_under_another_master_key_falls_back_to_the_partners(
    store_url: str, tmp_path: Path, receivers: Receivers
) -> None:
    for billing in sealed_billing(store_url, tmp_path, MasterKey.generate()):
        other = MasterKey.generate()
        secrets = billing.services.webhook_secrets
        sealed = type(secrets)(secrets.directory, other).seal("contoso", FIRST)
        billing.services.customers.handle(
            caller(), "contoso", cc.SetWebhookSecret(sealed, timedelta(0))
        )
        worker = billing.worker()
        transport = worker.transports[Channel.WEBHOOK]
        assert isinstance(transport, WebhookTransport)
        try:
            assert receivers.verifying(transport) == {PARTNER}
        finally:
            transport.close()
            worker.db.close()
