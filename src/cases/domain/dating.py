"""When an act may be said to have happened: the rules every command's moments
obey, whatever the aggregate (ADR 32).

- A customer's acts happen when they are recorded: a customer never dates one.
- Staff may log an act late, up to the context's backdating allowance; only a
  role allowed to record late facts (the system, importing history) goes further.

The aggregates add their own rules of order (a case's steps keep their order; an
account's invoices and payments fall between its opening and today).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cases.domain import errors
from cases.domain.metadata import Actor, CommandContext, Role
from cases.domain.permissions import Permission, allows


def may_record_late(actor: Actor) -> bool:
    return allows(actor.role, Permission.RECORD_LATE_FACTS)


def check_dating(ctx: CommandContext) -> None:
    """Refuse a context whose `occurred_at` its actor may not give."""
    if ctx.actor.role is Role.CUSTOMER and ctx.occurred_at != ctx.recorded_at:
        raise errors.CustomerCannotDateActsError(
            "a customer's acts happen when they are recorded: send no occurred_at"
        )
    check_within_allowance(ctx, "occurred_at", ctx.occurred_at)


def check_within_allowance(ctx: CommandContext, what: str, moment: datetime) -> None:
    """Refuse `moment` (named `what`) if it lies further before the recording than
    the allowance and the actor may not record late facts."""
    late = ctx.recorded_at - moment
    if late > ctx.backdating_allowance and not may_record_late(ctx.actor):
        raise errors.BackdatedBeyondAllowanceError(
            f"{what} {moment.isoformat()} is {_hours(late)} before it is recorded; "
            f"an act may be logged at most {_hours(ctx.backdating_allowance)} late"
        )


def _hours(span: timedelta) -> str:
    hours = span / timedelta(hours=1)
    return f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.1f} days"
