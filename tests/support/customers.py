"""Customers for the directory's tests: Contoso billed directly, Fabrikam
served through an indirect reseller."""

from __future__ import annotations

from collections.abc import Iterable

from cases.application.caller import Caller
from cases.bootstrap import Services
from cases.domain import customer_commands as cc
from cases.domain.case_values import Contact
from cases.domain.customer_values import (
    CommunicationPreferences,
    ContactRole,
    Language,
    Relationship,
)
from cases.domain.metadata import Actor, Role, Source

PROVIDER = "Nordic Distribution AB"


def register(customer_id: str = "contoso", **changes: object) -> cc.RegisterCustomer:
    indirect = changes.pop("indirect", False)
    fields: dict[str, object] = {
        "customer_id": customer_id,
        "display_name": f"{customer_id.capitalize()} AB",
        "tenant_id": "5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f",
        "primary_domain": f"{customer_id}.example",
        "relationship": Relationship.INDIRECT_RESELLER if indirect else Relationship.DIRECT_BILL,
        "preferences": CommunicationPreferences(),
        "indirect_provider": PROVIDER if indirect else None,
    }
    fields.update(changes)
    return cc.RegisterCustomer(**fields)  # type: ignore[arg-type]


def billing_contact(
    name: str = "Eva Ekonomi",
    email: str = "ekonomi@contoso.example",
    language: Language = Language.SV,
) -> cc.AddContact:
    return cc.AddContact(ContactRole.BILLING, Contact(name, email, "+46 8 123 456"), language)


def technical_contact(
    name: str = "Tom Teknik", email: str = "it@contoso.example", language: Language = Language.EN
) -> cc.AddContact:
    return cc.AddContact(ContactRole.TECHNICAL, Contact(name, email), language)


def register_all(services: Services, customers: Iterable[tuple[str, Contact]]) -> None:
    """Enter each customer in the directory with its contact as billing contact
    (every third one served through an indirect reseller)."""
    caller = Caller.new(Actor("sales-sara", Role.SALES_AGENT), Source.CLI)
    for n, (customer_id, contact) in enumerate(customers):
        services.customers.register(caller, register(customer_id, indirect=n % 3 == 2))
        language = Language.SV if n % 2 else Language.EN
        services.customers.add_contact(
            caller, customer_id, cc.AddContact(ContactRole.BILLING, contact, language)
        )
