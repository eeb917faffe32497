"""What may be asked of a support case: one frozen value per command (ADR 0039).

Each command is declared here once, in the domain's words and values; the API
builds it from its request body, the support desk carries it, and the case
decides on it. The events the case records keep their own fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from cases.domain.case_values import (
    CaseCategory,
    Contact,
    Direction,
    EscalationCategory,
    EscalationTarget,
    ResolutionCode,
    VendorAdvisory,
)
from cases.domain.support_terms import Channel, EscalationVehicle, Severity


@dataclass(frozen=True, slots=True)
class TakeIn:
    """Take in a customer's request, received at `received_at` (None: when the
    intake happens), under the id `case_id` (None: a new one)."""

    customer_id: str
    contact: Contact
    channel: Channel
    product: str
    category: CaseCategory
    severity: Severity
    title: str
    description: str
    received_at: datetime | None = None
    case_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class CheckServiceHealth:
    """Record the vendor service-health check and the advisory it matched, if any."""

    advisory: VendorAdvisory | None = None


@dataclass(frozen=True, slots=True)
class RecordDiagnosis:
    findings: str


@dataclass(frozen=True, slots=True)
class RecordCommunication:
    direction: Direction
    channel: Channel
    summary: str


@dataclass(frozen=True, slots=True)
class WaitOnCustomer:
    reason: str


@dataclass(frozen=True, slots=True)
class StopWaitingOnCustomer:
    reason: str


@dataclass(frozen=True, slots=True)
class Assign:
    agent_id: str


@dataclass(frozen=True, slots=True)
class ChangeSeverity:
    severity: Severity
    reason: str


@dataclass(frozen=True, slots=True)
class Escalate:
    target: EscalationTarget
    category: EscalationCategory
    vehicle: EscalationVehicle | None
    reason: str


@dataclass(frozen=True, slots=True)
class RecordVendorReference:
    reference: str


@dataclass(frozen=True, slots=True)
class RecordVendorUpdate:
    text: str


@dataclass(frozen=True, slots=True)
class RecordHandBack:
    summary: str


@dataclass(frozen=True, slots=True)
class Resolve:
    code: ResolutionCode
    summary: str


@dataclass(frozen=True, slots=True)
class Close:
    """Close a resolved case."""


@dataclass(frozen=True, slots=True)
class Reopen:
    reason: str


@dataclass(frozen=True, slots=True)
class AddNote:
    text: str


CaseCommand = (
    CheckServiceHealth
    | RecordDiagnosis
    | RecordCommunication
    | WaitOnCustomer
    | StopWaitingOnCustomer
    | Assign
    | ChangeSeverity
    | Escalate
    | RecordVendorReference
    | RecordVendorUpdate
    | RecordHandBack
    | Resolve
    | Close
    | Reopen
    | AddNote
)
"""A command on a case that exists (taking one in is `TakeIn`)."""
