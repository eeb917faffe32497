"""Request and response shapes of the customer directory."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field, SecretStr

from cases.api.schemas.cases import ContactIn
from cases.api.schemas.common import Strict, fields_of
from cases.domain.customer_values import (
    CommunicationPreferences,
    ContactRole,
    Language,
    NoticeChannel,
    OptionalNotice,
    Relationship,
)

CUSTOMER_ID = Field(
    min_length=1,
    max_length=100,
    pattern=r"^[a-z0-9][a-z0-9._-]*$",
    examples=["contoso"],
    description="The partner's id for the customer, as cases and accounts name it.",
)


class PreferencesIn(Strict):
    channels: list[NoticeChannel] = Field(default=[NoticeChannel.EMAIL], min_length=1)
    webhook_url: str | None = Field(default=None, max_length=2000)
    opted_out: list[OptionalNotice] = Field(
        default=[],
        description="Optional notices the customer declines (the law lets it decline "
        "these; reminders of overdue invoices, final warnings and suspension notices "
        "cannot be declined).",
    )

    def domain_value(self) -> CommunicationPreferences:
        return CommunicationPreferences(
            tuple(self.channels), self.webhook_url, tuple(self.opted_out)
        )


DISPLAY_NAME = Field(min_length=1, max_length=500, examples=["Contoso AB"])
TENANT_ID = Field(min_length=36, max_length=36, description="The vendor tenant's id (a GUID).")
PRIMARY_DOMAIN = Field(min_length=3, max_length=253, examples=["contoso.example"])
INDIRECT_PROVIDER = Field(
    default=None,
    max_length=500,
    description="Required with `indirect_reseller`: the provider above the reseller.",
)


class RegisterCustomer(Strict):
    """A customer to enter in the directory."""

    customer_id: str = CUSTOMER_ID
    display_name: str = DISPLAY_NAME
    tenant_id: str = TENANT_ID
    primary_domain: str = PRIMARY_DOMAIN
    relationship: Relationship
    indirect_provider: str | None = INDIRECT_PROVIDER
    preferences: PreferencesIn = Field(default_factory=PreferencesIn)


class RenameCustomer(Strict):
    display_name: str = DISPLAY_NAME


class ChangeTenant(Strict):
    """The vendor tenant the customer is, and its primary domain."""

    tenant_id: str = TENANT_ID
    primary_domain: str = PRIMARY_DOMAIN


class ChangeRelationship(Strict):
    """Direct bill, or through an indirect reseller with its provider named."""

    relationship: Relationship
    indirect_provider: str | None = INDIRECT_PROVIDER


class SetWebhookSecret(Strict):
    """The customer's own webhook signing secret (it is never shown again)."""

    secret: SecretStr = Field(
        min_length=24,
        max_length=500,
        description="At least 24 printable characters, e.g. 32 random bytes in hex. "
        "Stored sealed under the master key; answers and logs show its fingerprint only.",
    )
    overlap_hours: float = Field(
        default=24.0,
        ge=0,
        le=720,
        description="How long the secret it replaces still signs too (both signatures "
        "sent, `v1=` twice), so the receiver can switch without losing a message.",
    )


class ChangePreferences(Strict):
    preferences: PreferencesIn


class AddContact(Strict):
    """A billing or technical contact, with the language they read."""

    role: ContactRole
    contact: ContactIn
    language: Language


class ChangeContact(Strict):
    """A contact's new details (all of them) and language."""

    contact: ContactIn
    language: Language


class RemoveContact(Strict):
    pass


class ContactOut(BaseModel):
    id: UUID
    role: ContactRole
    name: str
    email: str | None
    phone: str | None
    language: Language

    @classmethod
    def of(cls, row: dict[str, Any]) -> ContactOut:
        return fields_of(cls, row, id=row["contact_id"])


class PreferencesOut(BaseModel):
    channels: list[NoticeChannel]
    webhook_url: str | None
    opted_out: list[OptionalNotice]


class CustomerOut(BaseModel):
    """A customer as the directory's read model shows it."""

    customer_id: str
    display_name: str
    tenant_id: str
    primary_domain: str
    relationship: Relationship
    indirect_provider: str | None
    preferences: PreferencesOut
    version: int
    contacts: list[ContactOut] | None = Field(
        default=None, description="Its contacts (in `GET /customers/{customer_id}` only)."
    )

    @classmethod
    def of(cls, row: dict[str, Any], contacts: list[dict[str, Any]] | None = None) -> CustomerOut:
        return fields_of(
            cls,
            row,
            preferences=fields_of(PreferencesOut, row),
            contacts=None if contacts is None else [ContactOut.of(c) for c in contacts],
        )


class CustomerPage(BaseModel):
    items: list[CustomerOut]
    next_cursor: str | None
