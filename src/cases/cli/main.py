"""The `cases` command line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

import typer

from cases.application.clock import ManualClock, SystemClock
from cases.bootstrap import Services, bootstrap
from cases.cli.history_view import render_case_header, render_history
from cases.domain.errors import DomainError
from cases.domain.support_case import SupportCase
from cases.log_config import configure_logging
from cases.persistence.store import StoreUnavailableError
from cases.scenario.support import SupportScenario
from cases.settings import SettingsError, get_settings

app = typer.Typer(
    name="cases",
    help="Event-sourced support cases and billing accounts for CSP partners.",
    no_args_is_help=True,
    add_completion=False,
)
history_app = typer.Typer(help="Print the recorded history of a case.", no_args_is_help=True)
app.add_typer(history_app, name="history")


@contextmanager
def open_services(clock: ManualClock | None = None, quiet: bool = False) -> Iterator[Services]:
    """Services on the configured store; clear one-line errors instead of tracebacks.

    `quiet` keeps the JSON log to warnings unless CASES_LOG_LEVEL asks for more,
    so output meant for people is not buried in it.
    """
    try:
        settings = get_settings()
        explicit = "log_level" in settings.model_fields_set
        configure_logging(settings.log_level if explicit or not quiet else "WARNING")
        services = bootstrap(settings, clock or SystemClock())
    except (SettingsError, StoreUnavailableError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise typer.Exit(2) from None
    try:
        yield services
    except DomainError as e:
        print(f"refused ({e.rule}): {e.message}", file=sys.stderr)
        raise typer.Exit(1) from None
    finally:
        services.close()


@app.command()
def demo(
    days: Annotated[int, typer.Option(help="How far back the simulated fortnight starts.")] = 14,
) -> None:
    """Run the scripted scenario on the configured store and print a case history."""
    start = (SystemClock().now() - timedelta(days=days)).replace(
        hour=7, minute=10, second=0, microsecond=0
    )
    clock = ManualClock(start)
    with open_services(clock, quiet=True) as services:
        print(f"Store: {get_settings().effective_database_url}")
        result = SupportScenario(services, clock, get_settings().vendor_name).run()
        print(f"Recorded {len(result.cases)} support cases:")
        for key, case_id in result.cases.items():
            case = services.desk.case(case_id)
            print(f"  {key:<20} {case_id}  {case.status.value:<12} v{case.version}")
        print("\nSteps the rules refused (nothing was recorded for them):")
        for refusal in result.refusals:
            print(f"  - {refusal}")
        featured = result.cases["fabrikam-teams"]
        print()
        _print_case(services, featured)


def _print_case(services: Services, case_id: UUID, case: SupportCase | None = None) -> None:
    case = case or services.desk.case(case_id)
    print("\n".join(render_case_header(case)))
    entries = services.audit.history(SupportCase, case_id)[: case.version]
    print("\n".join(render_history(entries)))


@history_app.command("case")
def history_case(
    case_id: UUID,
    version: Annotated[int | None, typer.Option(help="Show the case as at this version.")] = None,
    as_of: Annotated[
        datetime | None,
        typer.Option(help="Show the case as recorded at this moment (UTC)."),
    ] = None,
) -> None:
    """Print a case's history, or its state at a version or a moment."""
    with open_services() as services:
        case = _case_at(services, case_id, version, as_of)
        _print_case(services, case_id, case)


def _case_at(
    services: Services, case_id: UUID, version: int | None, as_of: datetime | None
) -> SupportCase:
    if version is not None:
        return services.audit.at_version(SupportCase, case_id, version)
    if as_of is not None:
        moment = as_of if as_of.tzinfo else as_of.replace(tzinfo=SystemClock().now().tzinfo)
        return services.audit.as_of(SupportCase, case_id, moment)
    return services.desk.case(case_id)


def main() -> None:
    app()
