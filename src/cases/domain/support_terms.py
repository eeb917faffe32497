"""What the partner promises its customers about support: the terms' values.

Every value here is a frozen dataclass or an enum, so a published version of
the terms is immutable and can be stored inside an event as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from enum import StrEnum
from itertools import pairwise

from cases.domain.errors import InvalidValueError
from cases.domain.text import known_zone, optional_text, required_text


class Severity(StrEnum):
    """Severity of a support request (Partner Center's levels)."""

    CRITICAL = "critical"
    MODERATE = "moderate"
    MINIMAL = "minimal"


class Channel(StrEnum):
    """How a customer reached the partner, or the partner the customer."""

    PHONE = "phone"
    EMAIL = "email"
    PORTAL = "portal"
    CHAT = "chat"


class SupportModel(StrEnum):
    """How the partner meets the support requirement."""

    DIRECT = "direct"
    RESOLD = "resold"
    OUTSOURCED = "outsourced"


class Coverage(StrEnum):
    """Whether the support model covers all of the support or part of it."""

    WHOLE = "whole"
    PART = "part"


class PartnerKind(StrEnum):
    """A direct-bill partner escalates to the vendor; an indirect reseller to its
    indirect provider first."""

    DIRECT_BILL = "direct_bill"
    INDIRECT_RESELLER = "indirect_reseller"


class EscalationVehicle(StrEnum):
    """The vendor support vehicles a partner may escalate through."""

    COMMERCIAL_SUPPORT = "commercial_support"
    PREMIER_SUPPORT_FOR_PARTNERS = "premier_support_for_partners"
    ADVANCED_SUPPORT_FOR_PARTNERS = "advanced_support_for_partners"
    PARTNER_CLOUD_SUPPORT = "partner_cloud_support"

    @property
    def is_technical(self) -> bool:
        return self is not EscalationVehicle.COMMERCIAL_SUPPORT


@dataclass(frozen=True, slots=True)
class SupportArrangement:
    """Direct, resold or outsourced support, for the whole or a part, by whom."""

    model: SupportModel
    coverage: Coverage = Coverage.WHOLE
    provider_name: str | None = None

    def __post_init__(self) -> None:
        name = optional_text("support provider name", self.provider_name)
        if self.model is not SupportModel.DIRECT and name is None:
            raise InvalidValueError(
                f"{self.model.value} support must name the company that provides it"
            )
        object.__setattr__(self, "provider_name", name)


@dataclass(frozen=True, slots=True)
class ServiceSpan:
    """One span of service hours on one weekday (0 = Monday); end after start."""

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise InvalidValueError("weekday must be 0 (Monday) to 6 (Sunday)")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise InvalidValueError("service span times are local to the terms' zone")
        if self.end <= self.start:
            raise InvalidValueError(
                f"service span {self.start:%H:%M}-{self.end:%H:%M} ends before it starts"
            )


@dataclass(frozen=True, slots=True)
class ServiceHours:
    """When the partner provides service: weekly spans in a zone, less holidays."""

    time_zone: str
    weekly: tuple[ServiceSpan, ...]
    holiday_country: str | None = None
    holidays: tuple[date, ...] = ()

    def __post_init__(self) -> None:
        known_zone(self.time_zone)
        if not self.weekly:
            raise InvalidValueError("service hours need at least one weekly span")
        spans = sorted(self.weekly, key=lambda s: (s.weekday, s.start))
        for earlier, later in pairwise(spans):
            if earlier.weekday == later.weekday and later.start < earlier.end:
                raise InvalidValueError(f"service spans overlap on weekday {earlier.weekday}")
        object.__setattr__(self, "weekly", tuple(spans))
        object.__setattr__(self, "holidays", tuple(sorted(set(self.holidays))))


@dataclass(frozen=True, slots=True)
class ContactMethod:
    """A way customers can reach support, e.g. phone and its number."""

    channel: Channel
    address: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", required_text("contact address", self.address, 255))


@dataclass(frozen=True, slots=True)
class Pricing:
    """Whether support is charged, and in words a customer can read, how."""

    charged: bool
    description: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "description", required_text("pricing", self.description, 2000))


@dataclass(frozen=True, slots=True)
class ServiceLevelTarget:
    """Targets for one severity, in business minutes of the terms' service hours.

    `vendor_hand_back_minutes` is the vendor's underpinning target (escalated →
    handed back); without it the vendor's time is measured but never breached.
    """

    severity: Severity
    first_response_minutes: int
    next_update_minutes: int
    resolution_minutes: int
    vendor_hand_back_minutes: int | None = None

    def __post_init__(self) -> None:
        for name in ("first_response_minutes", "next_update_minutes"):
            if getattr(self, name) <= 0:
                raise InvalidValueError(f"{name} must be positive")
        if self.vendor_hand_back_minutes is not None and self.vendor_hand_back_minutes <= 0:
            raise InvalidValueError("vendor_hand_back_minutes must be positive")
        if self.resolution_minutes < self.first_response_minutes:
            raise InvalidValueError(
                "the resolution target cannot be shorter than the first-response one"
            )


@dataclass(frozen=True, slots=True)
class SupportTerms:
    """One version of the support offering, as told to customers."""

    vendor_name: str
    partner_kind: PartnerKind
    arrangement: SupportArrangement
    service_hours: ServiceHours
    contact_methods: tuple[ContactMethod, ...]
    pricing: Pricing
    held_vehicles: tuple[EscalationVehicle, ...]
    targets: tuple[ServiceLevelTarget, ...]
    reopen_window_days: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "vendor_name", required_text("vendor name", self.vendor_name, 100))
        if not self.contact_methods:
            raise InvalidValueError("the terms must name at least one contact method")
        severities = [t.severity for t in self.targets]
        if sorted(severities) != sorted(Severity):
            raise InvalidValueError("the terms need exactly one target per severity")
        if not 0 <= self.reopen_window_days <= 365:
            raise InvalidValueError("the reopen window must be 0 to 365 days")
        # Commercial support is open to every partner; store only what is bought.
        held = {v for v in self.held_vehicles if v.is_technical}
        object.__setattr__(self, "held_vehicles", tuple(v for v in EscalationVehicle if v in held))

    def holds(self, vehicle: EscalationVehicle) -> bool:
        return not vehicle.is_technical or vehicle in self.held_vehicles
