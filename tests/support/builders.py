"""Realistic test data: terms, callers and requests a partner really sees."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TypedDict, Unpack
from uuid import uuid4

from cases.application.caller import Caller
from cases.domain import case_commands as cmd
from cases.domain.case_values import (
    CaseCategory,
    Contact,
    EscalationCategory,
    EscalationPaths,
    EscalationTarget,
    ResolutionCode,
)
from cases.domain.metadata import Actor, CommandContext, Role, Source
from cases.domain.support_case import CLOCK_FACT_TYPES
from cases.domain.support_offering import PublishedTerms
from cases.domain.support_terms import (
    Channel,
    EscalationVehicle,
    PartnerKind,
    ServiceHours,
    Severity,
    SupportTerms,
)
from cases.scenario.support import partner_terms

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
AGENT = Actor("agent-anna", Role.HELPDESK_AGENT)
_CLOCK_FACT_NAMES = frozenset(t.__name__ for t in CLOCK_FACT_TYPES)


def office_hours() -> ServiceHours:
    """Weekdays 08-12 and 13-17 in Stockholm, Swedish public holidays."""
    return partner_terms("Microsoft").service_hours


def terms(
    *,
    partner_kind: PartnerKind = PartnerKind.DIRECT_BILL,
    held: tuple[EscalationVehicle, ...] = (EscalationVehicle.ADVANCED_SUPPORT_FOR_PARTNERS,),
    reopen_window_days: int = 14,
) -> SupportTerms:
    """The demo partner's terms (office hours in Stockholm, targets per severity)."""
    return replace(
        partner_terms("Microsoft"),
        partner_kind=partner_kind,
        held_vehicles=held,
        reopen_window_days=reopen_window_days,
    )


def published(version: int = 1, *, reopen_window_days: int = 14) -> PublishedTerms:
    effective_from = T0 - timedelta(days=30)
    return PublishedTerms(version, effective_from, terms(reopen_window_days=reopen_window_days))


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


def is_clock_fact(event_type: str) -> bool:
    """Whether `event_type` (`SupportCase.ServiceClockStarted` or, as the case
    timeline keeps it, `ServiceClockStarted`) is a service-level clock fact: one
    of the facts a case records beside its own events."""
    return event_type.rsplit(".", 1)[-1] in _CLOCK_FACT_NAMES


class Intake(TypedDict):
    """A request as `receive_case` takes it (without when and under which id)."""

    customer_id: str
    contact: Contact
    channel: Channel
    product: str
    category: CaseCategory
    severity: Severity
    title: str
    description: str


class IntakeChanges(TypedDict, total=False):
    """What a test may change in the usual request (its category: `intake`'s first argument)."""

    customer_id: str
    contact: Contact
    channel: Channel
    product: str
    severity: Severity
    title: str
    description: str


def intake(
    category: CaseCategory = CaseCategory.TECHNICAL, **changes: Unpack[IntakeChanges]
) -> Intake:
    usual: Intake = {
        "customer_id": "contoso",
        "contact": contact(),
        "channel": Channel.PHONE,
        "product": "Exchange Online",
        "category": category,
        "severity": Severity.MODERATE,
        "title": "Mail to external recipients is delayed",
        "description": "Since 07:30 outbound mail queues for up to an hour.",
    }
    return {**usual, **changes}


def vendor_round_trip() -> tuple[cmd.CaseCommand, ...]:
    """A received case's way to the vendor and back: health checked, escalated, referenced,
    handed back, resolved, closed and reopened (versions 2 to 8 of the case)."""
    return (
        cmd.CheckServiceHealth(None),
        cmd.Escalate(
            target=EscalationTarget.VENDOR,
            category=EscalationCategory.SERVICE_DEFECT,
            vehicle=EscalationVehicle.ADVANCED_SUPPORT_FOR_PARTNERS,
            reason="Queue grows with a healthy connector",
        ),
        cmd.RecordVendorReference("2611080040012345"),
        cmd.RecordHandBack("Fix deployed"),
        cmd.Resolve(ResolutionCode.FIXED_BY_VENDOR, "Fixed upstream"),
        cmd.Close(),
        cmd.Reopen("Delays are back"),
    )
