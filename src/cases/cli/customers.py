"""`cases customers`: the customer directory from the command line (ADR 0048).

Reads come from the directory's own records (not a read model), so they need
no projection running.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from cases.application.caller import Caller
from cases.cli.groups import command_group
from cases.cli.serve import BOOTSTRAP
from cases.cli.services import open_services
from cases.domain import customer_commands as cc
from cases.domain.case_values import Contact
from cases.domain.customer import Customer
from cases.domain.customer_values import (
    CommunicationPreferences,
    ContactRole,
    Language,
    NoticeChannel,
    OptionalNotice,
    Relationship,
)
from cases.domain.metadata import Source

customers_app = command_group("The customer directory: customers and their contacts.")


def _caller() -> Caller:
    return Caller.new(BOOTSTRAP, Source.CLI)


@customers_app.command("add")
def add(
    customer_id: Annotated[str, typer.Argument(help="The partner's id, e.g. contoso.")],
    *,
    name: Annotated[str, typer.Option(help="Display name, e.g. 'Contoso AB'.")],
    tenant_id: Annotated[str, typer.Option(help="The vendor tenant's id (a GUID).")],
    domain: Annotated[str, typer.Option(help="Primary domain, e.g. contoso.example.")],
    indirect_provider: Annotated[
        str | None,
        typer.Option(help="Served through an indirect reseller: its indirect provider."),
    ] = None,
    channel: Annotated[list[NoticeChannel] | None, typer.Option(help="Repeatable.")] = None,
    webhook_url: Annotated[str | None, typer.Option(help="For the webhook channel.")] = None,
    opt_out: Annotated[list[OptionalNotice] | None, typer.Option(help="Repeatable.")] = None,
) -> None:
    """Enter a customer in the directory."""
    relationship = Relationship.DIRECT_BILL
    if indirect_provider is not None:
        relationship = Relationship.INDIRECT_RESELLER
    preferences = CommunicationPreferences(
        tuple(channel or (NoticeChannel.EMAIL,)), webhook_url, tuple(opt_out or ())
    )
    command = cc.RegisterCustomer(
        customer_id, name, tenant_id, domain, relationship, preferences, indirect_provider
    )
    with open_services() as services:
        receipt = services.customers.register(_caller(), command)
    print(f"registered customer {customer_id} ({receipt.aggregate_id})")


@customers_app.command("rename")
def rename(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
    *,
    name: Annotated[str, typer.Option(help="The new display name.")],
) -> None:
    """Change a customer's display name."""
    _handle(customer_id, cc.RenameCustomer(name))


@customers_app.command("change-tenant")
def change_tenant(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
    *,
    tenant_id: Annotated[str, typer.Option(help="The vendor tenant's id (a GUID).")],
    domain: Annotated[str, typer.Option(help="Primary domain, e.g. contoso.example.")],
) -> None:
    """Change a customer's vendor tenant and primary domain."""
    _handle(customer_id, cc.ChangeTenant(tenant_id, domain))


@customers_app.command("change-relationship")
def change_relationship(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
    *,
    indirect_provider: Annotated[
        str | None,
        typer.Option(help="Served through an indirect reseller: its indirect provider."),
    ] = None,
    direct_bill: Annotated[bool, typer.Option(help="Billed directly by the partner.")] = False,
) -> None:
    """Bill a customer directly (--direct-bill) or through an indirect reseller
    (--indirect-provider NAME)."""
    if direct_bill == (indirect_provider is not None):
        raise typer.BadParameter("give either --direct-bill or --indirect-provider")
    relationship = Relationship.DIRECT_BILL if direct_bill else Relationship.INDIRECT_RESELLER
    _handle(customer_id, cc.ChangeRelationship(relationship, indirect_provider))


def _handle(customer_id: str, command: cc.CustomerCommand) -> None:
    with open_services() as services:
        receipt = services.customers.handle(_caller(), customer_id, command)
    print(f"changed customer {customer_id} (version {receipt.version})")


@customers_app.command("set-webhook-secret")
def set_webhook_secret(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
    *,
    secret_file: Annotated[
        Path, typer.Option(help="A file holding the secret (it is never printed).")
    ],
    overlap_hours: Annotated[
        float, typer.Option(min=0, max=720, help="How long the replaced secret signs too.")
    ] = 24.0,
) -> None:
    """Sign the customer's webhook messages with its own secret (sealed under the
    master key), the replaced one too for the overlap."""
    secret = secret_file.read_text(encoding="utf-8")
    with open_services() as services:
        sealed = services.webhook_secrets.seal(customer_id, secret)
        services.customers.handle(
            _caller(), customer_id, cc.SetWebhookSecret(sealed, timedelta(hours=overlap_hours))
        )
    print(f"customer {customer_id} signs with webhook secret {sealed.fingerprint}")


@customers_app.command("list")
def list_customers() -> None:
    """Every customer, in the order registered."""
    with open_services() as services:
        for entry in services.customers.listing.entries():
            customer = services.runner.load(Customer, entry.aggregate_id)
            print(_line(customer))


@customers_app.command("show")
def show(customer_id: Annotated[str, typer.Argument(help="The customer's id.")]) -> None:
    """One customer, its preferences and its contacts."""
    with open_services() as services:
        customer = services.customers.customer(customer_id)
        print(_line(customer))
        preferences = customer.preferences
        channels = ", ".join(c.value for c in preferences.channels)
        declined = ", ".join(n.value for n in preferences.opted_out) or "none"
        print(f"  channels: {channels}; declines: {declined}")
        for secret in customer.webhook_secrets:
            until = "" if secret.retires_at is None else f" until {secret.retires_at.isoformat()}"
            print(f"  webhook secret {secret.fingerprint}{until}")
        for role in ContactRole:
            for person in services.customers.contacts(customer_id, role):
                contact = person.contact
                reach = ", ".join(x for x in (contact.email, contact.phone) if x)
                print(f"  {role.value} {person.id} {contact.name} <{reach}> ({person.language})")


@customers_app.command("add-contact")
def add_contact(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
    *,
    role: Annotated[ContactRole, typer.Option(help="billing or technical.")],
    name: Annotated[str, typer.Option(help="The person's name.")],
    email: Annotated[str | None, typer.Option(help="Their e-mail address.")] = None,
    phone: Annotated[str | None, typer.Option(help="Their phone number.")] = None,
    language: Annotated[Language, typer.Option(help="The language they read.")] = Language.EN,
) -> None:
    """Add a billing or technical contact to a customer."""
    command = cc.AddContact(role, Contact(name, email, phone), language)
    with open_services() as services:
        receipt = services.customers.add_contact(_caller(), customer_id, command)
    print(f"added contact {receipt.aggregate_id} to {customer_id}")


def _line(customer: Customer) -> str:
    through = (
        f", through an indirect reseller ({customer.indirect_provider})"
        if customer.indirect_provider
        else ", direct bill"
    )
    return (
        f"{customer.customer_id}: {customer.display_name}, {customer.primary_domain}, "
        f"tenant {customer.tenant_id}{through}"
    )
