"""Commands are built from request bodies by name (ADR 0039): the names must agree."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest
from pydantic import BaseModel

from cases.api.resource_routes import command_of
from cases.api.routers import accounts, cases
from cases.api.schemas import accounts as account_shapes
from cases.api.schemas import cases as case_shapes
from cases.domain import billing_commands, case_commands
from cases.domain.billing_values import InvoiceLine, InvoicePeriod
from cases.domain.case_values import Contact, Direction
from cases.domain.money import UnitPrice
from cases.domain.support_terms import Channel

PATH_FIELDS = {field for field, _ in accounts.PATH_FIELDS.values()}
ROUTES: list[tuple[str, type[BaseModel], type[object]]] = [
    *((op, body, kind) for _, op, body, kind, _ in cases.ACTIONS),
    *((op, body, kind) for _, op, body, _, kind, _ in accounts.ACTIONS),
    ("receive_case", case_shapes.ReceiveCase, case_commands.TakeIn),
    ("open_account", account_shapes.OpenAccount, billing_commands.OpenAccount),
]


@pytest.mark.parametrize(("operation", "body", "kind"), ROUTES, ids=[r[0] for r in ROUTES])
def test_every_body_field_names_a_field_of_its_command(
    operation: str, body: type[BaseModel], kind: type[object]
) -> None:
    fields = {f.name for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    unknown = set(body.model_fields) - fields - {"occurred_at"}  # occurred_at dates the caller
    assert not unknown, f"{operation}: {body.__name__} sends {unknown}, not in {kind.__name__}"


@pytest.mark.parametrize(("operation", "body", "kind"), ROUTES, ids=[r[0] for r in ROUTES])
def test_every_required_command_field_comes_from_the_body_or_the_path(
    operation: str, body: type[BaseModel], kind: type[object]
) -> None:
    required = {
        f.name
        for f in dataclasses.fields(kind)  # type: ignore[arg-type]
        if f.default is dataclasses.MISSING
    }
    missing = required - set(body.model_fields) - PATH_FIELDS
    assert not missing, f"{operation}: nothing fills {missing} of {kind.__name__}"


def test_a_body_becomes_its_command_with_nested_shapes_as_domain_values() -> None:
    body = account_shapes.IssueInvoice.model_validate(
        {
            "number": "F-1",
            "period": {"starts_on": "2026-03-01", "ends_on": "2026-03-31"},
            "lines": [
                {
                    "description": "Seats",
                    "quantity": 2,
                    "unit_price": {"amount": "5.00", "currency": "EUR"},
                }
            ],
            "issued_on": "2026-03-02",
        }
    )

    command = command_of(body, billing_commands.IssueInvoice)

    assert command == billing_commands.IssueInvoice(
        number="F-1",
        period=InvoicePeriod(date(2026, 3, 1), date(2026, 3, 31)),
        lines=(InvoiceLine("Seats", Decimal(2), UnitPrice(Decimal("5.00"), "EUR")),),
        issued_on=date(2026, 3, 2),
        due_on=None,
    )


def test_what_the_route_gives_overrides_the_body() -> None:
    body = account_shapes.OpenDispute(reason="Double-counted")

    command = command_of(body, billing_commands.OpenDispute, invoice_number="F-7")

    assert command == billing_commands.OpenDispute(invoice_number="F-7", reason="Double-counted")


def test_a_flat_body_and_a_nested_contact_become_domain_values() -> None:
    body = case_shapes.Communication.model_validate(
        {"direction": "outbound", "channel": "email", "summary": "Sent the fix"}
    )

    command = command_of(body, case_commands.RecordCommunication)

    assert command == case_commands.RecordCommunication(
        Direction.OUTBOUND, Channel.EMAIL, "Sent the fix"
    )
    contact = case_shapes.ContactIn(name="Karin", email="karin@contoso.example").domain_value()
    assert contact == Contact("Karin", "karin@contoso.example")
