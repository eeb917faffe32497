"""Request and response shapes of the support-case resource."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from cases.api.schemas.common import AwareDatetime, Strict, example, fields_of
from cases.db.database import as_moment
from cases.domain.case_values import (
    AdvisoryClassification,
    CaseCategory,
    Contact,
    Direction,
    EscalationCategory,
    EscalationTarget,
    ResolutionCode,
    VendorAdvisory,
)
from cases.domain.support_case import SupportCase
from cases.domain.support_terms import Channel, EscalationVehicle, Severity

Text = Field(min_length=1, max_length=20_000)
Line = Field(min_length=1, max_length=500)
Occurred = Field(
    default=None,
    description="When the act happened, if earlier than now (staff only): not before the "
    "case's previous step, at most the backdating allowance ago; default now.",
)


class ContactIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=50)

    def domain_value(self) -> Contact:
        return Contact(**self.model_dump())


class ReceiveCase(Strict):
    """A customer's request, as taken in."""

    customer_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Required for staff; a customer principal may omit it (its own).",
    )
    contact: ContactIn | None = Field(
        default=None, description="The person asking; or pick one from the directory."
    )
    contact_id: UUID | None = Field(
        default=None,
        description="A contact of the customer in the directory, instead of `contact`.",
    )
    channel: Channel
    product: str = Field(min_length=1, max_length=500, examples=["Exchange Online"])
    category: CaseCategory
    severity: Severity
    title: str = Field(min_length=1, max_length=255)
    description: str = Text
    received_at: AwareDatetime | None = Field(
        default=None,
        description="When the request arrived (staff only: a customer's request arrives "
        "when recorded); at most the backdating allowance before now; default now.",
    )
    case_id: UUID | None = Field(
        default=None,
        description="Client-chosen id (optional, staff only): a customer principal may "
        "not choose it, so that no answer tells it which ids other customers' cases have.",
    )

    model_config = example(
        {
            "customer_id": "contoso",
            "contact": {"name": "Karin Lund", "email": "karin.lund@contoso.example"},
            "channel": "phone",
            "product": "Exchange Online",
            "category": "technical",
            "severity": "moderate",
            "title": "Outbound mail delayed by up to an hour",
            "description": "Since 07:30 mail to external recipients sits in the queue.",
        }
    )

    @model_validator(mode="after")
    def one_contact(self) -> ReceiveCase:
        if (self.contact is None) == (self.contact_id is None):
            raise ValueError("give either contact or contact_id (a directory contact)")
        return self


class AdvisoryIn(Strict):
    vendor_id: str = Field(min_length=3, max_length=20, examples=["EX226792"])
    classification: AdvisoryClassification
    title: str = Field(min_length=1, max_length=500)
    service: str = Field(min_length=1, max_length=200)

    def domain_value(self) -> VendorAdvisory:
        return VendorAdvisory(**self.model_dump())


class VendorRequestIn(Strict):
    """A Partner Center service request for the open escalation; its primary
    contact is the case's contact."""

    title: str = Field(min_length=1, max_length=255, pattern=r"^[^\x00]*$")
    description: str = Text
    severity: Severity
    support_topic_id: str = Field(min_length=1, max_length=100, examples=["32444671"])
    notes: str | None = Field(default=None, max_length=20_000, pattern=r"^[^\x00]*$")


class ServiceHealthCheck(Strict):
    advisory: AdvisoryIn | None = Field(
        default=None, description="The matching vendor advisory or incident; none if absent."
    )
    advisory_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{2,4}\d{3,9}$",
        examples=["EX226792"],
        description="An imported advisory the check matched, by the vendor's id: the "
        "check records what it says now and links the case to it (not with `advisory`).",
    )
    occurred_at: AwareDatetime | None = Occurred


class Diagnosis(Strict):
    findings: str = Text
    occurred_at: AwareDatetime | None = Occurred


class Communication(Strict):
    direction: Direction
    channel: Channel
    summary: str = Text
    occurred_at: AwareDatetime | None = Occurred


class Reason(Strict):
    reason: str = Line
    occurred_at: AwareDatetime | None = Occurred


class Assignment(Strict):
    agent_id: str = Field(min_length=1, max_length=100)


class SeverityChange(Strict):
    severity: Severity
    reason: str = Line


class Escalation(Strict):
    target: EscalationTarget
    category: EscalationCategory
    vehicle: EscalationVehicle | None = None
    reason: str = Text
    occurred_at: AwareDatetime | None = Occurred


class VendorReference(Strict):
    reference: str = Field(min_length=1, max_length=100)


class VendorUpdate(Strict):
    text: str = Text
    occurred_at: AwareDatetime | None = Occurred


class HandBack(Strict):
    summary: str = Text
    occurred_at: AwareDatetime | None = Occurred


class Resolution(Strict):
    code: ResolutionCode
    summary: str = Text
    occurred_at: AwareDatetime | None = Occurred


class Close(Strict):
    occurred_at: AwareDatetime | None = Occurred


class Note(Strict):
    text: str = Text


class BillingAccountLink(Strict):
    account_id: UUID


class CaseSummary(BaseModel):
    """A row of the case queue (a read model)."""

    id: UUID
    customer_id: str
    title: str
    product: str
    channel: str
    category: str
    severity: str
    status: str
    assignee: str | None
    received_at: datetime
    first_response_at: datetime | None
    last_update_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    escalation_open: bool
    escalation_vehicle: str | None
    vendor_reference: str | None
    matched_advisory: str | None
    vendor_attention: bool = Field(
        description="The vendor's support request for the open escalation needs the "
        "partner's attention (Partner Center status attention_needed)."
    )
    terms_version: int
    reopen_count: int
    billing_account_id: UUID | None
    version: int

    @classmethod
    def of(cls, row: dict[str, Any]) -> CaseSummary:
        return fields_of(cls, row, id=row["case_id"])


class CasePage(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class EscalationOut(BaseModel):
    number: int
    target: str
    category: str
    vehicle: str | None
    reason: str
    escalated_at: datetime
    vendor_reference: str | None
    vendor_status: str | None = None
    updates: list[dict[str, Any]]
    handed_back_at: datetime | None
    hand_back_summary: str | None


class CaseState(BaseModel):
    """The case as its events make it, at its latest version or an earlier one."""

    id: UUID
    version: int
    status: str
    customer_id: str
    contact: dict[str, Any]
    channel: str
    product: str
    category: str
    severity: str
    title: str
    description: str
    received_at: datetime
    terms_version: int
    assignee: str | None
    health_checked: bool
    matched_advisory: dict[str, Any] | None
    findings: list[str]
    first_response_at: datetime | None
    waiting_on_customer_since: datetime | None
    escalations: list[EscalationOut]
    resolution: dict[str, Any] | None
    closed_at: datetime | None
    reopen_count: int
    billing_account_id: UUID | None

    @classmethod
    def of(cls, case: SupportCase) -> CaseState:
        def plain(value: Any) -> Any:
            if value is None:
                return None
            return {k: getattr(value, k) for k in value.__dataclass_fields__}

        return fields_of(
            cls,
            case,
            contact=plain(case.contact),
            matched_advisory=plain(case.matched_advisory),
            escalations=[
                fields_of(EscalationOut, e, updates=[plain(u) for u in e.updates])
                for e in case.escalations
            ],
            resolution=plain(case.resolution),
        )


class OpenAdvisory(BaseModel):
    """An imported vendor advisory or incident still open, as last imported."""

    vendor_id: str
    classification: str
    title: str
    service: str
    feature_group: str | None
    status: str
    started_at: datetime
    last_modified_at: datetime
    linked_cases: int

    @classmethod
    def of(cls, row: dict[str, Any]) -> OpenAdvisory:
        return fields_of(
            cls,
            row,
            started_at=as_moment(row["started_at"]),
            last_modified_at=as_moment(row["last_modified_at"]),
            linked_cases=int(row["linked_cases"]),
        )
