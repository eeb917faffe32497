"""What may be asked of a support case: one frozen value per command (ADR 0039).

Each command is declared here once, in the domain's words and values; the API
builds it from its request body, the support desk carries it, and the case
decides on it. The events the case records keep their own fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from cases.domain import case_values as v
from cases.domain.support_terms import Channel, EscalationVehicle, Severity


@dataclass(frozen=True, slots=True)
class TakeIn:
    """Take in a customer's request, received at `received_at` (None: when the
    intake happens), under the id `case_id` (None: a new one)."""

    customer_id: str
    contact: v.Contact
    channel: Channel
    product: str
    category: v.CaseCategory
    severity: Severity
    title: str
    description: str
    received_at: datetime | None = None
    case_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class CheckServiceHealth:
    """Record the vendor service-health check and the advisory it matched, if any."""

    advisory: v.VendorAdvisory | None = None


@dataclass(frozen=True, slots=True)
class RecordDiagnosis:
    """Record what diagnosing the problem found."""

    findings: str


@dataclass(frozen=True, slots=True)
class RecordCommunication:
    """Record a message to or from the customer."""

    direction: v.Direction
    channel: Channel
    summary: str


@dataclass(frozen=True, slots=True)
class WaitOnCustomer:
    """Pause the customer clock: the case waits on the customer, for `reason`."""

    reason: str


@dataclass(frozen=True, slots=True)
class StopWaitingOnCustomer:
    """End a wait on the customer without a reply from them."""

    reason: str


@dataclass(frozen=True, slots=True)
class Assign:
    """Give the case to an agent."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class ChangeSeverity:
    """Judge the case more or less severe, with the reason."""

    severity: Severity
    reason: str


@dataclass(frozen=True, slots=True)
class Escalate:
    """Hand the case to the vendor or the indirect provider, through `vehicle`
    (to the vendor: a support vehicle the partner holds; to the provider: none)."""

    target: v.EscalationTarget
    category: v.EscalationCategory
    vehicle: EscalationVehicle | None
    reason: str


@dataclass(frozen=True, slots=True)
class RecordVendorReference:
    """Note the vendor's reference for the open escalation."""

    reference: str


@dataclass(frozen=True, slots=True)
class RecordVendorUpdate:
    """Note news from the vendor on the open escalation."""

    text: str


@dataclass(frozen=True, slots=True)
class RecordHandBack:
    """Note that the vendor handed the case back, and what it said."""

    summary: str


@dataclass(frozen=True, slots=True)
class Resolve:
    """Resolve the case, recording how."""

    code: v.ResolutionCode
    summary: str


@dataclass(frozen=True, slots=True)
class Close:
    """Close a resolved case."""


@dataclass(frozen=True, slots=True)
class Reopen:
    """Open a resolved case again, or a closed one within its terms' window."""

    reason: str


@dataclass(frozen=True, slots=True)
class AddNote:
    """Add an internal note (never shown to the customer)."""

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
