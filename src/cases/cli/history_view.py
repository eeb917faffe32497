"""Render an aggregate's history as text a person can read."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from cases.domain.support_case import SupportCase
from cases.history.entries import HistoryEntry
from cases.history.event_summaries import summarise


def _moment(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def render_history(entries: Iterable[HistoryEntry]) -> list[str]:
    """One line per event: version, when it happened, who, how, what."""
    lines = []
    for entry in entries:
        meta = entry.meta
        late = ""
        if (entry.recorded_at - meta.occurred_at).total_seconds() >= 60:
            late = f" (recorded {_moment(entry.recorded_at)})"
        who = f"{meta.actor.principal_id} ({meta.actor.role.value.replace('_', ' ')})"
        lines.append(
            f"  v{entry.version:<3} {_moment(meta.occurred_at)}{late}  {who} via "
            f"{meta.source.value}\n        {summarise(entry.event_type, entry.details)}"
        )
    return lines


def render_case_header(case: SupportCase) -> list[str]:
    escalations = ", ".join(
        " ".join(
            part
            for part in (
                f"#{e.number}",
                e.target.value.replace("_", " "),
                f"ref {e.vendor_reference}" if e.vendor_reference else "",
            )
            if part
        )
        for e in case.escalations
    )
    return [
        f"Case {case.id}",
        f"  {case.customer_id}: {case.title}",
        (
            f"  {case.category.value}, {case.severity.value}, {case.product}; received "
            f"{_moment(case.received_at)} UTC by {case.channel.value}; "
            f"terms v{case.terms_version}"
        ),
        (
            f"  status {case.status.value}; assignee {case.assignee or '-'}; "
            f"escalations {escalations or '-'}; reopened {case.reopen_count}x"
        ),
    ]
