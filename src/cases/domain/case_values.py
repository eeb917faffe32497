"""Values a support case is made of: who asked, what matched, how it escalated."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from cases.domain.errors import InvalidValueError
from cases.domain.support_terms import EscalationVehicle, PartnerKind
from cases.domain.text import LINE_LIMIT, TEXT_LIMIT, optional_text, required_text

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ADVISORY_ID = re.compile(r"^[A-Z]{2,4}\d{3,9}$")


class CaseCategory(StrEnum):
    """What a request is about; decides who handles it and what it needs."""

    TECHNICAL = "technical"
    BILLING = "billing"
    SUBSCRIPTION = "subscription"
    COMMERCIAL = "commercial"


class CaseStatus(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class AdvisoryClassification(StrEnum):
    ADVISORY = "advisory"
    INCIDENT = "incident"


class EscalationTarget(StrEnum):
    VENDOR = "vendor"
    INDIRECT_PROVIDER = "indirect_provider"


class EscalationCategory(StrEnum):
    """Kinds of problem; the vendor takes only the first six."""

    UNDOCUMENTED_PROBLEM = "undocumented_problem"
    SERVICE_UNAVAILABLE = "service_unavailable"
    SERVICE_DEFECT = "service_defect"
    NETWORK_DISRUPTION = "network_disruption"
    REGIONAL_MULTI_TENANT = "regional_multi_tenant"
    COMMERCIAL_PROBLEM = "commercial_problem"
    # The partner's own remit (baseline support): never the vendor's.
    CONFIGURATION = "configuration"
    HOW_TO = "how_to"
    DOCUMENTED_ISSUE = "documented_issue"

    @property
    def vendor_takes(self) -> bool:
        return self in _VENDOR_TAKES

    @property
    def is_commercial(self) -> bool:
        return self is EscalationCategory.COMMERCIAL_PROBLEM


_VENDOR_TAKES = frozenset(
    {
        EscalationCategory.UNDOCUMENTED_PROBLEM,
        EscalationCategory.SERVICE_UNAVAILABLE,
        EscalationCategory.SERVICE_DEFECT,
        EscalationCategory.NETWORK_DISRUPTION,
        EscalationCategory.REGIONAL_MULTI_TENANT,
        EscalationCategory.COMMERCIAL_PROBLEM,
    }
)


class ResolutionCode(StrEnum):
    FIXED_BY_PARTNER = "fixed_by_partner"
    FIXED_BY_VENDOR = "fixed_by_vendor"
    VENDOR_ISSUE_RESOLVED = "vendor_issue_resolved"
    WORKAROUND = "workaround"
    ANSWERED = "answered"
    NO_FAULT_FOUND = "no_fault_found"
    WITHDRAWN_BY_CUSTOMER = "withdrawn_by_customer"


@dataclass(frozen=True, slots=True)
class Contact:
    """The customer's person for this request (personal data: never logged)."""

    name: str
    email: str | None = None
    phone: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", required_text("contact name", self.name, 200))
        email = optional_text("contact e-mail", self.email, 254)
        if email is not None and not _EMAIL.match(email):
            raise InvalidValueError("contact e-mail is not an e-mail address")
        object.__setattr__(self, "email", email)
        object.__setattr__(self, "phone", optional_text("contact phone", self.phone, 50))
        if email is None and self.phone is None:
            raise InvalidValueError("a contact needs an e-mail address or a phone number")


@dataclass(frozen=True, slots=True)
class VendorAdvisory:
    """A documented vendor service-health issue, e.g. EX226792; an imported one
    also says its status and when the vendor last changed it, as it was then."""

    vendor_id: str
    classification: AdvisoryClassification
    title: str
    service: str
    status: str | None = None
    last_modified_at: datetime | None = None

    def __post_init__(self) -> None:
        vendor_id = self.vendor_id.strip().upper()
        if not _ADVISORY_ID.match(vendor_id):
            raise InvalidValueError(
                f"{self.vendor_id!r} is not a vendor service-health id like EX226792"
            )
        object.__setattr__(self, "vendor_id", vendor_id)
        object.__setattr__(self, "title", required_text("advisory title", self.title, 500))
        object.__setattr__(self, "service", required_text("advisory service", self.service, 200))


@dataclass(frozen=True, slots=True)
class EscalationPaths:
    """What the partner can escalate through at the moment of escalating."""

    partner_kind: PartnerKind
    held_vehicles: tuple[EscalationVehicle, ...]
    # The indirect provider named in the customer directory, if any.
    indirect_provider: str | None = None

    def holds(self, vehicle: EscalationVehicle) -> bool:
        return not vehicle.is_technical or vehicle in self.held_vehicles


@dataclass(frozen=True, slots=True)
class VendorUpdate:
    occurred_at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class Escalation:
    """One hand-over of a case to the vendor or the indirect provider."""

    number: int
    target: EscalationTarget
    category: EscalationCategory
    vehicle: EscalationVehicle | None
    reason: str
    escalated_at: datetime
    vendor_reference: str | None = None
    updates: tuple[VendorUpdate, ...] = ()
    handed_back_at: datetime | None = None
    hand_back_summary: str | None = None
    # A vendor support request opened for it (Partner Center): its status as
    # last imported, and how many of its notes were imported as updates.
    vendor_request: bool = False
    vendor_status: str | None = None
    vendor_notes: int = 0
    # The indirect provider the case went to, as the directory named it.
    provider: str | None = None

    @property
    def is_open(self) -> bool:
        return self.handed_back_at is None

    @property
    def needs_attention(self) -> bool:
        """The vendor marked its request as needing the partner's attention."""
        return self.is_open and self.vendor_status == "attention_needed"

    def with_request(self, request_id: str, status: str) -> Escalation:
        return replace(self, vendor_reference=request_id, vendor_request=True, vendor_status=status)

    def with_vendor_status(self, status: str) -> Escalation:
        return replace(self, vendor_status=status)

    def with_vendor_note(self, update: VendorUpdate) -> Escalation:
        return replace(self, updates=(*self.updates, update), vendor_notes=self.vendor_notes + 1)

    def with_reference(self, reference: str) -> Escalation:
        return replace(self, vendor_reference=reference)

    def with_update(self, update: VendorUpdate) -> Escalation:
        return replace(self, updates=(*self.updates, update))

    def handed_back(self, at: datetime, summary: str) -> Escalation:
        return replace(self, handed_back_at=at, hand_back_summary=summary)


@dataclass(frozen=True, slots=True)
class Resolution:
    code: ResolutionCode
    summary: str
    resolved_at: datetime


def summary_text(field: str, value: str) -> str:
    return required_text(field, value, TEXT_LIMIT)


def line_text(field: str, value: str) -> str:
    return required_text(field, value, LINE_LIMIT)
