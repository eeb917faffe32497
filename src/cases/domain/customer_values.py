"""Values the customer directory is made of: how a customer is billed, whom to
reach there, in which language, and how it wants to hear from the partner."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from cases.domain import errors
from cases.domain.text import optional_text


class Relationship(StrEnum):
    """How the customer is billed and supported."""

    DIRECT_BILL = "direct_bill"
    INDIRECT_RESELLER = "indirect_reseller"  # through an indirect provider, named


class ContactRole(StrEnum):
    BILLING = "billing"
    TECHNICAL = "technical"


class Language(StrEnum):
    SV = "sv"
    EN = "en"


class NoticeChannel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class OptionalNotice(StrEnum):
    """Notices a customer may decline; reminders before and after the due date,
    final warnings, suspension and reinstatement notices cannot be declined (a
    customer must be told before access is cut)."""

    UPCOMING_PAYMENT_REMINDER = "upcoming_payment_reminder"
    CASE_UPDATES = "case_updates"


@dataclass(frozen=True, slots=True)
class CommunicationPreferences:
    """How the customer wants the partner's messages: by which channels (a
    webhook needs its address) and which optional notices it declines."""

    channels: tuple[NoticeChannel, ...] = (NoticeChannel.EMAIL,)
    webhook_url: str | None = None
    opted_out: tuple[OptionalNotice, ...] = ()

    def __post_init__(self) -> None:
        if not self.channels:
            raise errors.InvalidValueError("communication preferences name at least one channel")
        url = optional_text("webhook url", self.webhook_url, 2000)
        if NoticeChannel.WEBHOOK in self.channels and url is None:
            raise errors.InvalidValueError("the webhook channel needs a webhook_url")
        if url is not None and not url.startswith("https://"):
            raise errors.InvalidValueError("a webhook url is an https:// address")
        object.__setattr__(self, "webhook_url", url)
        object.__setattr__(self, "channels", tuple(dict.fromkeys(self.channels)))
        object.__setattr__(self, "opted_out", tuple(dict.fromkeys(self.opted_out)))

    def declines(self, notice: OptionalNotice) -> bool:
        return notice in self.opted_out


MAX_SECRET_OVERLAP = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class WebhookSecret:
    """A customer's own webhook signing secret as recorded: sealed by the
    application under the master key named (never in the clear), found by its
    fingerprint; once superseded, still signed with until `retires_at`."""

    fingerprint: str
    sealed: str
    master_key_id: str
    retires_at: datetime | None = None

    def retired(self, at: datetime) -> WebhookSecret:
        return replace(self, retires_at=at)


@dataclass(frozen=True, slots=True)
class ListedContact:
    """A contact as its customer lists it: by id and role (no personal data)."""

    contact_id: UUID
    role: ContactRole
