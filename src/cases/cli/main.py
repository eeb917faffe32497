"""The `cases` command line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import typer

from cases import __version__
from cases.cli.accounts import accounts_app
from cases.cli.advisories import advisories_app
from cases.cli.audit import audit_app
from cases.cli.clocks import clocks_app
from cases.cli.collection import collection_app
from cases.cli.customers import customers_app
from cases.cli.demo import demo, print_case
from cases.cli.groups import command_group
from cases.cli.moments import within_range
from cases.cli.outbox import outbox_app
from cases.cli.privacy import privacy_app
from cases.cli.projections import migrate_command, projections_app
from cases.cli.replay import replay_app
from cases.cli.report import report_app
from cases.cli.serve import principals_app, serve_command
from cases.cli.services import open_services
from cases.domain.support_case import SupportCase

app = typer.Typer(
    name="cases",
    help="Event-sourced support cases and billing accounts for CSP partners.",
    no_args_is_help=True,
    add_completion=False,
)
history_app = command_group("Print the recorded history of a case.")
app.add_typer(history_app, name="history")
app.add_typer(collection_app, name="collection")
app.add_typer(clocks_app, name="clocks")
app.add_typer(projections_app, name="projections")
app.command("migrate")(migrate_command)
app.command("demo")(demo)
app.command("serve")(serve_command)
app.add_typer(principals_app, name="principals")
app.add_typer(replay_app, name="replay")
app.add_typer(report_app, name="report")
app.add_typer(audit_app, name="audit")
app.add_typer(privacy_app, name="privacy")
app.add_typer(advisories_app, name="advisories")
app.add_typer(customers_app, name="customers")
app.add_typer(outbox_app, name="outbox")
app.add_typer(accounts_app, name="accounts")


def _print_version(wanted: bool) -> None:
    if wanted:
        print(f"cases {__version__}")
        raise typer.Exit


@app.callback()
def cases_command(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the installed version and exit.",
        ),
    ] = False,
) -> None:
    """Event-sourced support cases and billing accounts for CSP partners."""


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
    moment = as_of if as_of is None or as_of.tzinfo else as_of.replace(tzinfo=UTC)
    if moment is not None:
        within_range(moment, "--as-of")
    with open_services() as services:
        case = services.audit.state(SupportCase, case_id, version=version, as_of=moment)
        print_case(services, case_id, case)


def main() -> None:
    app()
