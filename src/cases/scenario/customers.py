"""The demo's customer directory: four customers, with billing contacts who read
Swedish or English, and Northwind served through an indirect reseller."""

from __future__ import annotations

from cases.application.caller import Caller
from cases.bootstrap import Services
from cases.domain import customer_commands as cc
from cases.domain.case_values import Contact
from cases.domain.customer_values import (
    CommunicationPreferences,
    ContactRole,
    Language,
    OptionalNotice,
    Relationship,
)
from cases.domain.metadata import Actor, Role, Source

SALES = Actor("sales-sara", Role.SALES_AGENT)

# (id, name, tenant, provider, billing contact, language, declines upcoming reminders)
CUSTOMERS = (
    ("contoso", "Contoso AB", "3f2a1c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b", None, "Eva Ek", Language.SV),
    (
        "fabrikam",
        "Fabrikam Ltd",
        "7c8d9e0f-1a2b-4c3d-9e4f-5a6b7c8d9e0f",
        None,
        "Ruth Ames",
        Language.EN,
    ),
    (
        "northwind",
        "Northwind Traders AB",
        "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
        "Nordic Cloud Distribution AB",
        "Lars Lind",
        Language.SV,
    ),
    (
        "tailspin",
        "Tailspin Toys Inc",
        "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
        None,
        "Dana Ruiz",
        Language.EN,
    ),
)


def register_customers(services: Services, suffix: str = "") -> list[str]:
    """Enter the demo's customers (ids with `suffix`) with their contacts; return the ids."""
    caller = Caller.new(SALES, Source.CLI)
    registered = []
    for key, name, tenant, provider, billing_name, language in CUSTOMERS:
        customer_id = f"{key}{suffix}"
        relationship = Relationship.INDIRECT_RESELLER if provider else Relationship.DIRECT_BILL
        declines = (OptionalNotice.UPCOMING_PAYMENT_REMINDER,) if key == "tailspin" else ()
        services.customers.register(
            caller,
            cc.RegisterCustomer(
                customer_id,
                name,
                tenant,
                f"{key}.example",
                relationship,
                CommunicationPreferences(opted_out=declines),
                provider,
            ),
        )
        ekonomi = "ekonomi" if language is Language.SV else "billing"
        services.customers.add_contact(
            caller,
            customer_id,
            cc.AddContact(
                ContactRole.BILLING, Contact(billing_name, f"{ekonomi}@{key}.example"), language
            ),
        )
        services.customers.add_contact(
            caller,
            customer_id,
            cc.AddContact(
                ContactRole.TECHNICAL,
                Contact("IT Service Desk", f"it@{key}.example", "+46 8 555 0100"),
                Language.EN,
            ),
        )
        registered.append(customer_id)
    return registered
