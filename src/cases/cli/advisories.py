"""`cases advisories sync|status`: the vendor's service-health issues, imported."""

from __future__ import annotations

from typing import Annotated

import typer

from cases.application.advisory_sync import AdvisorySync
from cases.cli.services import cli_settings, fail, open_services
from cases.settings import SettingsError
from cases.vendor.http import VendorUnavailableError
from cases.vendor.wiring import service_health

advisories_app = typer.Typer(
    help="The vendor's service-health advisories and incidents, imported.",
    no_args_is_help=True,
)


@advisories_app.callback()
def advisories() -> None:
    """The vendor's service-health advisories and incidents, imported."""


@advisories_app.command("sync")
def sync(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what the sync would record; record nothing.")
    ] = False,
) -> None:
    """Import every issue the vendor changed since the last sync, once."""
    settings = cli_settings()
    with open_services() as services:
        try:
            with service_health(settings) as health:
                summary = AdvisorySync(services.runner, health).run(dry_run=dry_run)
        except SettingsError as e:
            fail(str(e), 2)
        except VendorUnavailableError as e:
            fail(f"the vendor is unavailable, the sync resumes next time: {e}", 3)
    for line in summary.lines():
        print(line)


@advisories_app.command("status")
def status() -> None:
    """Where the import stands: its watermark and what it has recorded."""
    with open_services() as services:
        feed = AdvisorySync.feed_of(services.runner)
    if feed is None:
        print("no advisory has been imported")
        return
    watermark = feed.watermark.isoformat() if feed.watermark else "none"
    last = feed.last_imported_at.isoformat() if feed.last_imported_at else "never"
    print(f"watermark {watermark}; {feed.imported} versions imported; last page at {last}")
