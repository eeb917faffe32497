"""The customer directory: customers, their contacts, their communication preferences.

Reads come from the directory's read model (`min_position` to read your
writes); a customer principal sees its own customer's record only, and any
other answers as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Path, Response
from pydantic import BaseModel

from cases.api.cursors import Cursor, Limit, key_after, page_of
from cases.api.deps import (
    Command,
    MinPositionDep,
    PrincipalDep,
    QueryDbDep,
    check_customer,
    command_for,
    require,
    wait_for_projections,
)
from cases.api.resource_routes import accepted, add_command_route, command_of
from cases.api.routers.cases import PROBLEMS as CASE_PROBLEMS
from cases.api.routing import Router
from cases.api.schemas import customers as s
from cases.api.schemas.common import CommandResult
from cases.application.command_runner import Receipt
from cases.domain import customer_commands as c
from cases.domain.errors import NotFoundError
from cases.domain.metadata import Role
from cases.domain.permissions import Permission
from cases.projections.customer_directory import CustomerDirectoryView

Reads = Depends(require(Permission.READ_CUSTOMERS))
ManageCommand = Annotated[Command, command_for(Permission.MANAGE_CUSTOMERS, if_match=False)]
VersionedCommand = Annotated[Command, command_for(Permission.MANAGE_CUSTOMERS)]
CustomerId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
VIEW = ("customer_directory",)

PROBLEMS: dict[int | str, dict[str, Any]] = {
    **CASE_PROBLEMS,
    404: {"description": "No such customer or contact (or not visible to this principal)"},
}

router = Router(prefix="/customers", tags=["customers"], responses=PROBLEMS)


def _not_found(customer_id: str) -> str:
    return f"the directory holds no customer {customer_id}"


@router.post("", status_code=201)
def register_customer(
    body: s.RegisterCustomer, command: ManageCommand, response: Response
) -> CommandResult:
    """Enter a customer in the directory (sales agents and billing admins)."""
    receipt = command.services.customers.register(
        command.caller, command_of(body, c.RegisterCustomer)
    )
    response.headers["Location"] = f"/customers/{body.customer_id}"
    return accepted(response, receipt)


@router.get("", dependencies=[Reads])
def list_customers(
    db: QueryDbDep,
    principal: PrincipalDep,
    min_position: MinPositionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> s.CustomerPage:
    """The directory's customers in id order, a page at a time (a customer: its own)."""
    wait_for_projections(db, VIEW, min_position)
    own = principal.customer_id if principal.role is Role.CUSTOMER else None
    query = {"list": "customers", "customer_id": own}
    after = key_after(cursor, query, 1, lambda key: str(key[0]))
    rows = CustomerDirectoryView(db).page(customer_id=own, after=after, limit=limit + 1)
    page, next_cursor = page_of(rows, limit, query, lambda row: [str(row["customer_id"])])
    return s.CustomerPage(items=[s.CustomerOut.of(r) for r in page], next_cursor=next_cursor)


@router.get("/{customer_id}", dependencies=[Reads])
def get_customer(
    customer_id: CustomerId,
    db: QueryDbDep,
    principal: PrincipalDep,
    min_position: MinPositionDep,
    response: Response,
) -> s.CustomerOut:
    """One customer with its contacts; its ETag is its version."""
    check_customer(principal, customer_id, _not_found(customer_id))
    wait_for_projections(db, VIEW, min_position)
    view = CustomerDirectoryView(db)
    row = view.get(customer_id)
    if row is None:
        raise NotFoundError(_not_found(customer_id))
    response.headers["ETag"] = f'"{row["version"]}"'
    return s.CustomerOut.of(row, view.contacts_of(customer_id))


def _change(kind: type[c.CustomerCommand]) -> Callable[..., Receipt]:
    def run(customer_id: str, body: BaseModel, command: Command) -> Receipt:
        return command.services.customers.handle(
            command.caller,
            customer_id,
            command_of(body, kind),
            expected_version=command.expected_version,
        )

    return run


def _set_webhook_secret(customer_id: str, body: s.SetWebhookSecret, command: Command) -> Receipt:
    sealed = command.services.webhook_secrets.seal(customer_id, body.secret.get_secret_value())
    return command.services.customers.handle(
        command.caller,
        customer_id,
        c.SetWebhookSecret(sealed, timedelta(hours=body.overlap_hours)),
        expected_version=command.expected_version,
    )


CUSTOMER_ACTIONS: tuple[tuple[str, str, type[BaseModel], Callable[..., Receipt], str], ...] = (
    (
        "/name",
        "rename_customer",
        s.RenameCustomer,
        _change(c.RenameCustomer),
        "Change the customer's display name (the organisation's: kept, not personal data).",
    ),
    (
        "/tenant",
        "change_tenant",
        s.ChangeTenant,
        _change(c.ChangeTenant),
        "Change the customer's vendor tenant id and primary domain (both, together).",
    ),
    (
        "/relationship",
        "change_relationship",
        s.ChangeRelationship,
        _change(c.ChangeRelationship),
        (
            "Change how the customer is billed: direct, or through an indirect reseller "
            "with its indirect provider named (later escalations to a provider name the new one)."
        ),
    ),
    (
        "/webhook-secret",
        "set_webhook_secret",
        s.SetWebhookSecret,
        _set_webhook_secret,
        (
            "Sign the messages to the customer's own webhook with its own secret, instead of "
            "the partner's; the one it replaces signs too for the overlap (ADR 68). The secret "
            "is stored sealed and never answered; the customer's history shows its fingerprint."
        ),
    ),
    (
        "/preferences",
        "change_preferences",
        s.ChangePreferences,
        _change(c.ChangePreferences),
        "Change how the customer wants to hear from the partner.",
    ),
)

for _path, _operation_id, _body, _run, _doc in CUSTOMER_ACTIONS:
    add_command_route(
        router,
        "/{customer_id}" + _path,
        _operation_id,
        _doc,
        body=_body,
        dependency=VersionedCommand,
        id_name="customer_id",
        id_type=CustomerId,
        run=_run,
        responses=PROBLEMS,
    )


@router.post("/{customer_id}/contacts", status_code=201)
def add_contact(
    customer_id: CustomerId, body: s.AddContact, command: ManageCommand, response: Response
) -> CommandResult:
    """Add a billing or technical contact (a person: their details are personal data)."""
    receipt = command.services.customers.add_contact(
        command.caller, customer_id, command_of(body, c.AddContact)
    )
    response.headers["Location"] = f"/customers/{customer_id}/contacts/{receipt.aggregate_id}"
    return accepted(response, receipt)


@router.post("/{customer_id}/contacts/{contact_id}")
def change_contact(
    customer_id: CustomerId,
    contact_id: UUID,
    body: s.ChangeContact,
    command: VersionedCommand,
    response: Response,
) -> CommandResult:
    """Replace a contact's details and language."""
    receipt = command.services.customers.handle_contact(
        command.caller,
        customer_id,
        contact_id,
        command_of(body, c.ChangeContact),
        expected_version=command.expected_version,
    )
    return accepted(response, receipt)


@router.post("/{customer_id}/contacts/{contact_id}/remove")
def remove_contact(
    customer_id: CustomerId,
    contact_id: UUID,
    body: s.RemoveContact,
    command: ManageCommand,
    response: Response,
) -> CommandResult:
    """Take a contact off the customer's list (erasing them is `POST /privacy/...`)."""
    receipt = command.services.customers.handle_contact(
        command.caller, customer_id, contact_id, command_of(body, c.RemoveContact)
    )
    return accepted(response, receipt)
