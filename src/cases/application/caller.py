"""Who is calling the application, from where, in answer to what."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import uuid4

from cases.domain.metadata import BACKDATING_ALLOWANCE, Actor, CommandContext, Source

if TYPE_CHECKING:
    from cases.application.idempotent_request import IdempotentRequest


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated principal and the request it is making.

    `occurred_at` is set when the caller reports something that happened
    earlier (a phone call logged later); otherwise the act happens now.
    `request` is the Idempotency-Key the request was sent with, if any.
    """

    actor: Actor
    source: Source
    correlation_id: str
    causation_id: str | None = None
    occurred_at: datetime | None = None
    request: IdempotentRequest | None = None

    @classmethod
    def new(cls, actor: Actor, source: Source) -> Caller:
        return cls(actor=actor, source=source, correlation_id=str(uuid4()))

    def at(self, occurred_at: datetime) -> Caller:
        return replace(self, occurred_at=occurred_at)

    def context(
        self, now: datetime, backdating_allowance: timedelta = BACKDATING_ALLOWANCE
    ) -> CommandContext:
        return CommandContext(
            actor=self.actor,
            occurred_at=self.occurred_at or now,
            recorded_at=now,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
            source=self.source,
            backdating_allowance=backdating_allowance,
        )
