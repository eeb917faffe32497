"""Sending one message: e-mail over SMTP, or a signed JSON webhook.

A transport answers with a short detail ("250 …", "HTTP 204") or raises:
`DeliveryDeferredError` for what may pass (a server down, a 4xx SMTP answer, an
HTTP 5xx, 408, 429 or a timeout), `DeliveryRefusedError` for what will not (a 5xx
SMTP answer, any other HTTP 4xx). Credentials and secrets are never logged
nor put in an error.

The webhook is signed as the checkpoint webhook is (Stripe's scheme):
`Cases-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`;
a receiver verifies it with `verify_signature` and a tolerance of five minutes
on `t`. A message to a customer's own webhook is signed with the customer's
own secret when it has one, and during a rotation's overlap with the replaced
one too: `v1=` twice (ADR 68). `Cases-Message-Id` is the message's stable id: the same message sent
again (a retry, a worker killed mid-delivery) carries the same one.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Protocol

import httpx

from cases.outbox.messages import WEBHOOK_RECIPIENT, QueuedMessage
from cases.settings import Settings
from cases.transparency.webhook import SIGNATURE_HEADER, signature_header

MESSAGE_ID_HEADER = "Cases-Message-Id"
SIGNATURE_TOLERANCE_SECONDS = 300
_RETRIED_HTTP = frozenset({408, 425, 429})


OwnSecrets = Callable[[QueuedMessage], tuple[bytes, ...]]
"""The customer's own secrets in force for a message (none: the partner's signs)."""


def signatures_header(secrets: Sequence[bytes], body: bytes, timestamp: int) -> str:
    """`t=<timestamp>,v1=<sig>[,v1=<sig>]`: one signature per secret in force, the
    newest first (during a rotation's overlap a receiver holding either verifies)."""
    signatures = [signature_header(s, body, timestamp).partition(",")[2] for s in secrets]
    return ",".join([f"t={timestamp}", *signatures])


class DeliveryDeferredError(Exception):
    """Raised when an attempt failed in a way a later attempt may not."""


class DeliveryRefusedError(Exception):
    """Raised when the server or receiver refused the message for good (a bounce)."""


class Transport(Protocol):
    def send(self, message: QueuedMessage) -> str: ...

    def close(self) -> None:
        """Let go of a connection kept between the messages of one batch."""


class SmtpTransport:
    """Sends over SMTP: STARTTLS and login as configured. One connection carries a
    batch's messages (the worker closes it after each batch); an error drops it."""

    def __init__(self, settings: Settings) -> None:
        if settings.smtp_host is None:
            raise ValueError("no mail server is configured (CASES_SMTP_HOST)")
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.starttls = settings.smtp_starttls
        self.username = settings.smtp_username
        self.password = settings.smtp_password
        self.sender = formataddr((settings.outbox_sender_name, settings.smtp_from))
        self.timeout = settings.outbox_send_timeout
        self._smtp: smtplib.SMTP | None = None

    def _connected(self) -> smtplib.SMTP:
        if self._smtp is None:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            try:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username is not None and self.password is not None:
                    smtp.login(self.username, self.password.get_secret_value())
            except BaseException:
                smtp.close()
                raise
            self._smtp = smtp
        return self._smtp

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def email(self, message: QueuedMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.recipient
        email["Subject"] = message.subject
        email["Date"] = format_datetime(message.created_at)
        email["Message-ID"] = f"<{message.message_id}@cases>"
        email[MESSAGE_ID_HEADER] = str(message.message_id)
        email.set_content(message.body)
        email["Content-Language"] = message.language  # after: set_content drops Content-*
        return email

    def send(self, message: QueuedMessage) -> str:
        try:
            refused = self._send(message)
        except smtplib.SMTPRecipientsRefused as e:
            code, answer = next(iter(e.recipients.values()))
            raise _by_code(code, answer) from None
        except smtplib.SMTPResponseException as e:
            raise _by_code(e.smtp_code, e.smtp_error) from None
        except (smtplib.SMTPException, OSError) as e:
            self.close()
            raise DeliveryDeferredError(f"{type(e).__name__}: {_first_line(str(e))}") from None
        if refused:
            code, answer = next(iter(refused.values()))
            raise _by_code(code, answer)
        return "250 accepted"

    def _send(self, message: QueuedMessage) -> dict[str, tuple[int, bytes]]:
        """Send on the kept connection; one that the server closed meanwhile is
        opened again, once."""
        try:
            return self._connected().send_message(self.email(message))
        except smtplib.SMTPServerDisconnected:
            self.close()
            return self._connected().send_message(self.email(message))


def _by_code(code: int, answer: bytes | str) -> Exception:
    text = answer.decode(errors="replace") if isinstance(answer, bytes) else answer
    detail = f"{code} {_first_line(text)}"
    return DeliveryRefusedError(detail) if 500 <= code < 600 else DeliveryDeferredError(detail)


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:200]


class WebhookTransport:
    """POSTs the message's JSON, signed: to the outbox webhook (`url`), or to the
    customer's own webhook its recipient names (an https:// address from the
    customer's communication preferences)."""

    def __init__(
        self,
        url: str | None,
        secret: bytes,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        own_secrets: OwnSecrets | None = None,
    ) -> None:
        if not secret:
            raise ValueError(
                "the outbox webhook needs a signing secret (CASES_OUTBOX_WEBHOOK_SECRET)"
            )
        self.url = url
        self.secret = secret
        self.own_secrets = own_secrets
        self.clock = clock
        self.timeout = timeout
        self._client: httpx.Client | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, own_secrets: OwnSecrets | None = None
    ) -> WebhookTransport:
        secret = settings.outbox_webhook_secret
        return cls(
            settings.outbox_webhook_url,
            b"" if secret is None else secret.get_secret_value().encode(),
            timeout=settings.outbox_send_timeout,
            own_secrets=own_secrets,
        )

    def secrets_for(self, message: QueuedMessage) -> tuple[bytes, ...]:
        """A customer's own secrets for a message to its webhook, when it has any;
        otherwise the partner's."""
        if message.recipient != WEBHOOK_RECIPIENT and self.own_secrets is not None:
            own = self.own_secrets(message)
            if own:
                return own
        return (self.secret,)

    def send(self, message: QueuedMessage) -> str:
        url = self.url if message.recipient == WEBHOOK_RECIPIENT else message.recipient
        if url is None:
            raise DeliveryRefusedError("no outbox webhook is configured (CASES_OUTBOX_WEBHOOK_URL)")
        body = message.body.encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signatures_header(self.secrets_for(message), body, int(self.clock())),
            MESSAGE_ID_HEADER: str(message.message_id),
        }
        try:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout)
            answer = self._client.post(url, content=body, headers=headers)
        except httpx.TransportError as e:
            raise DeliveryDeferredError(f"{type(e).__name__}") from None
        detail = f"HTTP {answer.status_code}"
        if answer.is_success:
            return detail
        if answer.status_code >= 500 or answer.status_code in _RETRIED_HTTP:
            raise DeliveryDeferredError(detail)
        raise DeliveryRefusedError(detail)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
