"""Who did a thing, when, why and through which door: carried by every event.

The domain never makes these up. They arrive with each command as a
`CommandContext`, built by the application layer from the request, the
principal and an injected clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cases.domain.errors import InvalidMetadataError

BACKDATING_ALLOWANCE = timedelta(hours=72)
"""How long after an act it may still be recorded as happening then, unless the
actor may record late facts (ADR 32): a Friday-evening call logged on Monday."""


class Role(StrEnum):
    """Staff and customer roles (from the vendor's delegated-admin guidance)."""

    HELPDESK_AGENT = "helpdesk_agent"
    BILLING_ADMIN = "billing_admin"
    SALES_AGENT = "sales_agent"
    USER_MANAGEMENT_ADMIN = "user_management_admin"
    AUDITOR = "auditor"
    CUSTOMER = "customer"
    OPERATOR = "operator"  # runs the deployment: the outbox's dead letters (ADR 50)
    SYSTEM = "system"


class Source(StrEnum):
    """The door a change came in through."""

    API = "api"
    CLI = "cli"
    SCHEDULER = "scheduler"
    IMPORT = "import"


@dataclass(frozen=True, slots=True)
class Actor:
    """The principal that caused a change, and the role it acted in."""

    principal_id: str
    role: Role

    def __post_init__(self) -> None:
        if not self.principal_id.strip():
            raise InvalidMetadataError("actor principal id must not be blank")


@dataclass(frozen=True, slots=True)
class EventMetadata:
    """Audit facts recorded with every event."""

    actor: Actor
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None
    source: Source


@dataclass(frozen=True, slots=True)
class CommandContext:
    """Everything a command needs besides its own arguments.

    `occurred_at` is when the act happened in the world (a phone call logged
    later may be hours earlier); `recorded_at` is when the system records it.
    `backdating_allowance` is how far apart the two may be (the process's
    setting; see `cases.domain.dating`).
    """

    actor: Actor
    occurred_at: datetime
    recorded_at: datetime
    correlation_id: str
    source: Source
    causation_id: str | None = None
    backdating_allowance: timedelta = BACKDATING_ALLOWANCE

    def __post_init__(self) -> None:
        for name in ("occurred_at", "recorded_at"):
            moment: datetime = getattr(self, name)
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise InvalidMetadataError(f"{name} must carry a time zone")
        if self.occurred_at > self.recorded_at:
            raise InvalidMetadataError(
                "occurred_at is later than recorded_at: nothing can be recorded before it happens"
            )
        if not self.correlation_id.strip():
            raise InvalidMetadataError("correlation id must not be blank")
        if self.backdating_allowance < timedelta(0):
            raise InvalidMetadataError("the backdating allowance must not be negative")

    @property
    def metadata(self) -> EventMetadata:
        return EventMetadata(
            actor=self.actor,
            occurred_at=self.occurred_at,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
            source=self.source,
        )
