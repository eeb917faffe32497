"""Access and collection by hand: suspend or reinstate a subscription, hold
collection until a day the customer promised to pay by (ADR 47).

Billing admins may do these (`manage_access`, `hold_collection`); other roles
are refused with 403, customers included. Each route takes `If-Match` like the
account's other commands.
"""

from __future__ import annotations

from typing import Annotated

from cases.api.deps import Command, command_for
from cases.api.routers.accounts import Action, add_account_commands
from cases.api.routing import Router
from cases.api.schemas import accounts as s
from cases.domain import billing_commands as c
from cases.domain.permissions import Permission

router = Router(prefix="/accounts", tags=["accounts"])

AccessCommand = Annotated[Command, command_for(Permission.MANAGE_ACCESS)]
HoldCommand = Annotated[Command, command_for(Permission.HOLD_COLLECTION)]

# (path, operation id, body, dependency, domain command, the OpenAPI description)
ACTIONS: tuple[Action, ...] = (
    (
        "/subscriptions/{subscription_id}/suspension",
        "suspend_access",
        s.SuspendAccess,
        AccessCommand,
        c.SuspendAccess,
        "Suspend a subscription by hand. No payment lifts it: only a reinstatement.",
    ),
    (
        "/subscriptions/{subscription_id}/reinstatement",
        "reinstate_access",
        s.ReinstateAccess,
        AccessCommand,
        c.ReinstateAccess,
        (
            "Reinstate a suspended subscription by hand. A collection stage that still\n"
            "holds suspends it again at the next run, unless collection is held."
        ),
    ),
    (
        "/collection-holds",
        "hold_collection",
        s.HoldCollection,
        HoldCommand,
        c.HoldCollection,
        (
            "Hold collection through a day (a payment promise): until then no stage is\n"
            "entered, no notice sent and nothing suspended; payments still reinstate."
        ),
    ),
)

add_account_commands(router, ACTIONS)
