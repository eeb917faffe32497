"""Request and response shapes of the support terms and the collection policy.

A published version reads back in the shape it was published in (plus its
version), so a client can fetch the terms in force, change a field and publish
the result. Each part is checked by the domain value it becomes while the body
is validated, so a refusal names the part (`body.service_hours`) and the rule.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from enum import StrEnum
from functools import cache
from typing import Annotated, Self, TypeVar

import holidays
from pydantic import AfterValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from cases.api.schemas.accounts import TimeZone
from cases.api.schemas.common import (
    AwareDatetime,
    CommandResult,
    Day,
    ReadOff,
    Strict,
    example,
    fields_of,
)
from cases.domain.collection_policy import (
    EARLIEST_STAGE,
    LATEST_STAGE,
    CollectionStage,
    CollectionTerms,
    PublishedPolicy,
    StageAction,
)
from cases.domain.errors import DomainError
from cases.domain.support_offering import PublishedTerms
from cases.domain.support_terms import (
    Channel,
    ContactMethod,
    Coverage,
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

T = TypeVar("T")

MINUTES_LIMIT = 366 * 24 * 60
MIDNIGHT = "24:00"
EFFECTIVE_FROM = Field(
    default=None,
    description="When the version takes effect: not before now, nor before the "
    "version in force; default now.",
)


def checked(build: Callable[[], T]) -> T:
    """Build a domain value; a rule it breaks becomes a validation error named by
    the rule, so the 422 problem lists the part of the body that broke it."""
    try:
        return build()
    except DomainError as e:
        raise PydanticCustomError(e.rule, e.message) from None


class Weekday(StrEnum):
    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"

    @property
    def number(self) -> int:
        return list(Weekday).index(self)


ClockTime = Annotated[
    str,
    Field(
        pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$",
        examples=["08:00"],
        description='Local wall-clock time "HH:MM"; "24:00" ends a span at midnight.',
    ),
]


def _time(text: str) -> time:
    return time.max if text == MIDNIGHT else time.fromisoformat(text)


def _clock(moment: time) -> str:
    return MIDNIGHT if moment == time.max else moment.strftime("%H:%M")


@cache
def _countries() -> frozenset[str]:
    return frozenset(holidays.list_supported_countries())


def _known_country(code: str) -> str:
    if code not in _countries():
        raise ValueError(f"no public holidays are known for country {code!r}")
    return code


Country = Annotated[
    str, Field(pattern=r"^[A-Z]{2}$", examples=["SE"]), AfterValidator(_known_country)
]


class Checked(Strict):
    """A part of a body checked, while the body is validated, by building the domain
    value it stands for (its `domain_value()`, through `checked`)."""

    @model_validator(mode="after")
    def _valid(self) -> Self:
        self.domain_value()
        return self

    def domain_value(self) -> object:
        raise NotImplementedError


# Support terms ---------------------------------------------------------------


class ArrangementIn(Checked, ReadOff):  # also read off a `SupportArrangement`
    model: SupportModel
    coverage: Coverage = Coverage.WHOLE
    provider_name: str | None = Field(
        default=None, max_length=500, description="Required unless the model is direct."
    )

    def domain_value(self) -> SupportArrangement:
        return checked(lambda: SupportArrangement(self.model, self.coverage, self.provider_name))


class SpanIn(Checked):
    weekday: Weekday
    start: ClockTime
    end: ClockTime

    def domain_value(self) -> ServiceSpan:
        return checked(lambda: ServiceSpan(self.weekday.number, _time(self.start), _time(self.end)))

    @classmethod
    def of(cls, span: ServiceSpan) -> SpanIn:
        return cls(
            weekday=list(Weekday)[span.weekday], start=_clock(span.start), end=_clock(span.end)
        )


class ServiceHoursIn(Checked):
    time_zone: TimeZone
    weekly: list[SpanIn] = Field(min_length=1, max_length=100)
    holiday_country: Country | None = Field(
        default=None, description="ISO 3166 code of the country whose public holidays count."
    )
    holidays: list[Day] = Field(default=[], max_length=500, description="The partner's own.")

    def domain_value(self) -> ServiceHours:
        return checked(
            lambda: ServiceHours(
                time_zone=self.time_zone,
                weekly=tuple(s.domain_value() for s in self.weekly),
                holiday_country=self.holiday_country,
                holidays=tuple(self.holidays),
            )
        )

    @classmethod
    def of(cls, hours: ServiceHours) -> ServiceHoursIn:
        return fields_of(cls, hours, weekly=[SpanIn.of(s) for s in hours.weekly])


class ContactMethodIn(Strict):
    channel: Channel
    address: str = Field(min_length=1, max_length=255)


class PricingIn(Strict):
    charged: bool
    description: str = Field(min_length=1, max_length=2000)


class TargetIn(Checked):
    """Service-level targets for one severity, in business minutes."""

    severity: Severity
    first_response_minutes: int = Field(ge=1, le=MINUTES_LIMIT)
    next_update_minutes: int = Field(ge=1, le=MINUTES_LIMIT)
    resolution_minutes: int = Field(ge=1, le=MINUTES_LIMIT)

    def domain_value(self) -> ServiceLevelTarget:
        return checked(
            lambda: ServiceLevelTarget(
                self.severity,
                self.first_response_minutes,
                self.next_update_minutes,
                self.resolution_minutes,
            )
        )


class TermsFields(Checked):
    """The support terms as told to customers."""

    vendor_name: str = Field(min_length=1, max_length=100, examples=["Microsoft"])
    partner_kind: PartnerKind
    arrangement: ArrangementIn
    service_hours: ServiceHoursIn
    contact_methods: list[ContactMethodIn] = Field(min_length=1, max_length=20)
    pricing: PricingIn
    held_vehicles: list[EscalationVehicle] = Field(
        default=[],
        max_length=len(EscalationVehicle),
        description="Technical vehicles the partner holds (commercial support is open to all).",
    )
    targets: list[TargetIn] = Field(
        min_length=len(Severity), max_length=len(Severity), description="One per severity."
    )
    reopen_window_days: int = Field(ge=0, le=365)

    @field_validator("targets")
    @classmethod
    def _one_per_severity(cls, targets: list[TargetIn]) -> list[TargetIn]:
        if sorted(t.severity for t in targets) != sorted(Severity):
            raise ValueError("the terms need exactly one target per severity")
        return targets

    def domain_value(self) -> SupportTerms:
        return checked(
            lambda: SupportTerms(
                vendor_name=self.vendor_name,
                partner_kind=self.partner_kind,
                arrangement=self.arrangement.domain_value(),
                service_hours=self.service_hours.domain_value(),
                contact_methods=tuple(
                    ContactMethod(c.channel, c.address) for c in self.contact_methods
                ),
                pricing=Pricing(self.pricing.charged, self.pricing.description),
                held_vehicles=tuple(self.held_vehicles),
                targets=tuple(t.domain_value() for t in self.targets),
                reopen_window_days=self.reopen_window_days,
            )
        )


class PublishTerms(TermsFields):
    effective_from: AwareDatetime | None = EFFECTIVE_FROM

    model_config = example(
        {
            "vendor_name": "Microsoft",
            "partner_kind": "direct_bill",
            "arrangement": {"model": "direct", "coverage": "whole"},
            "service_hours": {
                "time_zone": "Europe/Stockholm",
                "weekly": [
                    {"weekday": day, "start": "08:00", "end": "17:00"}
                    for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
                ],
                "holiday_country": "SE",
                "holidays": ["2026-12-24"],
            },
            "contact_methods": [
                {"channel": "phone", "address": "+46 8 123 456 00"},
                {"channel": "email", "address": "support@partner.example"},
            ],
            "pricing": {
                "charged": False,
                "description": "Support is included in the subscription price.",
            },
            "held_vehicles": ["advanced_support_for_partners"],
            "targets": [
                {
                    "severity": "critical",
                    "first_response_minutes": 60,
                    "next_update_minutes": 120,
                    "resolution_minutes": 480,
                },
                {
                    "severity": "moderate",
                    "first_response_minutes": 240,
                    "next_update_minutes": 480,
                    "resolution_minutes": 2400,
                },
                {
                    "severity": "minimal",
                    "first_response_minutes": 480,
                    "next_update_minutes": 960,
                    "resolution_minutes": 4800,
                },
            ],
            "reopen_window_days": 14,
            "effective_from": "2026-04-01T00:00:00+02:00",
        }
    )


class PublishedTermsOut(TermsFields):
    """A published version of the terms."""

    version: int
    effective_from: datetime

    @classmethod
    def of(cls, published: PublishedTerms) -> PublishedTermsOut:
        terms = published.terms
        return fields_of(
            cls,
            terms,
            version=published.version,
            effective_from=published.effective_from,
            arrangement=ArrangementIn.of(terms.arrangement),
            service_hours=ServiceHoursIn.of(terms.service_hours),
            contact_methods=[fields_of(ContactMethodIn, c) for c in terms.contact_methods],
            pricing=fields_of(PricingIn, terms.pricing),
            targets=[fields_of(TargetIn, t) for t in terms.targets],
        )


# Collection policy -----------------------------------------------------------


class StageIn(Checked):
    """A collection stage, `days` after the due date of the oldest unpaid invoice
    (negative: before it)."""

    days: int = Field(ge=EARLIEST_STAGE, le=LATEST_STAGE)
    action: StageAction
    products: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default=[], max_length=50, description="Only a suspension names products; none: all."
    )

    def domain_value(self) -> CollectionStage:
        return checked(lambda: CollectionStage(self.days, self.action, tuple(self.products)))


class PolicyFields(Strict):
    stages: list[StageIn] = Field(min_length=1, max_length=30)
    spare_paid_in_advance: bool = Field(
        default=True, description="Subscriptions paid in advance stay on when others are suspended."
    )

    @field_validator("stages")
    @classmethod
    def _in_order(cls, stages: list[StageIn]) -> list[StageIn]:
        checked(lambda: CollectionTerms(tuple(s.domain_value() for s in stages)))
        return stages

    def domain_value(self) -> CollectionTerms:
        return checked(
            lambda: CollectionTerms(
                tuple(s.domain_value() for s in self.stages), self.spare_paid_in_advance
            )
        )


class PublishPolicy(PolicyFields):
    effective_from: AwareDatetime | None = EFFECTIVE_FROM

    model_config = example(
        {
            "stages": [
                {"days": -7, "action": "upcoming_payment_reminder"},
                {"days": 1, "action": "overdue_reminder"},
                {"days": 7, "action": "overdue_reminder"},
                {"days": 14, "action": "final_warning"},
                {"days": 30, "action": "suspend_access"},
            ],
            "spare_paid_in_advance": True,
        }
    )


class PublishedPolicyOut(PolicyFields):
    """A published version of the collection policy, with the text customers read."""

    version: int
    effective_from: datetime
    customer_text: str

    @classmethod
    def of(cls, published: PublishedPolicy) -> PublishedPolicyOut:
        return fields_of(
            cls,
            published,
            stages=[fields_of(StageIn, s) for s in published.terms.stages],
            spare_paid_in_advance=published.terms.spare_paid_in_advance,
        )


class PublicationResult(CommandResult):
    """A published version: its number, and what the command reached."""

    published_version: int = Field(description="The number of the version published.")
