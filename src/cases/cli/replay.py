"""`cases replay case|account ID`: every recorded event, its metadata and what it
changed in the state, for auditors."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from enum import Enum
from typing import Annotated, Any
from uuid import UUID

import typer

from cases.application.replay import Replay, Replayer, ReplayStep
from cases.cli.groups import command_group
from cases.cli.history_view import render_case_header
from cases.cli.moments import iso_moment, within_range
from cases.cli.services import open_services
from cases.domain.billing_account import BillingAccount
from cases.domain.support_case import SupportCase

TEXT_LIMIT = 80  # characters of a text value shown; the API gives them whole
PATH_WIDTH = 48  # changes align their values up to this path length

replay_app = command_group("Replay a case's or an account's events, with what each changed.")

VersionOption = Annotated[
    int | None, typer.Option("--version", help="Stop after this version.", show_default=False)
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Stop after the last event recorded at or before this moment, ISO 8601 "
        "(e.g. 2026-03-02T09:30:00+01:00; without an offset it is UTC).",
        show_default=False,
    ),
]


@replay_app.command("case")
def replay_case(case_id: UUID, version: VersionOption = None, as_of: AsOfOption = None) -> None:
    """Print each event of a support case with its metadata and its changes."""
    moment = _moment(as_of) if as_of is not None else None
    with open_services() as services:
        replay = Replayer(services.runner).run(SupportCase, case_id, version=version, as_of=moment)
        print("\n".join(render_replay("support case", case_id, replay, version, moment)))
        print("\n".join(render_case_header(replay.state)))


@replay_app.command("account")
def replay_account(
    account_id: UUID, version: VersionOption = None, as_of: AsOfOption = None
) -> None:
    """Print each event of a billing account with its metadata and its changes."""
    moment = _moment(as_of) if as_of is not None else None
    with open_services() as services:
        replay = Replayer(services.runner).run(
            BillingAccount, account_id, version=version, as_of=moment
        )
        print("\n".join(render_replay("billing account", account_id, replay, version, moment)))
        print("\n".join(render_account_state(replay.state)))


def render_replay(
    noun: str,
    aggregate_id: UUID,
    replay: Replay[Any],
    version: int | None = None,
    as_of: datetime | None = None,
) -> list[str]:
    """A heading, then each step; then the heading of the final state."""
    last = replay.steps[-1].entry.version if replay.steps else 0
    limits = []
    if version is not None:
        limits.append(f"up to version {version}")
    if as_of is not None:
        limits.append(f"as recorded at {as_of.isoformat()}")
    lines = [
        f"Replay of {noun} {aggregate_id}: versions 1 to {last} of {replay.latest_version}"
        + (f" ({', '.join(limits)})" if limits else ""),
        "",
    ]
    for step in replay.steps:
        lines += render_step(step)
        lines.append("")
    lines.append(f"State at version {last}:")
    return lines


def render_step(step: ReplayStep) -> list[str]:
    """The event's version and type, when, who, how, its summary and its changes."""
    entry, meta = step.entry, step.entry.meta
    role = meta.actor.role.value.replace("_", " ")
    caused = f", caused by {meta.causation_id}" if meta.causation_id else ""
    lines = [
        f"v{entry.version}  {entry.event_type.rsplit('.', 1)[-1]}: {step.summary}",
        _moments(meta.occurred_at, entry.recorded_at),
        (
            f"    by {meta.actor.principal_id} ({role}) via {meta.source.value}; "
            f"correlation {meta.correlation_id}{caused}"
        ),
    ]
    if not step.changes:
        lines.append("    changed nothing in the state")
        return lines
    width = min(PATH_WIDTH, max(len(c.path) for c in step.changes))
    lines += [
        f"      {c.path + ':':<{width + 1}} {render_value(c.before)} -> {render_value(c.after)}"
        for c in step.changes
    ]
    return lines


def _moments(occurred_at: datetime, recorded_at: datetime) -> str:
    if occurred_at == recorded_at:
        return f"    occurred and recorded {recorded_at.isoformat()}"
    return f"    occurred {occurred_at.isoformat()}, recorded {recorded_at.isoformat()}"


def render_account_state(account: BillingAccount) -> list[str]:
    """An account's key fields: balance and its parts, invoices, subscriptions."""
    lines = [
        f"Billing account {account.id} of {account.customer_id}",
        (
            f"  {account.currency}, net {account.net_days} days, billed "
            f"{account.billing_period.value}, time zone {account.time_zone}"
        ),
        (
            f"  balance {account.balance}: charged {account.charged}, paid {account.paid}, "
            f"credited {account.credited}, written off {account.written_off}; "
            f"account credit {account.credit_balance}"
        ),
    ]
    for invoice in account.invoices.values():
        notes = [f"due {invoice.due_on.isoformat()}", f"outstanding {invoice.outstanding}"]
        if invoice.disputed:
            notes.append("disputed")
        if invoice.stages_entered:
            notes.append("stages " + " ".join(f"{d:+d}" for d in invoice.stages_entered))
        lines.append(f"  invoice {invoice.number}: {invoice.total}; " + ", ".join(notes))
    for sub in account.subscriptions.values():
        paid = f", paid through {sub.paid_through.isoformat()}" if sub.paid_through else ""
        lines.append(
            f"  subscription {sub.subscription_id}: {sub.product} x{sub.quantity}, "
            f"{sub.access.value}{paid}"
        )
    return lines


def render_value(value: Any) -> str:
    """A value as a person reads it: money with its currency, dates ISO, enums by
    value, texts quoted (first line, shortened), nothing as '-'."""
    text = str(value)  # Money ("18400.00 SEK"), numbers, ids
    if value is None:
        text = "-"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, Enum):
        text = str(value.value)
    elif isinstance(value, datetime | date):
        text = value.isoformat()
    elif isinstance(value, str):
        text = f'"{_shortened(value)}"'
    elif isinstance(value, tuple | list):
        text = "(" + ", ".join(render_value(v) for v in value) + ")"
    elif dataclasses.is_dataclass(value) and type(value).__str__ is object.__str__:
        shown = (
            f"{f.name} {render_value(getattr(value, f.name))}"
            for f in dataclasses.fields(value)
            if getattr(value, f.name) not in (None, ())
        )
        text = "{" + ", ".join(shown) + "}"
    return text


def _shortened(text: str) -> str:
    lines = text.strip().splitlines()
    line = lines[0] if lines else ""
    if len(line) > TEXT_LIMIT or len(lines) > 1:
        return line[: TEXT_LIMIT - 1].rstrip() + "…"
    return line


def _moment(text: str) -> datetime:
    moment = iso_moment(text, "--as-of")
    return within_range(
        moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC), "--as-of"
    )
