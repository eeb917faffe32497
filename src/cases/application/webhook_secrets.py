"""Customers' own webhook signing secrets (ADR 0068).

A partner's admin gives a customer's webhook its own secret. The secret is
sealed here, under the operator's master key (AES-256-GCM, the customer's
secret id as associated data), before the command records it: the event log
holds its fingerprint and the sealed text only, never the secret in the clear,
and no answer or log line shows it. Without a master key a secret is refused
(`webhook-secret-not-sealable`): the partner's secret signs, as before.

To sign a message the outbox asks for the secrets in force for the message's
account or case: the customer's own, and the one it replaced while their
overlap lasts (both signatures are sent). A secret sealed under another master
key (the key was rotated) does not open: it is skipped with a warning, and
set again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

import structlog

from cases.application.customer_directory import CustomerDirectory
from cases.domain import errors
from cases.domain.billing_account import BillingAccount
from cases.domain.customer_values import WebhookSecret
from cases.domain.support_case import SupportCase
from cases.persistence.subject_keys import MasterKey, MasterKeyError

logger = structlog.get_logger("cases.webhook_secrets")

MIN_SECRET_LENGTH = 24


def fingerprint(secret: str) -> str:
    """What names a secret in the log and the API (not enough to sign with)."""
    return hashlib.sha256(b"cases webhook secret\x00" + secret.encode()).hexdigest()[:16]


def _sealed_under(customer_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"cases:webhook-secret:{customer_id}")


class WebhookSecrets:
    """Seals a customer's new secret; opens the secrets a message is signed with."""

    def __init__(self, directory: CustomerDirectory, master: MasterKey | None) -> None:
        self.directory = directory
        self.master = master

    @classmethod
    def of(cls, directory: CustomerDirectory) -> WebhookSecrets:
        """Under the master key of the directory's store, if it has one."""
        keys = directory.runner.log.subject_keys
        return cls(directory, None if keys is None else keys.master)

    def seal(self, customer_id: str, secret: str) -> WebhookSecret:
        if self.master is None:
            raise errors.WebhookSecretNotSealableError(
                "a customer's webhook secret is stored sealed under the master key: "
                "configure CASES_MASTER_KEY (or CASES_MASTER_KEY_FILE) first"
            )
        text = secret.strip()
        if len(text) < MIN_SECRET_LENGTH or not text.isprintable():
            raise errors.InvalidValueError(
                f"a webhook secret is at least {MIN_SECRET_LENGTH} printable characters"
            )
        sealed = self.master.wrap(_sealed_under(customer_id), text.encode())
        return WebhookSecret(
            fingerprint(text), base64.b64encode(sealed).decode(), self.master.key_id
        )

    def for_customer(self, customer_id: str, at: datetime) -> tuple[bytes, ...]:
        """The customer's secrets in force at `at`, opened (none: the partner's signs)."""
        customer = self.directory.find(customer_id)
        if customer is None or self.master is None:
            return ()
        opened = []
        for secret in customer.signing_secrets(at):
            try:
                raw = base64.b64decode(secret.sealed, validate=True)
                opened.append(self.master.unwrap(_sealed_under(customer_id), raw))
            except (MasterKeyError, binascii.Error, ValueError):
                logger.warning(
                    "webhook_secret_unreadable",
                    customer_id=customer_id,
                    fingerprint=secret.fingerprint,
                    master_key_id=secret.master_key_id,
                )
        return tuple(opened)

    def for_aggregate(self, kind: str, aggregate_id: UUID, at: datetime) -> tuple[bytes, ...]:
        """The secrets for a message of an account (`account`) or a case."""
        runner = self.directory.runner
        owner = (
            runner.load(BillingAccount, aggregate_id)
            if kind == "account"
            else runner.load(SupportCase, aggregate_id)
        )
        return self.for_customer(owner.customer_id, at)
