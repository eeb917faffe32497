"""A support request opened with the vendor (Partner Center `ServiceRequest`) for
a case's escalation: the link from the vendor's request id back to the case,
recorded with the case's `VendorRequestOpened` in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from cases.domain.audited import AuditedAggregate
from cases.domain.case_values import Contact
from cases.domain.identity import derived_id
from cases.domain.metadata import CommandContext
from cases.domain.support_terms import Severity


def vendor_request_key(request_id: str) -> UUID:
    """The aggregate id of the link for the vendor's request `request_id`."""
    return derived_id("vendor-request", request_id.strip())


@dataclass(frozen=True, slots=True)
class VendorRequestDraft:
    """What a new vendor support request says, checked (never stored: it is sent)."""

    title: str
    description: str
    severity: Severity
    support_topic_id: str
    contact: Contact
    customer_id: str
    notes: str | None


class VendorRequest(AuditedAggregate):
    """Which case and escalation the vendor's request belongs to."""

    class Opened(AuditedAggregate.Created):
        case_id: UUID
        number: int
        request_id: str

    def __init__(self, *, case_id: UUID, number: int, request_id: str) -> None:
        self.case_id = case_id
        self.number = number
        self.request_id = request_id

    @classmethod
    def open(
        cls, ctx: CommandContext, case_id: UUID, number: int, request_id: str
    ) -> VendorRequest:
        return cls._start(
            cls.Opened,
            ctx,
            vendor_request_key(request_id),
            case_id=case_id,
            number=number,
            request_id=request_id,
        )
