"""`cases report compliance`: how service levels were kept, from the read models.

Reads the `service_levels` projection (ADR 20); says so on stderr when that is
behind the log, since the figures then miss the latest facts. Exit code 2 for a
store it cannot use, 1 for a request it refuses.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cases.cli.groups import command_group
from cases.cli.moments import within_range
from cases.cli.services import cli_settings, fail, read_model_store
from cases.cli.stores import store_or_exit
from cases.clock import SystemClock
from cases.db.database import ProjectionDatabase, open_projection_db
from cases.db.schema import check_schema_current
from cases.domain.errors import DomainError
from cases.persistence.event_log import EventLog
from cases.persistence.store import open_event_log
from cases.projections.layout import applied_position
from cases.reports.compliance_export import as_dict, to_csv
from cases.reports.compliance_report import (
    ClockFigures,
    ComplianceReport,
    ComplianceReportView,
    Durations,
    ReportRequest,
)
from cases.reports.compliance_sql import Dimension
from cases.reports.compliance_statements import more_connections
from cases.reports.service_levels import ServiceLevelsProjection

report_app = command_group("Reports from the read models.", always_a_group=True)


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def parse_bound(text: str, option: str) -> datetime:
    """A day (its midnight in UTC) or a moment with a UTC offset."""
    try:
        if len(text) == 10:
            day = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
            return within_range(day, option)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither a day (YYYY-MM-DD) nor an ISO 8601 moment", param_hint=option
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise typer.BadParameter(
            "give the moment a UTC offset, e.g. 2026-05-01T06:00:00+00:00", param_hint=option
        )
    return within_range(moment, option)


@contextmanager
def _projection_db() -> Iterator[ProjectionDatabase]:
    """The read models of the configured store, on a current schema; a note on
    stderr if the service-level projection has facts still to apply."""
    settings = cli_settings(quiet=True)
    url = read_model_store(settings, "reports")
    with store_or_exit(url):
        check_schema_current(url)
        db = open_projection_db(settings)
    try:
        log = open_event_log(settings)
        try:
            _note_lag(log, db)
        finally:
            log.close()
        yield db
    finally:
        db.close()


def _note_lag(log: EventLog, db: ProjectionDatabase) -> None:
    projection = ServiceLevelsProjection()
    position = applied_position(db, projection.name)  # partitions: the least (ADR 90)
    head = log.head()
    pending = log.recorder.select_notifications(
        start=position + 1, limit=1, stop=head, topics=projection.topics()
    )
    if position < head and pending:
        print(
            f"note: the {projection.name} read model is behind the log (at {position} of "
            f"{head}); the figures miss what it has not applied yet (`cases projections run "
            f"{projection.name} --once` catches it up)",
            file=sys.stderr,
        )


@report_app.command("compliance")
def compliance(
    start: Annotated[
        str, typer.Option("--from", help="Cases received from this day (00:00 UTC) or moment.")
    ],
    end: Annotated[str, typer.Option("--to", help="... and before this day or moment.")],
    by: Annotated[
        list[Dimension] | None,
        typer.Option("--by", help="Group by (repeat for several, in order)."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Count only what was recorded by this moment. Default: now."),
    ] = None,
    output: Annotated[Format, typer.Option("--format", help="How to print it.")] = Format.TABLE,
) -> None:
    """Service levels kept for the cases received in a period, as of a moment:
    response, resolution and update times (business time), breaches, escalations
    and reopens."""
    now = SystemClock().now()
    moment = parse_bound(as_of, "--as-of") if as_of is not None else now
    if moment > now:
        raise typer.BadParameter(
            "a report cannot be as of a moment still to come", param_hint="--as-of"
        )
    try:
        request = ReportRequest(
            parse_bound(start, "--from"), parse_bound(end, "--to"), moment, tuple(by or ())
        )
    except DomainError as e:
        fail(e.message, 1)
    with _projection_db() as db:
        found = ComplianceReportView(db, helpers=more_connections(db)).report(request)
    if output is Format.CSV:
        sys.stdout.write(to_csv(found))
    elif output is Format.JSON:
        print(json.dumps(as_dict(found), indent=2))
    else:
        print_table(table(found))


# The table for people ------------------------------------------------------------


def print_table(rendered: Table) -> None:
    """Print the table whole, even wider than the terminal (or a pipe's 80
    columns): cut-off figures would mislead."""
    console = Console()
    needed = console.measure(rendered, options=console.options.update(max_width=1000)).maximum
    Console(width=max(console.width, needed)).print(rendered)


def hours(duration: timedelta | None) -> str:
    """Business time as H:MM (hours may exceed 24)."""
    if duration is None:
        return "-"
    minutes = round(duration / timedelta(minutes=1))
    return f"{minutes // 60}:{minutes % 60:02d}"


def percent(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f} %"


def _times(times: Durations) -> str:
    return f"{hours(times.median)} / {hours(times.p90)}"


def _clock(figures: ClockFigures) -> str:
    """Median / p90, and the share within target under it."""
    return f"{_times(figures.times)}\n{percent(figures.target.share)}"


def table(found: ComplianceReport) -> Table:
    request = found.request
    title = (
        f"Compliance: cases received from {request.start.isoformat()} to "
        f"{request.end.isoformat()}, as recorded by {request.as_of.isoformat()}"
    )
    result = Table(
        title=title,
        caption="Times: median / p90 in business hours (H:MM), then the share within "
        "target. Escalated: count, then escalated cases / cases.",
    )
    for dimension in request.group_by:
        result.add_column(dimension.value, no_wrap=True)
    headings = ["cases", "first response", "resolution", "update gap", "breaches"]
    headings += ["escalated", "to escalate", "vendor time", "reopened"]
    for heading in headings:
        result.add_column(heading, justify="right", no_wrap=True)
    for group in found.groups:
        escalations = group.escalations
        result.add_row(
            *group.key,
            str(group.cases),
            _clock(group.first_response),
            _clock(group.resolution),
            _clock(group.next_update),
            str(group.breaches.total),
            f"{escalations.escalations}\n{percent(group.escalation_rate)}",
            _times(escalations.time_to_escalate),
            _clock(escalations.vendor),
            f"{group.reopened}\n{percent(group.reopen_rate)}",
        )
    return result
