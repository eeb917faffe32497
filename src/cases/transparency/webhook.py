"""A signed webhook: each new checkpoint POSTed to a URL an auditor controls.

The body is the checkpoint note (text/plain; charset=utf-8), or with
`as_json` a JSON object `{"origin", "size", "root_hash" (base64), "note"}`
(application/json) for receivers that route on fields. The header
`Cases-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
signs it as Stripe signs its webhooks, so a receiver can refuse forgeries and
replays (`verify_signature`, with a tolerance on `t`). Connection failures,
timeouts, 408, 429 and 5xx answers are retried with exponential backoff; any
other answer outside 2xx is final.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from cases.transparency.checkpoint import Checkpoint
from cases.transparency.witness import note_body

SIGNATURE_HEADER = "Cases-Signature"
_RETRIED_STATUSES = frozenset({408, 429})


class WebhookDeliveryError(RuntimeError):
    """The checkpoint could not be delivered; the message says why and after how many tries."""


def signature_header(secret: bytes, body: bytes, timestamp: int) -> str:
    """`t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>." || body)>`."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: bytes, body: bytes, header: str, now: float, tolerance: float = 300.0
) -> bool:
    """Is `header` a signature of `body` by `secret`, made within `tolerance` seconds of `now`?"""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(key, []).append(value)
    stamps = fields.get("t", [])
    if len(stamps) != 1 or not stamps[0].isdigit() or not stamps[0].isascii():
        return False
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature_header(secret, body, timestamp).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))


@dataclass
class WebhookWitness:
    """POSTs checkpoint notes to `url`, signed with `secret`, with retries."""

    url: str
    secret: bytes
    attempts: int = 5
    first_delay: float = 0.5
    timeout: float = 10.0
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    as_json: bool = False
    transport: httpx.BaseTransport | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError("a webhook's signing secret is not empty")
        if self.attempts < 1:
            raise ValueError("a webhook makes at least one attempt")

    def _body(self, note: str) -> tuple[bytes, str]:
        if not self.as_json:
            return note.encode(), "text/plain; charset=utf-8"
        checkpoint = Checkpoint.parse(note_body(note))
        fields = {
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root_hash": base64.b64encode(checkpoint.root_hash).decode(),
            "note": note,
        }
        return json.dumps(fields).encode(), "application/json"

    def send(self, note: str) -> int:
        """Deliver the note; the number of attempts it took. Raises WebhookDeliveryError."""
        body, content_type = self._body(note)
        last = "no attempt made"
        with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
            for attempt in range(1, self.attempts + 1):
                if attempt > 1:
                    self.sleep(self.first_delay * 2 ** (attempt - 2))
                headers = {
                    "Content-Type": content_type,
                    SIGNATURE_HEADER: signature_header(self.secret, body, int(self.clock())),
                }
                try:
                    answer = client.post(self.url, content=body, headers=headers)
                except httpx.TransportError as error:
                    last = f"{type(error).__name__}: {error}"
                    continue
                if answer.is_success:
                    return attempt
                last = f"HTTP {answer.status_code}"
                if answer.status_code < 500 and answer.status_code not in _RETRIED_STATUSES:
                    break
        raise WebhookDeliveryError(
            f"the checkpoint webhook {self.url} was not delivered after {attempt}"
            f" attempt(s): {last}"
        )
