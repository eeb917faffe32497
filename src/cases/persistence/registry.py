"""The domain's value types and the stable names they are stored under.

A name here is written into stored events and snapshots: never rename one.
A test checks that every enum and dataclass of `cases.domain` is listed.
"""

from __future__ import annotations

from datetime import time, timedelta
from enum import Enum
from typing import get_args

from eventsourcing.persistence import Transcoding

from cases.domain import (
    advisory,
    billing_commands,
    billing_values,
    case_commands,
    case_values,
    collection_policy,
    customer_commands,
    customer_values,
    deliveries,
    erasure,
    metadata,
    money,
    permissions,
    service_clocks,
    support_offering,
    support_terms,
    vendor_request,
    versions,
)
from cases.persistence.personal_data import personal_anywhere, personal_fields
from cases.persistence.sealing import SealedAsToken, Sealer, SealingDataclassAsDict
from cases.persistence.transcoder import (
    DataclassAsDict,
    EnumAsValue,
    IsoFormatted,
    OrjsonTranscoder,
    default_transcoder,
)


class TimeAsISO(IsoFormatted[time]):
    """A naive wall-clock time (service hours are local to the terms' zone)."""

    type = time
    name = "time_iso"


ENUMS: dict[str, type[Enum]] = {
    "role": metadata.Role,
    "source": metadata.Source,
    "severity": support_terms.Severity,
    "channel": support_terms.Channel,
    "support_model": support_terms.SupportModel,
    "coverage": support_terms.Coverage,
    "partner_kind": support_terms.PartnerKind,
    "escalation_vehicle": support_terms.EscalationVehicle,
    "case_category": case_values.CaseCategory,
    "case_status": case_values.CaseStatus,
    "direction": case_values.Direction,
    "advisory_classification": case_values.AdvisoryClassification,
    "escalation_target": case_values.EscalationTarget,
    "escalation_category": case_values.EscalationCategory,
    "resolution_code": case_values.ResolutionCode,
    "billing_period": billing_values.BillingPeriod,
    "access_state": billing_values.AccessState,
    "dispute_outcome": billing_values.DisputeOutcome,
    "stage_action": collection_policy.StageAction,
    "clock_kind": service_clocks.ClockKind,
    "subject_kind": erasure.SubjectKind,
    "relationship": customer_values.Relationship,
    "contact_role": customer_values.ContactRole,
    "language": customer_values.Language,
    "notice_channel": customer_values.NoticeChannel,
    "optional_notice": customer_values.OptionalNotice,
    "delivery_outcome": deliveries.DeliveryOutcome,
}

VALUE_OBJECTS: dict[str, type[object]] = {
    "actor": metadata.Actor,
    "event_metadata": metadata.EventMetadata,
    "money": money.Money,
    "unit_price": money.UnitPrice,
    "support_arrangement": support_terms.SupportArrangement,
    "service_span": support_terms.ServiceSpan,
    "service_hours": support_terms.ServiceHours,
    "contact_method": support_terms.ContactMethod,
    "pricing": support_terms.Pricing,
    "service_level_target": support_terms.ServiceLevelTarget,
    "support_terms": support_terms.SupportTerms,
    "published_terms": support_offering.PublishedTerms,
    "contact": case_values.Contact,
    "vendor_advisory": case_values.VendorAdvisory,
    "escalation_paths": case_values.EscalationPaths,
    "advisory_facts": advisory.AdvisoryFacts,
    "advisory_post": advisory.AdvisoryPost,
    "vendor_update": case_values.VendorUpdate,
    "escalation": case_values.Escalation,
    "resolution": case_values.Resolution,
    "invoice_period": billing_values.InvoicePeriod,
    "invoice_line": billing_values.InvoiceLine,
    "allocation": billing_values.Allocation,
    "invoice": billing_values.Invoice,
    "subscription": billing_values.Subscription,
    "invoice_due": billing_values.InvoiceDue,
    "seat_change": billing_values.SeatChange,
    "collection_stage": collection_policy.CollectionStage,
    "collection_terms": collection_policy.CollectionTerms,
    "published_policy": collection_policy.PublishedPolicy,
    "delivery": deliveries.Delivery,
    "service_level_terms": service_clocks.ServiceLevelTerms,
    "service_clock": service_clocks.ServiceClock,
    "communication_preferences": customer_values.CommunicationPreferences,
    "listed_contact": customer_values.ListedContact,
    "webhook_secret": customer_values.WebhookSecret,
}

# Value objects stored again and again with the same data, immutable all the way
# down and holding no personal field at any depth: decoding hands back the object
# decoded before from the same data (ADR 0087). A case's service-level terms are
# about 40 tagged objects in every `Received` and case snapshot, and one value for
# nearly every case; an event's actor is one of a few hundred principals.
REPEATED: frozenset[str] = frozenset({"service_level_terms", "actor"})

# Types that belong to commands or the API only and are never stored: among them
# the commands themselves, asked and decided on, never recorded (ADR 0039), and
# the words a kind of versions refuses in.
NOT_STORED: frozenset[type[object]] = frozenset(
    {
        metadata.CommandContext,
        versions.Refusals,
        permissions.Permission,
        case_commands.TakeIn,
        *get_args(case_commands.CaseCommand),
        billing_commands.OpenAccount,
        billing_values.SubscriptionPrice,
        vendor_request.VendorRequestDraft,
        case_commands.OpenVendorRequest,
        *get_args(billing_commands.AccountCommand),
        customer_commands.RegisterCustomer,
        *get_args(customer_commands.CustomerCommand),
        customer_commands.AddContact,
        *get_args(customer_commands.ContactCommand),
    }
)


class TimedeltaAsMicroseconds(Transcoding):
    """A duration (clock targets and elapsed business time), exact to the microsecond."""

    type = timedelta
    name = "timedelta_us"

    def encode(self, obj: timedelta) -> int:
        return (obj.days * 86_400 + obj.seconds) * 1_000_000 + obj.microseconds

    def decode(self, data: int) -> timedelta:
        return timedelta(microseconds=data)


def _value_object(
    cls: type[object], name: str, sealer: Sealer | None, repeated: bool
) -> Transcoding:
    personal = personal_fields(cls)
    if repeated and personal_anywhere(cls):
        # Its sealed texts open to the placeholder once erased: never shared.
        raise ValueError(f"{name} can hold personal data: it cannot be a repeated value")
    if sealer is None or not personal:
        return DataclassAsDict(cls, name, repeated=repeated)
    return SealingDataclassAsDict(cls, name, personal, sealer)


def domain_transcodings(
    sealer: Sealer | None = None, repeated: frozenset[str] = REPEATED
) -> list[Transcoding]:
    """The domain's transcodings; with `sealer`, personal fields of value objects
    are sealed under the subject being encoded and sealed texts are opened. The
    value objects named in `repeated` are decoded once per distinct data (ADR
    0087; an empty set decodes every one, as a benchmark compares)."""
    transcodings: list[Transcoding] = [TimeAsISO(), TimedeltaAsMicroseconds()]
    transcodings += [EnumAsValue(cls, name) for name, cls in ENUMS.items()]
    transcodings += [
        _value_object(cls, name, sealer, name in repeated) for name, cls in VALUE_OBJECTS.items()
    ]
    if sealer is not None:
        transcodings.append(SealedAsToken(sealer))
    return transcodings


def cases_transcoder(
    sealer: Sealer | None = None, repeated: frozenset[str] = REPEATED
) -> OrjsonTranscoder:
    """The transcoder for everything `cases` stores (ADR 0044 for `sealer`, ADR
    0087 for `repeated`)."""
    return default_transcoder(*domain_transcodings(sealer, repeated))
