"""The inventory of personal data: which stored field holds it, and whose it is.

Every field of every stored event class, of every stored value object and of
the snapshotted state of an aggregate that can hold personal data is decided
here, once (ADR 0044):

- **personal**: free text or contact details about a person. Stored sealed
  (AES-256-GCM) under the key of the record's *subject*, shown as `ERASED`
  once that key is thrown away. Only `str`, `str | None` and `tuple[str, ...]`
  fields may be personal (the placeholder is a string, so state keeps its type).
- **within**: a value object whose own fields are decided here.
- **kept**: not personal (ids, amounts, dates, codes, the facts of a case, and
  bookkeeping text about an organisation rather than a person).

`tests/unit/persistence/test_personal_data.py` walks every event class and
value object and fails on a field with no decision, and checks that
`docs/personal-data.md` lists this inventory as it is.

The subject of a record is its aggregate: a support case's personal fields
belong to the case's contact person (the subject id is the case id), a
principal's to that principal (its id). Events of other aggregates hold no
personal field.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final, get_args, get_type_hints

from cases.domain import (
    billing_values,
    case_values,
    collection_policy,
    customer_values,
    deliveries,
    metadata,
    money,
    service_clocks,
    support_offering,
    support_terms,
)
from cases.domain.advisory import Advisory, AdvisoryFacts, AdvisoryFeed, AdvisoryPost
from cases.domain.billing_account import BillingAccount
from cases.domain.case_clocks import ClockedCase
from cases.domain.customer import Customer, CustomerContact
from cases.domain.erasure import Erasure, SubjectKind
from cases.domain.principal import Principal
from cases.domain.support_case import SupportCase
from cases.domain.support_offering import SupportOffering
from cases.domain.vendor_request import VendorRequest

ERASED: Final = "erased"
"""What a personal field reads as once its subject's key is gone."""


SUBJECT_KINDS: Final[dict[type[object], SubjectKind]] = {
    SupportCase: SubjectKind.CONTACT,
    Principal: SubjectKind.PRINCIPAL,
    CustomerContact: SubjectKind.CUSTOMER_CONTACT,
}
"""Aggregates whose id is the subject of their records' personal fields."""


SEARCHABLE: Final[dict[type[object], dict[str, tuple[str, ...]]]] = {
    SupportCase.Received: {"name": ("contact", "name"), "email": ("contact", "email")},
    Principal.Registered: {"name": ("name",)},
    CustomerContact.Added: {"name": ("contact", "name"), "email": ("contact", "email")},
    CustomerContact.Changed: {"name": ("contact", "name"), "email": ("contact", "email")},
}
"""Personal values a subject can be found by (`cases privacy subjects`): the event
that records them, and the path of attributes to each. Only keyed digests of
them are kept (`subject_index`), and dropped on erasure."""


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


@dataclass(frozen=True)
class Fields:
    """The decision on each field of one class."""

    personal: frozenset[str] = field(default_factory=frozenset)
    within: frozenset[str] = field(default_factory=frozenset)
    kept: frozenset[str] = field(default_factory=frozenset)

    @property
    def decided(self) -> frozenset[str]:
        return self.personal | self.within | self.kept


def fields(personal: str = "", within: str = "", kept: str = "") -> Fields:
    return Fields(_names(personal), _names(within), _names(kept))


LIBRARY_FIELDS: Final = _names("originator_id originator_version timestamp originator_topic")
"""Fields every event has from eventsourcing: ids, versions, the recording moment."""

AUDITED_FIELDS: Final = fields(within="meta")
"""What `AuditedAggregate.Event` adds to every event: its `EventMetadata`."""

_CLOCK = "clock number"

EVENTS: Final[dict[type[object], Fields]] = {
    # A support case: its contact person is the subject.
    SupportCase.Received: fields(
        personal="title description",
        within="contact service_levels",
        kept="customer_id channel product category severity received_at terms_version "
        "reopen_window_days",
    ),
    SupportCase.ServiceHealthChecked: fields(within="advisory"),
    SupportCase.DiagnosisRecorded: fields(personal="findings"),
    SupportCase.CommunicationRecorded: fields(personal="summary", kept="direction channel"),
    SupportCase.WaitingOnCustomerStarted: fields(personal="reason"),
    SupportCase.WaitingOnCustomerEnded: fields(personal="reason"),
    SupportCase.Assigned: fields(kept="agent_id"),
    SupportCase.SeverityChanged: fields(personal="reason", kept="previous severity"),
    SupportCase.Escalated: fields(
        personal="reason", kept="number target category vehicle provider"
    ),
    SupportCase.VendorReferenceRecorded: fields(kept="number reference"),
    SupportCase.VendorUpdateRecorded: fields(personal="text", kept="number"),
    SupportCase.HandedBack: fields(personal="summary", kept="number"),
    SupportCase.Resolved: fields(personal="summary", kept="code"),
    SupportCase.Closed: fields(),
    SupportCase.Reopened: fields(personal="reason"),
    SupportCase.BillingAccountLinked: fields(kept="account_id"),
    SupportCase.NoteAdded: fields(personal="text"),
    SupportCase.LinkedIncidentResolved: fields(kept="vendor_id status"),
    SupportCase.VendorRequestOpened: fields(kept="number request_id status"),
    SupportCase.VendorRequestStatusChanged: fields(kept="number status"),
    SupportCase.VendorNoteImported: fields(personal="text", kept="number noted_at"),
    # The vendor's public service-health notices, about services, not people.
    Advisory.Imported: fields(within="facts"),
    Advisory.Revised: fields(within="facts"),
    Advisory.CaseLinked: fields(kept="case_id"),
    VendorRequest.Opened: fields(kept="case_id number request_id"),
    AdvisoryFeed.Started: fields(),
    AdvisoryFeed.PageImported: fields(kept="watermark imported"),
    ClockedCase.ServiceClockStarted: fields(kept=f"{_CLOCK} at target deadline since_received"),
    ClockedCase.ServiceClockPaused: fields(kept=f"{_CLOCK} at elapsed"),
    ClockedCase.ServiceClockResumed: fields(kept=f"{_CLOCK} at deadline"),
    ClockedCase.ServiceClockRetargeted: fields(
        kept=f"{_CLOCK} at severity target elapsed deadline"
    ),
    ClockedCase.ServiceClockBreached: fields(kept=f"{_CLOCK} at target"),
    ClockedCase.ServiceClockFulfilled: fields(
        kept=f"{_CLOCK} at elapsed calendar_elapsed target within_target"
    ),
    # The reason is the system's own words ("case resolved"), never typed in.
    ClockedCase.ServiceClockStopped: fields(kept=f"{_CLOCK} at elapsed reason"),
    ClockedCase.ServiceClockBreachDisproved: fields(kept=f"{_CLOCK} breached_at paused_at elapsed"),
    ClockedCase.ServiceClockBreachWithdrawn: fields(kept=f"{_CLOCK} breached_at fulfilled_at"),
    # A principal: the person is the subject.
    Principal.Registered: fields(personal="name", kept="role customer_id token_hash"),
    Principal.Revoked: fields(personal="reason"),
    # A billing account belongs to an organisation and is bookkeeping, kept for
    # seven years: its texts are staff's words about invoices, not about a person.
    BillingAccount.Opened: fields(kept="customer_id currency net_days billing_period time_zone"),
    BillingAccount.SubscriptionAdded: fields(kept="subscription_id product quantity paid_through"),
    BillingAccount.PrepaymentRecorded: fields(kept="subscription_id paid_through"),
    BillingAccount.InvoiceIssued: fields(
        within="period lines total", kept="number issued_on due_on"
    ),
    BillingAccount.PaymentReceived: fields(
        within="amount allocations unapplied", kept="reference received_on"
    ),
    BillingAccount.CreditApplied: fields(within="amount", kept="invoice_number"),
    BillingAccount.CreditNoteIssued: fields(
        within="amount released", kept="number invoice_number reason"
    ),
    BillingAccount.WrittenOff: fields(within="amount", kept="invoice_number reason"),
    BillingAccount.DisputeOpened: fields(kept="invoice_number reason"),
    BillingAccount.DisputeClosed: fields(kept="invoice_number outcome note"),
    BillingAccount.StageEntered: fields(
        within="stage", kept="policy_version invoice_number due_on day days_overdue"
    ),
    BillingAccount.ReminderSent: fields(
        within="amount_due overdue_total period overdue_invoices",
        kept="policy_version stage_days kind invoice_number due_on",
    ),
    BillingAccount.AccessSuspended: fields(
        kept="subscription_id product policy_version stage_days invoice_number"
    ),
    BillingAccount.AccessReinstated: fields(kept="subscription_id product reason"),
    # A customer is an organisation: its directory entry is kept. Each of its
    # contacts is a person, the subject of their own record (ADR 0048).
    Customer.Registered: fields(
        within="preferences",
        kept="customer_id display_name tenant_id primary_domain relationship indirect_provider",
    ),
    Customer.Renamed: fields(kept="display_name"),
    Customer.TenantChanged: fields(kept="tenant_id primary_domain"),
    Customer.RelationshipChanged: fields(kept="relationship indirect_provider"),
    Customer.PreferencesChanged: fields(within="preferences"),
    # Sealed by the application under the master key before it is recorded (ADR 68).
    Customer.WebhookSecretSet: fields(within="secret", kept="previous_retires_at"),
    Customer.ContactListed: fields(kept="contact_id role"),
    Customer.ContactUnlisted: fields(kept="contact_id"),
    CustomerContact.Added: fields(within="contact", kept="customer_id role language"),
    CustomerContact.Changed: fields(within="contact", kept="language"),
    CustomerContact.Removed: fields(),
    # Staff's words about an account's access and collection, as the other reasons.
    BillingAccount.AccessSuspendedByHand: fields(kept="subscription_id product reason"),
    BillingAccount.CollectionHeld: fields(kept="until reason"),
    BillingAccount.QuantityChanged: fields(
        kept="subscription_id product previous quantity effective_on reason"
    ),
    BillingAccount.SubscriptionCancelled: fields(
        kept="subscription_id product effective_on reason"
    ),
    BillingAccount.BillingCaseLinked: fields(kept="case_id"),
    # A message's outcome (ADR 50): the recipient is inside `delivery`.
    BillingAccount.DeliveryRecorded: fields(within="delivery"),
    SupportCase.DeliveryRecorded: fields(within="delivery"),
    # An erasure names the subject by id and the request, never the person.
    Erasure.SubjectErased: fields(kept="subject_id subject_kind reason legal_basis"),
    SupportOffering.Established: fields(),
    SupportOffering.TermsPublished: fields(within="terms", kept="version effective_from"),
    collection_policy.CollectionPolicy.Established: fields(),
    collection_policy.CollectionPolicy.Published: fields(
        within="terms", kept="version effective_from customer_text"
    ),
}
"""Each stored event class's own fields (beyond the library's and `meta`)."""

VALUE_OBJECTS: Final[dict[type[object], Fields]] = {
    case_values.Contact: fields(personal="name email phone"),
    case_values.VendorUpdate: fields(personal="text", kept="occurred_at"),
    case_values.Escalation: fields(
        personal="reason hand_back_summary",
        within="updates",
        kept="number target category vehicle escalated_at vendor_reference handed_back_at "
        "vendor_request vendor_status vendor_notes provider",
    ),
    case_values.Resolution: fields(personal="summary", kept="code resolved_at"),
    # A vendor's public service-health notice, not about a person.
    case_values.VendorAdvisory: fields(
        kept="vendor_id classification title service status last_modified_at"
    ),
    AdvisoryFacts: fields(
        within="posts",
        kept="vendor_id classification title service feature feature_group "
        "impact_description origin status is_resolved started_at ended_at last_modified_at",
    ),
    AdvisoryPost: fields(kept="created_at post_type text"),
    case_values.EscalationPaths: fields(kept="partner_kind held_vehicles indirect_provider"),
    customer_values.CommunicationPreferences: fields(kept="channels webhook_url opted_out"),
    customer_values.ListedContact: fields(kept="contact_id role"),
    customer_values.WebhookSecret: fields(kept="fingerprint sealed master_key_id retires_at"),
    metadata.Actor: fields(kept="principal_id role"),
    metadata.EventMetadata: fields(
        within="actor", kept="occurred_at correlation_id causation_id source"
    ),
    money.Money: fields(kept="amount currency"),
    # The recipient is a person's address (a case's contact, a billing contact).
    deliveries.Delivery: fields(
        personal="recipient", kept="message_id message channel outcome attempts detail"
    ),
    money.UnitPrice: fields(kept="amount currency"),
    # The partner's published terms: a company's offer, not a person's data.
    support_terms.SupportArrangement: fields(kept="model coverage provider_name"),
    support_terms.ServiceSpan: fields(kept="weekday start end"),
    support_terms.ServiceHours: fields(kept="time_zone weekly holiday_country holidays"),
    support_terms.ContactMethod: fields(kept="channel address"),
    support_terms.Pricing: fields(kept="charged description"),
    support_terms.ServiceLevelTarget: fields(
        kept="severity first_response_minutes next_update_minutes resolution_minutes "
        "vendor_hand_back_minutes"
    ),
    support_terms.SupportTerms: fields(
        within="arrangement service_hours contact_methods pricing targets",
        kept="vendor_name partner_kind held_vehicles reopen_window_days",
    ),
    support_offering.PublishedTerms: fields(within="terms", kept="version effective_from"),
    billing_values.InvoicePeriod: fields(kept="starts_on ends_on"),
    billing_values.InvoiceDue: fields(within="period outstanding", kept="number due_on"),
    billing_values.InvoiceLine: fields(within="unit_price", kept="description quantity"),
    billing_values.Allocation: fields(within="amount", kept="invoice_number"),
    billing_values.Invoice: fields(
        within="period lines total settled credited written_off",
        kept="number issued_on due_on disputed stages_entered",
    ),
    billing_values.Subscription: fields(
        within="changes",
        kept="subscription_id product quantity paid_through access suspended_at_days cancelled_on",
    ),
    billing_values.SeatChange: fields(kept="effective_on previous quantity"),
    collection_policy.CollectionStage: fields(kept="days action products"),
    collection_policy.CollectionTerms: fields(within="stages", kept="spare_paid_in_advance"),
    collection_policy.PublishedPolicy: fields(
        within="terms", kept="version effective_from customer_text"
    ),
    service_clocks.ServiceLevelTerms: fields(within="service_hours targets"),
    service_clocks.ServiceClock: fields(
        kept="kind number started_at target elapsed running_since deadline last_change "
        "breached_at finished_at fulfilled"
    ),
}
"""Each stored value object's fields."""

SNAPSHOTS: Final[dict[type[object], Fields]] = {
    SupportCase: fields(
        personal="title description findings",
        within="contact matched_advisory escalations resolution service_levels clocks",
        kept="customer_id channel product category severity received_at terms_version "
        "reopen_window_days health_checked incident_resolved started_work communications "
        "first_response_at "
        "waiting_on_customer_since assignee closed_at reopen_count note_count "
        "billing_account_id _course_changed_at",
    ),
    CustomerContact: fields(within="contact", kept="customer_id role language removed"),
}
"""The snapshotted state of the subjects' aggregates (their attributes)."""


def decision(cls: type[Any]) -> Fields | None:
    """The decision on a class's fields: its own, or the nearest base class's
    (an aggregate's subclass redefines the events it inherits)."""
    for klass in cls.__mro__:
        for table in (EVENTS, VALUE_OBJECTS, SNAPSHOTS):
            decided = table.get(klass)
            if decided is not None:
                return decided
    return None


def personal_fields(cls: type[Any]) -> frozenset[str]:
    """The personal fields of an event class, a value object or a snapshotted
    aggregate (none for a class not in the inventory)."""
    decided = decision(cls)
    return frozenset() if decided is None else decided.personal


def _classes_in(annotation: Any) -> Iterator[type[Any]]:
    """The classes an annotation names (`X`, `X | None`, `tuple[X, ...]`)."""
    if isinstance(annotation, type) and not get_args(annotation):
        yield annotation
    for argument in get_args(annotation):
        yield from _classes_in(argument)


def personal_anywhere(cls: type[Any]) -> bool:
    """Whether a value object can hold a personal field: of its own, or in a value
    object within it, at any depth. An undecided class counts as one that can."""
    decided = decision(cls)
    if decided is None:
        return True
    if decided.personal:
        return True
    hints = get_type_hints(cls)
    return any(
        personal_anywhere(inner)
        for name in decided.within
        for inner in _classes_in(hints[name])
        if inner is not type(None)
    )


def subject_kind(aggregate_cls: type[object]) -> SubjectKind | None:
    """The kind of subject an aggregate class's id names, if its records hold any."""
    for cls in aggregate_cls.__mro__:
        kind = SUBJECT_KINDS.get(cls)
        if kind is not None:
            return kind
    return None


def _topic(cls: type[object]) -> str:
    return f"{cls.__module__.removeprefix('cases.domain.')}:{cls.__qualname__}"


def inventory_table() -> str:
    """The inventory as the Markdown table `docs/personal-data.md` holds."""
    lines = [
        "| Stored as | Class | Personal (sealed under the subject) | Value objects within | Kept |",
        "| --- | --- | --- | --- | --- |",
    ]
    for kind, table in (("event", EVENTS), ("value", VALUE_OBJECTS), ("snapshot", SNAPSHOTS)):
        for cls, decided in table.items():
            cells = [
                ", ".join(sorted(names)) or "-"
                for names in (decided.personal, decided.within, decided.kept)
            ]
            lines.append(f"| {kind} | `{_topic(cls)}` | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"
