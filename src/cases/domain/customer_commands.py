"""What may be asked of the customer directory: one frozen value per command (ADR 0039)."""

from __future__ import annotations

from datetime import timedelta

from cases.domain import case_values as v
from cases.domain.command import command
from cases.domain.customer_values import (
    CommunicationPreferences,
    ContactRole,
    Language,
    Relationship,
    WebhookSecret,
)


@command
class RegisterCustomer:
    """Enter a customer in the directory (the indirect provider is named when the
    customer is served through an indirect reseller)."""

    customer_id: str
    display_name: str
    tenant_id: str
    primary_domain: str
    relationship: Relationship
    preferences: CommunicationPreferences
    indirect_provider: str | None = None


@command
class RenameCustomer:
    """Change the customer's display name (an organisation's name: not personal data)."""

    display_name: str


@command
class ChangeTenant:
    """Change the vendor tenant the customer is and its primary domain."""

    tenant_id: str
    primary_domain: str


@command
class ChangeRelationship:
    """Change how the customer is billed: direct, or through an indirect reseller
    (then with its indirect provider named)."""

    relationship: Relationship
    indirect_provider: str | None = None


@command
class ChangePreferences:
    """Change how the customer wants to hear from the partner."""

    preferences: CommunicationPreferences


@command
class SetWebhookSecret:
    """Sign the customer's webhook messages with its own secret (sealed already);
    the one it replaces is still signed with for `overlap` (both signatures sent)."""

    secret: WebhookSecret
    overlap: timedelta


@command
class AddContact:
    """Add a billing or technical contact to the customer, with the language they read."""

    role: ContactRole
    contact: v.Contact
    language: Language


@command
class ChangeContact:
    """Replace a contact's details (name, e-mail, phone) and language."""

    contact: v.Contact
    language: Language


@command
class RemoveContact:
    """Take a contact off the customer's list (their history stays, until erased)."""


CustomerCommand = (
    RenameCustomer | ChangeTenant | ChangeRelationship | ChangePreferences | SetWebhookSecret
)
"""A command on a registered customer (registering one is `RegisterCustomer`)."""

ContactCommand = ChangeContact | RemoveContact
"""A command on a contact that exists (adding one is `AddContact`)."""
