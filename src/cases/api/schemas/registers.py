"""Shapes of the registers staff and auditors read: the case timeline (one entry
per support-case event) and the escalation register (one entry per escalation)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Self
from uuid import UUID

from pydantic import BaseModel, Field

from cases.db.database import as_moment


class _RegisterRow(BaseModel):
    """A shape read off a register's row: its stored moments (text on SQLite) as
    datetimes, its ids (UUIDs on PostgreSQL) as text; a null stays null."""

    moments: ClassVar[tuple[str, ...]] = ()
    texts: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def of(cls, row: dict[str, Any]) -> Self:
        moments = {c: None if row[c] is None else as_moment(row[c]) for c in cls.moments}
        texts = {c: None if row[c] is None else str(row[c]) for c in cls.texts}
        return cls.model_validate({**row, **moments, **texts})


class TimelineEntryOut(_RegisterRow):
    """One event of a support case, with who did it, when, and why (ids)."""

    case_id: UUID
    version: int
    position: int = Field(description="The event's position in the log.")
    event_type: str = Field(examples=["Escalated"])
    occurred_at: datetime = Field(description="When the act happened, as the actor dated it.")
    recorded_at: datetime
    principal_id: str
    role: str
    correlation_id: str = Field(description="The request (or scheduled run) that recorded it.")
    causation_id: str | None
    source: str
    summary: str = Field(description="The event in plain English.")

    moments = ("occurred_at", "recorded_at")
    texts = ("case_id", "correlation_id", "causation_id")


class TimelineOut(BaseModel):
    entries: list[TimelineEntryOut]
    truncated: bool = Field(
        description="True when more entries matched than `limit`: narrow the period."
    )


class EscalationOut(_RegisterRow):
    """One escalation of a case, and what the vendor did with it since."""

    case_id: UUID
    number: int = Field(description="The escalation's number within its case, from 1.")
    customer_id: str
    target: str
    category: str
    vehicle: str | None = Field(description="Null for an escalation to the indirect provider.")
    reason: str
    escalated_at: datetime
    vendor_reference: str | None
    vendor_update_count: int
    last_vendor_update_at: datetime | None
    handed_back_at: datetime | None

    moments = ("escalated_at", "last_vendor_update_at", "handed_back_at")
    texts = ("case_id",)


class EscalationsOut(BaseModel):
    escalations: list[EscalationOut]


class EscalationCountOut(BaseModel):
    vehicle: str | None = Field(description="Null: escalations to the indirect provider.")
    category: str
    count: int


class EscalationCountsOut(BaseModel):
    """How many escalations went through each vehicle, per problem category."""

    total: int
    counts: list[EscalationCountOut]
