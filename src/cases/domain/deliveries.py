"""What became of a message sent on an account's or a case's behalf (ADR 50).

The outbox sends; the aggregate the message came from records the outcome, so
its history and replay say "final warning delivered to ekonomi@… at 08:02".
Each outcome of a message is recorded once: asked again (a worker that died
after sending and before marking), the command records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from cases.domain.command import command
from cases.domain.text import required_text


class DeliveryOutcome(StrEnum):
    """What one attempt, or the last, came to."""

    DELIVERED = "delivered"  # the server or receiver took it
    DEFERRED = "deferred"  # not yet: it will be tried again (recorded at the first deferral)
    FAILED = "failed"  # given up after the retry period: dead-lettered
    BOUNCED = "bounced"  # refused for good (a 5xx recipient, a 4xx answer)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outcome of one message: which (its stable id and kind), how, to whom."""

    message_id: UUID
    message: str  # its kind: "final_warning", "case_communication", …
    channel: str  # "email" or "webhook"
    recipient: str
    outcome: DeliveryOutcome
    attempts: int
    detail: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "recipient", required_text("recipient", self.recipient, 320))
        object.__setattr__(self, "detail", self.detail[:500])

    @property
    def key(self) -> str:
        """What is recorded at most once: the message and this outcome."""
        return f"{self.message_id}:{self.outcome.value}"


@command
class RecordDelivery:
    """Record what became of a message sent on the aggregate's behalf."""

    delivery: Delivery


class DeliveryFact:
    """What a recorded outcome does to its aggregate (a mixin, not an event: each
    aggregate's `DeliveryRecorded` declares `delivery` itself)."""

    delivery: Delivery

    def apply(self, aggregate: Any) -> None:
        history: DeliveryHistory = aggregate
        history.recorded(self.delivery)


class DeliveryHistory:
    """The outcomes an aggregate has recorded (mixed into an aggregate's state)."""

    deliveries_recorded: tuple[str, ...] = ()  # `Delivery.key`s; absent from old snapshots

    def has_recorded(self, delivery: Delivery) -> bool:
        return delivery.key in self.deliveries_recorded

    def recorded(self, delivery: Delivery) -> None:
        self.deliveries_recorded = (*self.deliveries_recorded, delivery.key)
