"""Realistic test data: terms, callers and requests a partner really sees."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from uuid import uuid4

from cases.application.caller import Caller
from cases.domain.case_values import CaseCategory, Contact, EscalationPaths
from cases.domain.metadata import Actor, CommandContext, Role, Source
from cases.domain.support_offering import PublishedTerms
from cases.domain.support_terms import (
    Channel,
    ContactMethod,
    EscalationVehicle,
    PartnerKind,
    Pricing,
    ServiceHours,
    ServiceLevelTarget,
    ServiceSpan,
    Severity,
    SupportArrangement,
    SupportModel,
    SupportTerms,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
AGENT = Actor("agent-anna", Role.HELPDESK_AGENT)


def office_hours() -> ServiceHours:
    spans = [ServiceSpan(day, time(8), time(12)) for day in range(5)]
    spans += [ServiceSpan(day, time(13), time(17)) for day in range(5)]
    return ServiceHours(time_zone="Europe/Stockholm", weekly=tuple(spans), holiday_country="SE")


def terms(
    *,
    partner_kind: PartnerKind = PartnerKind.DIRECT_BILL,
    held: tuple[EscalationVehicle, ...] = (EscalationVehicle.ADVANCED_SUPPORT_FOR_PARTNERS,),
    reopen_window_days: int = 14,
) -> SupportTerms:
    return SupportTerms(
        vendor_name="Microsoft",
        partner_kind=partner_kind,
        arrangement=SupportArrangement(SupportModel.DIRECT),
        service_hours=office_hours(),
        contact_methods=(
            ContactMethod(Channel.PHONE, "+46 8 123 456 00"),
            ContactMethod(Channel.EMAIL, "support@partner.example"),
        ),
        pricing=Pricing(False, "Support is included in the subscription price."),
        held_vehicles=held,
        targets=(
            ServiceLevelTarget(Severity.CRITICAL, 60, 120, 8 * 60),
            ServiceLevelTarget(Severity.MODERATE, 4 * 60, 8 * 60, 5 * 8 * 60),
            ServiceLevelTarget(Severity.MINIMAL, 8 * 60, 16 * 60, 10 * 8 * 60),
        ),
        reopen_window_days=reopen_window_days,
    )


def published(version: int = 1, **kwargs: object) -> PublishedTerms:
    return PublishedTerms(version, T0 - timedelta(days=30), terms(**kwargs))  # type: ignore[arg-type]


def paths(
    kind: PartnerKind = PartnerKind.DIRECT_BILL,
    held: tuple[EscalationVehicle, ...] = (EscalationVehicle.ADVANCED_SUPPORT_FOR_PARTNERS,),
) -> EscalationPaths:
    return EscalationPaths(kind, held)


def contact() -> Contact:
    return Contact("Karin Lund", email="karin.lund@contoso.example", phone="+46 70 111 22 33")


def ctx(
    at: datetime = T0,
    *,
    actor: Actor = AGENT,
    occurred_at: datetime | None = None,
    source: Source = Source.API,
) -> CommandContext:
    return CommandContext(
        actor=actor,
        occurred_at=occurred_at or at,
        recorded_at=at,
        correlation_id=str(uuid4()),
        source=source,
    )


def caller(actor: Actor = AGENT, source: Source = Source.API) -> Caller:
    return Caller.new(actor, source)


def intake(
    category: CaseCategory = CaseCategory.TECHNICAL, **overrides: object
) -> dict[str, object]:
    fields: dict[str, object] = {
        "customer_id": "contoso",
        "contact": contact(),
        "channel": Channel.PHONE,
        "product": "Exchange Online",
        "category": category,
        "severity": Severity.MODERATE,
        "title": "Mail to external recipients is delayed",
        "description": "Since 07:30 outbound mail queues for up to an hour.",
    }
    fields.update(overrides)
    return fields
