"""What the outbox holds: one message to one recipient, with a stable id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from cases.domain.identity import derived_id


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class Status(StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt
    DELIVERED = "delivered"
    FAILED = "failed"  # dead-lettered: retried for the whole period in vain
    BOUNCED = "bounced"  # dead-lettered: refused for good
    ERASED = "erased"  # its subject was erased before it was sent: never sent

    @property
    def is_dead(self) -> bool:
        return self in {Status.FAILED, Status.BOUNCED}


WEBHOOK_RECIPIENT = "webhook"


def event_id(originator_id: UUID, version: int) -> str:
    """An event's id: its aggregate and version (unique in the log)."""
    return f"{originator_id}:{version}"


def message_id(event: str, recipient: str) -> UUID:
    """Stable: the same event to the same recipient is always the same message."""
    return derived_id("outbox", event, recipient.casefold())


@dataclass(frozen=True, slots=True)
class Message:
    """What every message is, new or queued: the event it comes of, where its outcome
    is recorded, and to whom it goes with what text."""

    message_id: UUID
    event_id: str
    aggregate_kind: str  # "account" or "case": where its outcome is recorded
    aggregate_id: UUID
    kind: str
    channel: Channel
    recipient: str
    language: str
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class NewMessage(Message):
    """A message derived from an event, before it is queued."""

    subject_id: UUID | None  # the data subject whose erasure drops it


@dataclass(frozen=True, slots=True)
class QueuedMessage(Message):
    """A message as the outbox holds it."""

    status: Status
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None
    deferral_recorded: bool
    period_started_at: datetime | None = None  # the current retry period's first attempt
    operator_retries: int = 0
