"""Shapes of the registers staff and auditors read: the case timeline (one entry
per support-case event) and the escalation register (one entry per escalation)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from cases.db.database import as_moment


def _moment(value: object) -> datetime | None:
    return None if value is None else as_moment(value)


class TimelineEntryOut(BaseModel):
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

    @classmethod
    def of(cls, row: dict[str, Any]) -> TimelineEntryOut:
        return cls.model_validate(
            {
                **row,
                "case_id": str(row["case_id"]),
                "occurred_at": as_moment(row["occurred_at"]),
                "recorded_at": as_moment(row["recorded_at"]),
                "correlation_id": str(row["correlation_id"]),
                "causation_id": None if row["causation_id"] is None else str(row["causation_id"]),
            }
        )


class TimelineOut(BaseModel):
    entries: list[TimelineEntryOut]
    truncated: bool = Field(
        description="True when more entries matched than `limit`: narrow the period."
    )


class EscalationOut(BaseModel):
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

    @classmethod
    def of(cls, row: dict[str, Any]) -> EscalationOut:
        return cls.model_validate(
            {
                **row,
                "case_id": str(row["case_id"]),
                "escalated_at": as_moment(row["escalated_at"]),
                "last_vendor_update_at": _moment(row["last_vendor_update_at"]),
                "handed_back_at": _moment(row["handed_back_at"]),
            }
        )


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
