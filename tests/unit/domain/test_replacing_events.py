"""`Replaces`: an event whose fields replace the aggregate's attributes of the same
names, and nothing else (ADR 75)."""

from __future__ import annotations

from typing import cast

from cases.domain import customer_commands as c
from cases.domain.customer import Customer
from cases.domain.customer_values import CommunicationPreferences, Relationship
from tests.support.builders import ctx


def _customer() -> Customer:
    return Customer.register(
        ctx(),
        c.RegisterCustomer(
            customer_id="contoso",
            display_name="Contoso",
            tenant_id="8c5f0a3e-2b1d-4e6f-9a7b-3c2d1e0f4a5b",
            primary_domain="contoso.example",
            relationship=Relationship.DIRECT_BILL,
            preferences=CommunicationPreferences(),
        ),
    )


def test_each_field_of_the_event_replaces_the_attribute_of_its_name() -> None:
    customer = _customer()
    tenant = c.ChangeTenant("1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9", "fabrikam.example")
    customer.change_tenant(ctx(), tenant)
    assert (customer.tenant_id, customer.primary_domain) == (
        "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9",
        "fabrikam.example",
    )
    assert customer.display_name == "Contoso"  # not a field of the event: kept


def test_the_aggregate_replayed_from_its_events_has_the_replaced_values() -> None:
    customer = _customer()
    customer.rename(ctx(), c.RenameCustomer("Contoso Ltd"))
    replayed: Customer | None = None
    for event in customer.collect_events():
        replayed = cast("Customer | None", event.mutate(replayed))
    assert replayed is not None
    assert replayed.display_name == "Contoso Ltd"
    assert replayed.tenant_id == "8c5f0a3e-2b1d-4e6f-9a7b-3c2d1e0f4a5b"
    assert replayed.version == customer.version
