"""The customer directory: each customer of the partner, and the people to reach there.

A `Customer` holds what is kept about an organisation (its vendor tenant, its
primary domain, how it is billed, how it wants to hear from the partner) and
lists its contacts by id. Each `CustomerContact` is a person, and so a data
subject of its own (ADR 0044, ADR 0048): their name, e-mail address and phone
are sealed under the contact's id and erased with it, while the customer and
its other contacts stay.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from cases.domain import customer_commands as c
from cases.domain import errors
from cases.domain.audited import AuditedAggregate, Replaces
from cases.domain.case_values import Contact
from cases.domain.customer_values import (
    MAX_SECRET_OVERLAP,
    CommunicationPreferences,
    ContactRole,
    Language,
    ListedContact,
    Relationship,
    WebhookSecret,
)
from cases.domain.identity import derived_id
from cases.domain.metadata import CommandContext
from cases.domain.text import LINE_LIMIT, optional_text, required_text

_TENANT_ID = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_CUSTOMER_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


def customer_aggregate_id(customer_id: str) -> UUID:
    """The id of the customer's record: one per customer id, found without an index."""
    return derived_id("customer", customer_id)


class _SigningSecretsKept:
    webhook_secrets: tuple[WebhookSecret, ...] = ()  # absent from older snapshots


class Customer(AuditedAggregate, _SigningSecretsKept):
    """A customer of the partner (a tenant of the vendor)."""

    class Registered(AuditedAggregate.Created):
        customer_id: str
        display_name: str
        tenant_id: str
        primary_domain: str
        relationship: Relationship
        indirect_provider: str | None
        preferences: CommunicationPreferences

    class Renamed(Replaces, AuditedAggregate.Event):
        display_name: str

    class TenantChanged(Replaces, AuditedAggregate.Event):
        tenant_id: str
        primary_domain: str

    class RelationshipChanged(Replaces, AuditedAggregate.Event):
        relationship: Relationship
        indirect_provider: str | None

    class WebhookSecretSet(AuditedAggregate.Event):
        secret: WebhookSecret
        previous_retires_at: datetime | None  # the replaced one's overlap (None: none)

        def apply(self, aggregate: Any) -> None:
            customer: Customer = aggregate
            current = customer.current_webhook_secret()
            overlapping: tuple[WebhookSecret, ...] = ()
            if current is not None and self.previous_retires_at is not None:
                overlapping = (current.retired(self.previous_retires_at),)
            customer.webhook_secrets = (self.secret, *overlapping)

    class PreferencesChanged(Replaces, AuditedAggregate.Event):
        preferences: CommunicationPreferences

    class ContactListed(AuditedAggregate.Event):
        contact_id: UUID
        role: ContactRole

        def apply(self, aggregate: Any) -> None:
            customer: Customer = aggregate
            listed = ListedContact(self.contact_id, self.role)
            customer.contacts = (*customer.contacts, listed)

    class ContactUnlisted(AuditedAggregate.Event):
        contact_id: UUID

        def apply(self, aggregate: Any) -> None:
            customer: Customer = aggregate
            customer.contacts = tuple(
                listed for listed in customer.contacts if listed.contact_id != self.contact_id
            )

    def __init__(
        self,
        *,
        customer_id: str,
        display_name: str,
        tenant_id: str,
        primary_domain: str,
        relationship: Relationship,
        indirect_provider: str | None,
        preferences: CommunicationPreferences,
    ) -> None:
        self.customer_id = customer_id
        self.display_name = display_name
        self.tenant_id = tenant_id
        self.primary_domain = primary_domain
        self.relationship = relationship
        self.indirect_provider = indirect_provider
        self.preferences = preferences
        self.contacts: tuple[ListedContact, ...] = ()
        self.webhook_secrets: tuple[WebhookSecret, ...] = ()

    @classmethod
    def register(cls, ctx: CommandContext, command: c.RegisterCustomer) -> Customer:
        customer_id = required_text("customer id", command.customer_id, 100)
        if not _CUSTOMER_ID.match(customer_id):
            raise errors.InvalidValueError(
                "a customer id is lower-case letters, digits, '.', '_' and '-', e.g. contoso"
            )
        return cls._start(
            cls.Registered,
            ctx,
            customer_aggregate_id(customer_id),
            customer_id=customer_id,
            display_name=_display_name(command.display_name),
            tenant_id=_tenant_id(command.tenant_id),
            primary_domain=_domain(command.primary_domain),
            relationship=command.relationship,
            indirect_provider=_provider(command.relationship, command.indirect_provider),
            preferences=command.preferences,
        )

    def rename(self, ctx: CommandContext, command: c.RenameCustomer) -> None:
        display_name = _display_name(command.display_name)
        if display_name == self.display_name:
            raise errors.CustomerUnchangedError(f"the customer is already named {display_name!r}")
        self._record(self.Renamed, ctx, display_name=display_name)

    def change_tenant(self, ctx: CommandContext, command: c.ChangeTenant) -> None:
        tenant = (_tenant_id(command.tenant_id), _domain(command.primary_domain))
        if tenant == (self.tenant_id, self.primary_domain):
            raise errors.CustomerUnchangedError("the tenant and primary domain are already these")
        self._record(self.TenantChanged, ctx, tenant_id=tenant[0], primary_domain=tenant[1])

    def change_relationship(self, ctx: CommandContext, command: c.ChangeRelationship) -> None:
        provider = _provider(command.relationship, command.indirect_provider)
        if (command.relationship, provider) == (self.relationship, self.indirect_provider):
            raise errors.CustomerUnchangedError("the relationship is already this")
        self._record(
            self.RelationshipChanged,
            ctx,
            relationship=command.relationship,
            indirect_provider=provider,
        )

    def set_webhook_secret(self, ctx: CommandContext, command: c.SetWebhookSecret) -> None:
        if not timedelta(0) <= command.overlap <= MAX_SECRET_OVERLAP:
            raise errors.InvalidValueError(
                f"a secret's overlap is from none to {MAX_SECRET_OVERLAP.days} days"
            )
        current = self.current_webhook_secret()
        if current is not None and current.fingerprint == command.secret.fingerprint:
            raise errors.CustomerUnchangedError("the webhook secret is already this one")
        overlap_ends = ctx.occurred_at + command.overlap
        self._record(
            self.WebhookSecretSet,
            ctx,
            secret=replace(command.secret, retires_at=None),
            previous_retires_at=overlap_ends if current and command.overlap else None,
        )

    def current_webhook_secret(self) -> WebhookSecret | None:
        current = [s for s in self.webhook_secrets if s.retires_at is None]
        return current[0] if current else None

    def signing_secrets(self, at: datetime) -> tuple[WebhookSecret, ...]:
        """The secrets the customer's webhook messages are signed with at `at`:
        its own, and the one it replaced while their overlap lasts (none: the
        partner's secret signs them)."""
        return tuple(s for s in self.webhook_secrets if s.retires_at is None or at < s.retires_at)

    def change_preferences(self, ctx: CommandContext, command: c.ChangePreferences) -> None:
        if command.preferences == self.preferences:
            raise errors.PreferencesUnchangedError("the preferences are already these")
        self._record(self.PreferencesChanged, ctx, preferences=command.preferences)

    def list_contact(self, ctx: CommandContext, contact_id: UUID, role: ContactRole) -> None:
        self._record(self.ContactListed, ctx, contact_id=contact_id, role=role)

    def unlist_contact(self, ctx: CommandContext, contact_id: UUID) -> None:
        self.check_lists(contact_id)
        self._record(self.ContactUnlisted, ctx, contact_id=contact_id)

    def check_lists(self, contact_id: UUID) -> ListedContact:
        for listed in self.contacts:
            if listed.contact_id == contact_id:
                return listed
        raise errors.NotFoundError(f"customer {self.customer_id} has no contact {contact_id}")

    def contact_ids(self, role: ContactRole) -> tuple[UUID, ...]:
        return tuple(listed.contact_id for listed in self.contacts if listed.role is role)


def _display_name(text: str) -> str:
    return required_text("display name", text, LINE_LIMIT)


def _tenant_id(text: str) -> str:
    tenant_id = text.strip().lower()
    if not _TENANT_ID.match(tenant_id):
        raise errors.InvalidValueError("tenant id is the vendor tenant's GUID")
    return tenant_id


def _domain(text: str) -> str:
    domain = text.strip().lower()
    if not _DOMAIN.match(domain):
        raise errors.InvalidValueError(f"{text!r} is not a domain name")
    return domain


def _provider(relationship: Relationship, text: str | None) -> str | None:
    """The indirect provider: named for an indirect reseller's customer, and only then."""
    provider = optional_text("indirect provider", text, LINE_LIMIT)
    indirect = relationship is Relationship.INDIRECT_RESELLER
    if indirect and provider is None:
        raise errors.IndirectProviderNotNamedError(
            "a customer served through an indirect reseller names the indirect provider"
        )
    if not indirect and provider is not None:
        raise errors.IndirectProviderNotNamedError(
            "a direct-bill customer has no indirect provider"
        )
    return provider


CUSTOMER_DECISIONS: dict[
    type[c.CustomerCommand], Callable[[Customer, CommandContext, Any], None]
] = {
    c.RenameCustomer: Customer.rename,
    c.ChangeTenant: Customer.change_tenant,
    c.ChangeRelationship: Customer.change_relationship,
    c.ChangePreferences: Customer.change_preferences,
    c.SetWebhookSecret: Customer.set_webhook_secret,
}
"""The customer's decision on each command on a registered customer."""


class CustomerContact(AuditedAggregate):
    """A person at a customer: its own data subject (their details are sealed
    under this record's id)."""

    class Added(AuditedAggregate.Created):
        customer_id: str
        role: ContactRole
        contact: Contact
        language: Language

    class Changed(Replaces, AuditedAggregate.Event):
        contact: Contact
        language: Language

    class Removed(AuditedAggregate.Event):
        def apply(self, aggregate: Any) -> None:
            person: CustomerContact = aggregate
            person.removed = True

    def __init__(
        self, *, customer_id: str, role: ContactRole, contact: Contact, language: Language
    ) -> None:
        self.customer_id = customer_id
        self.role = role
        self.contact = contact
        self.language = language
        self.removed = False

    @classmethod
    def add(
        cls, ctx: CommandContext, command: c.AddContact, *, contact_id: UUID, customer_id: str
    ) -> CustomerContact:
        return cls._start(
            cls.Added,
            ctx,
            contact_id,
            customer_id=customer_id,
            role=command.role,
            contact=command.contact,
            language=command.language,
        )

    def change(self, ctx: CommandContext, command: c.ChangeContact) -> None:
        self.check_not_removed()
        if (command.contact, command.language) == (self.contact, self.language):
            raise errors.ContactUnchangedError("the contact's details are already these")
        self._record(self.Changed, ctx, contact=command.contact, language=command.language)

    def remove(self, ctx: CommandContext, _command: c.RemoveContact | None = None) -> None:
        self.check_not_removed()
        self._record(self.Removed, ctx)

    def check_not_removed(self) -> None:
        if self.removed:
            raise errors.ContactRemovedError("the contact was removed from the directory")


CONTACT_DECISIONS: dict[
    type[c.ContactCommand], Callable[[CustomerContact, CommandContext, Any], None]
] = {
    c.ChangeContact: CustomerContact.change,
    c.RemoveContact: CustomerContact.remove,
}
"""The contact's decision on each command on an existing contact."""
