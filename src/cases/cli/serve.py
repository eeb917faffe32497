"""`cases serve` and `cases principals ...`: run the HTTP API, bootstrap its users."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
import uvicorn

from cases.api.connection_shares import shares_directory
from cases.api.worker_cores import cores_directory
from cases.application.caller import Caller
from cases.cli.demo import demo as record_demo
from cases.cli.groups import command_group
from cases.cli.services import cli_settings, open_services
from cases.domain.metadata import Actor, Role, Source
from cases.observability.exposition import shared_directory
from cases.persistence.database_url import StoreKind, parse_database_url
from cases.settings import SettingsError

principals_app = command_group("Who may use the API, with which role.")

BOOTSTRAP = Actor("cli-bootstrap", Role.SYSTEM)
# Seconds a worker may take to answer uvicorn's health check. Its 5 s default
# killed workers as hung while they were still importing on a busy machine.
WORKER_START_TIMEOUT = 30


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (PostgreSQL only; SQLite runs one).")
    ] = 1,
    with_demo: Annotated[
        bool,
        typer.Option("--demo", help="On an empty store, record the demo story first."),
    ] = False,
) -> None:
    """Serve the HTTP API (docs at /docs) on the configured store."""
    settings = cli_settings(quiet=False)
    try:
        kind = parse_database_url(settings.effective_database_url).kind
    except SettingsError as e:
        print(f"error: {e}", file=sys.stderr)
        raise typer.Exit(2) from None
    if kind is StoreKind.MEMORY:
        print("error: CASES_DATABASE_URL: the API needs SQLite or PostgreSQL", file=sys.stderr)
        raise typer.Exit(2)
    if workers > 1 and kind is StoreKind.SQLITE:
        print(
            "error: --workers: the embedded SQLite store serves from one process", file=sys.stderr
        )
        raise typer.Exit(2)
    if with_demo and _store_is_empty():
        record_demo()
    # Where the workers' metrics meet (ADR 46; none when nothing is recorded), and
    # where they count their connections to keep them even (ADR 92), and where
    # they claim their cores (ADR 96).
    with (
        shared_directory(workers if settings.metrics_enabled else 1),
        shares_directory(workers) as http_protocol,
        cores_directory(workers if settings.pin_workers else 1),
    ):
        uvicorn.run(
            "cases.api.app:serve_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            access_log=False,
            timeout_worker_healthcheck=WORKER_START_TIMEOUT,
            http=http_protocol,
        )


@principals_app.command("create")
def create_principal(
    name: Annotated[str, typer.Option(help="Who this is, e.g. 'Anna Svensson'.")],
    role: Annotated[Role, typer.Option(help="The role it acts in.")],
    customer: Annotated[
        str | None, typer.Option(help="For the customer role: the customer it is bound to.")
    ] = None,
) -> None:
    """Create a principal and print its bearer token (shown only this once)."""
    with open_services() as services:
        issued = services.principals.create(
            Caller.new(BOOTSTRAP, Source.CLI), name=name, role=role, customer_id=customer
        )
        print(f"principal {issued.principal_id} ({role.value})")
        print(f"token {issued.token}")


@principals_app.command("list")
def list_principals() -> None:
    """List principals (tokens are never shown again)."""
    with open_services() as services:
        for principal in services.principals.all():
            state = "revoked" if principal.revoked else "active"
            bound = f" customer {principal.customer_id}" if principal.customer_id else ""
            print(f"{principal.id}  {principal.role.value:<22} {state:<8} {principal.name}{bound}")


def _store_is_empty() -> bool:
    with open_services() as services:
        return services.log.head() == 0
