"""`cases accounts`: the hand commands on a billing account (ADRs 47 and 61).

Suspend or reinstate a subscription's access, hold collection until a promised
day, change a subscription's quantity, cancel it. The account is named by its
customer's id (accounts are one per customer). Each command goes through the
billing office like the API's, recorded with the command line as its source;
a refusal exits with 1 and names the rule broken.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from cases.application.caller import Caller
from cases.cli.groups import command_group
from cases.cli.serve import BOOTSTRAP
from cases.cli.services import open_services
from cases.domain import billing_commands as c
from cases.domain.billing_account import BillingAccount
from cases.domain.metadata import Source

accounts_app = command_group(
    "Billing accounts: access, collection holds and subscriptions by hand."
)

CustomerId = Annotated[str, typer.Argument(help="The account's customer id, e.g. contoso.")]
SubscriptionId = Annotated[str, typer.Argument(help="The subscription's id, e.g. sub-bp-40.")]
Reason = Annotated[str, typer.Option(help="Why, in one line (kept in the account's history).")]


def _handle(customer_id: str, command: c.AccountCommand, done: str) -> None:
    with open_services() as services:
        account_id = BillingAccount.id_for(customer_id)
        receipt = services.billing.handle(Caller.new(BOOTSTRAP, Source.CLI), account_id, command)
    print(f"{customer_id}: {done} (account version {receipt.version})")


@accounts_app.command("suspend")
def suspend(customer_id: CustomerId, subscription_id: SubscriptionId, *, reason: Reason) -> None:
    """Suspend a subscription by hand: only a reinstatement by hand lifts it."""
    _handle(customer_id, c.SuspendAccess(subscription_id, reason), f"{subscription_id} suspended")


@accounts_app.command("reinstate")
def reinstate(customer_id: CustomerId, subscription_id: SubscriptionId, *, reason: Reason) -> None:
    """Reinstate a suspended subscription by hand, whatever suspended it."""
    command = c.ReinstateAccess(subscription_id, reason)
    _handle(customer_id, command, f"{subscription_id} reinstated")


@accounts_app.command("hold")
def hold(
    customer_id: CustomerId,
    *,
    until: Annotated[str, typer.Option(help="The promised day, YYYY-MM-DD (inclusive).")],
    reason: Reason,
) -> None:
    """Hold collection through a day the customer promised to pay by."""
    day = _day(until, "--until")
    _handle(customer_id, c.HoldCollection(day, reason), f"collection held through {day}")


@accounts_app.command("change-quantity")
def change_quantity(
    customer_id: CustomerId,
    subscription_id: SubscriptionId,
    quantity: Annotated[int, typer.Argument(help="The new number of seats or licences.")],
    *,
    reason: Reason,
) -> None:
    """Change a subscription's seats or licences, from today."""
    command = c.ChangeQuantity(subscription_id, quantity, reason)
    _handle(customer_id, command, f"{subscription_id} now has a quantity of {quantity}")


@accounts_app.command("cancel")
def cancel(
    customer_id: CustomerId,
    subscription_id: SubscriptionId,
    *,
    reason: Reason,
    effective_on: Annotated[
        str | None,
        typer.Option(help="The first day without it, YYYY-MM-DD; default today."),
    ] = None,
) -> None:
    """Cancel a subscription from a day: no period starting then is invoiced."""
    day = None if effective_on is None else _day(effective_on, "--effective-on")
    command = c.CancelSubscription(subscription_id, reason, day)
    _handle(customer_id, command, f"{subscription_id} cancelled from {day or 'today'}")


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a day (YYYY-MM-DD)", param_hint=option) from None
