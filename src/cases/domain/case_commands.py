"""What may be asked of a support case: one frozen value per command (ADR 0039).

Each command is declared here once, in the domain's words and values; the API
builds it from its request body, the support desk carries it, and the case
decides on it. The events the case records keep their own fields.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from cases.domain import case_values as v
from cases.domain.command import command
from cases.domain.deliveries import RecordDelivery
from cases.domain.support_terms import Channel, EscalationVehicle, Severity


@command
class TakeIn:
    """Take in a customer's request, received at `received_at` (None: when the
    intake happens), under the id `case_id` (None: a new one), from `contact` or
    the customer's directory contact `contact_id`."""

    customer_id: str
    contact: v.Contact | None
    channel: Channel
    product: str
    category: v.CaseCategory
    severity: Severity
    title: str
    description: str
    received_at: datetime | None = None
    case_id: UUID | None = None
    contact_id: UUID | None = None


@command
class CheckServiceHealth:
    """Record the vendor service-health check and the advisory it matched, if any:
    described (`advisory`), or named by the vendor's id among those imported
    (`advisory_id`), whose current version the check then records."""

    advisory: v.VendorAdvisory | None = None
    advisory_id: str | None = None


@command
class RecordDiagnosis:
    """Record what diagnosing the problem found."""

    findings: str


@command
class RecordCommunication:
    """Record a message to or from the customer."""

    direction: v.Direction
    channel: Channel
    summary: str


@command
class WaitOnCustomer:
    """Pause the customer clock: the case waits on the customer, for `reason`."""

    reason: str


@command
class StopWaitingOnCustomer:
    """End a wait on the customer without a reply from them."""

    reason: str


@command
class Assign:
    """Give the case to an agent."""

    agent_id: str


@command
class ChangeSeverity:
    """Judge the case more or less severe, with the reason."""

    severity: Severity
    reason: str


@command
class Escalate:
    """Hand the case to the vendor or the indirect provider, through `vehicle`
    (to the vendor: a support vehicle the partner holds; to the provider: none)."""

    target: v.EscalationTarget
    category: v.EscalationCategory
    vehicle: EscalationVehicle | None
    reason: str


@command
class RecordVendorReference:
    """Note the vendor's reference for the open escalation."""

    reference: str


@command
class OpenVendorRequest:
    """Open a support request with the vendor for the open escalation (Partner
    Center `ServiceRequest`), with the case's contact as its primary contact."""

    title: str
    description: str
    severity: Severity
    support_topic_id: str
    notes: str | None = None


@command
class RecordVendorUpdate:
    """Note news from the vendor on the open escalation."""

    text: str


@command
class RecordHandBack:
    """Note that the vendor handed the case back, and what it said."""

    summary: str


@command
class Resolve:
    """Resolve the case, recording how."""

    code: v.ResolutionCode
    summary: str


@command
class Close:
    """Close a resolved case."""


@command
class Reopen:
    """Open a resolved case again, or a closed one within its terms' window."""

    reason: str


@command
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
    | RecordDelivery
)
"""A command on a case that exists (taking one in is `TakeIn`)."""
