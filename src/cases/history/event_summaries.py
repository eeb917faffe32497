"""One line of plain English per recorded event, for auditors and timelines."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from enum import Enum
from functools import lru_cache
from typing import Any

from cases.domain.case_values import Contact, Direction, VendorAdvisory
from cases.domain.support_terms import EscalationVehicle
from cases.history.billing_summaries import BILLING_SUMMARIES, delivery_summary
from cases.history.clock_summaries import CLOCK_SUMMARIES

Details = Mapping[str, Any]


def _words(value: object) -> str:
    if isinstance(value, Enum):
        value = value.value
    return str(value).replace("_", " ")


def _received(d: Details) -> str:
    contact: Contact = d["contact"]
    return (
        f"Received by {_words(d['channel'])} from {d['customer_id']} "
        f"({contact.name}): {d['title']!r}, {_words(d['category'])}, "
        f"{_words(d['severity'])}, {d['product']}; terms v{d['terms_version']}"
    )


def _health(d: Details) -> str:
    advisory: VendorAdvisory | None = d["advisory"]
    if advisory is None:
        return "Checked service health: no matching vendor issue"
    return (
        f"Checked service health: matches {_words(advisory.classification)} "
        f"{advisory.vendor_id} ({advisory.title})"
        + (f", {_words(advisory.status)} then" if advisory.status else "")
    )


def _communication(d: Details) -> str:
    way = "to the customer" if d["direction"] is Direction.OUTBOUND else "from the customer"
    return f"Message {way} by {_words(d['channel'])}: {_first_line(d['summary'])}"


def _escalated(d: Details) -> str:
    vehicle: EscalationVehicle | None = d["vehicle"]
    through = f" through {_words(vehicle)}" if vehicle else ""
    provider = d.get("provider")
    named = f" {provider}" if provider else ""
    return (
        f"Escalation {d['number']} to the {_words(d['target'])}{named}{through} "
        f"({_words(d['category'])}): {_first_line(d['reason'])}"
    )


CASE_SUMMARIES: dict[str, Callable[[Details], str]] = {
    "Received": _received,
    "DeliveryRecorded": delivery_summary,
    "ServiceHealthChecked": _health,
    "DiagnosisRecorded": lambda d: f"Diagnosis: {_first_line(d['findings'])}",
    "CommunicationRecorded": _communication,
    "WaitingOnCustomerStarted": lambda d: f"Waiting on the customer: {d['reason']}",
    "WaitingOnCustomerEnded": lambda d: f"No longer waiting on the customer: {d['reason']}",
    "Assigned": lambda d: f"Assigned to {d['agent_id']}",
    "SeverityChanged": lambda d: (
        f"Severity {_words(d['previous'])} -> {_words(d['severity'])}: {d['reason']}"
    ),
    "Escalated": _escalated,
    "VendorReferenceRecorded": lambda d: (
        f"Vendor reference for escalation {d['number']}: {d['reference']}"
    ),
    "VendorUpdateRecorded": lambda d: (
        f"Vendor update on escalation {d['number']}: {_first_line(d['text'])}"
    ),
    "HandedBack": lambda d: f"Escalation {d['number']} handed back: {_first_line(d['summary'])}",
    "Resolved": lambda d: f"Resolved ({_words(d['code'])}): {_first_line(d['summary'])}",
    "Closed": lambda _: "Closed",
    "Reopened": lambda d: f"Reopened: {d['reason']}",
    "NoteAdded": lambda d: f"Note: {_first_line(d['text'])}",
    "BillingAccountLinked": lambda d: f"Linked to billing account {d['account_id']}",
    "VendorRequestOpened": lambda d: (
        f"Vendor support request {d['request_id']} opened for escalation {d['number']} "
        f"({_words(d['status'])})"
    ),
    "VendorRequestStatusChanged": lambda d: (
        f"Vendor support request of escalation {d['number']}: {_words(d['status'])}"
    ),
    "VendorNoteImported": lambda d: (
        f"Vendor note on escalation {d['number']}: {_first_line(d['text'])}"
    ),
    "LinkedIncidentResolved": lambda d: (
        f"The vendor resolved {d['vendor_id']}, which the health check matched "
        f"({_words(d['status'])})"
    ),
    "Established": lambda _: "Support offering established",
    "TermsPublished": lambda d: (
        f"Support terms v{d['version']} published, in force from "
        f"{d['effective_from']:%Y-%m-%d %H:%M %Z}"
    ),
}

ADVISORY_SUMMARIES: dict[str, Callable[[Details], str]] = {
    "Advisory.Imported": lambda d: (
        f"Imported {d['facts'].vendor_id} ({_words(d['facts'].status)}): {d['facts'].title}"
    ),
    "Advisory.Revised": lambda d: (
        f"Revised by the vendor: {_words(d['facts'].status)}"
        + (", resolved" if d["facts"].is_resolved else "")
    ),
    "Advisory.CaseLinked": lambda d: f"Case {d['case_id']} linked by its health check",
    "VendorRequest.Opened": lambda d: (
        f"Vendor support request {d['request_id']} of case {d['case_id']}, escalation {d['number']}"
    ),
    "AdvisoryFeed.Started": lambda _: "Advisory import started",
    "AdvisoryFeed.PageImported": lambda d: (
        f"Advisory import page: {d['imported']} versions, "
        f"watermark {d['watermark']:%Y-%m-%d %H:%M:%S %Z}"
    ),
}

PRINCIPAL_SUMMARIES: dict[str, Callable[[Details], str]] = {
    "Principal.Registered": lambda d: (
        f"Principal {d['name']} registered as {_words(d['role'])}"
        + (f" for customer {d['customer_id']}" if d["customer_id"] else "")
    ),
    "Principal.Revoked": lambda d: f"Principal revoked: {d['reason']}",
    "Erasure.SubjectErased": lambda d: (
        f"Personal data of {_words(d['subject_kind'])} {d['subject_id']} erased "
        f"({d['legal_basis']}): {d['reason']}"
    ),
}


def _contact(d: Details) -> str:
    contact: Contact = d["contact"]
    return f"{contact.name}, reads {_words(d['language'])}"


def _relationship(d: Details) -> str:
    if d["indirect_provider"]:
        return f"through an indirect reseller ({d['indirect_provider']})"
    return "direct bill"


CUSTOMER_SUMMARIES: dict[str, Callable[[Details], str]] = {
    "Customer.Registered": lambda d: (
        f"Customer {d['customer_id']} ({d['display_name']}, {d['primary_domain']}) registered, "
        + _relationship(d)
    ),
    "Customer.Renamed": lambda d: f"Renamed {d['display_name']}",
    "Customer.TenantChanged": lambda d: (
        f"Tenant changed to {d['tenant_id']}, primary domain {d['primary_domain']}"
    ),
    "Customer.RelationshipChanged": lambda d: "Now " + _relationship(d),
    "Customer.PreferencesChanged": lambda _: "Communication preferences changed",
    "Customer.WebhookSecretSet": lambda d: (
        f"Webhook secret {d['secret'].fingerprint} set"
        + (
            f"; the previous one signs too until {d['previous_retires_at'].isoformat()}"
            if d["previous_retires_at"]
            else ""
        )
    ),
    "Customer.ContactListed": lambda d: (
        f"{_words(d['role']).capitalize()} contact {d['contact_id']} listed"
    ),
    "Customer.ContactUnlisted": lambda d: f"Contact {d['contact_id']} unlisted",
    "CustomerContact.Added": lambda d: (
        f"{_words(d['role']).capitalize()} contact of {d['customer_id']} added: {_contact(d)}"
    ),
    "CustomerContact.Changed": lambda d: f"Contact changed: {_contact(d)}",
    "CustomerContact.Removed": lambda _: "Contact removed from the directory",
}

# Keyed by `Aggregate.Event` (qualified) or, for case events, the event's name.
_SUMMARIES: dict[str, Callable[[Details], str]] = {
    **CASE_SUMMARIES,
    **CLOCK_SUMMARIES,
    **BILLING_SUMMARIES,
    **PRINCIPAL_SUMMARIES,
    **ADVISORY_SUMMARIES,
    **CUSTOMER_SUMMARIES,
}


def summarise(event_type: str, details: Details) -> str:
    """A one-line description of an event, from its type name and its fields."""
    return summariser(event_type)(details)


@lru_cache(maxsize=512)
def summariser(event_type: str) -> Callable[[Details], str]:
    """What describes an event of the type `event_type` from its fields (a
    timeline looks it up once a type, not once an event)."""
    name = event_type.rsplit(".", 1)[-1]
    describe = _SUMMARIES.get(event_type) or _SUMMARIES.get(name)
    if describe is not None:
        return describe

    def generic(details: Details) -> str:
        fields = ", ".join(f"{k}={_words(v)}" for k, v in details.items())
        return f"{_split_camel(name)}{': ' + fields if fields else ''}"

    return generic


def _first_line(text: str, limit: int = 100) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _split_camel(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).capitalize()
