"""`cases advisories sync|status`: the vendor's service-health issues, imported."""

from __future__ import annotations

from typing import Annotated

import typer

from cases.application.advisory_sync import AdvisorySync
from cases.cli.groups import command_group
from cases.cli.services import cli_settings, fail, open_services
from cases.clock import Clock
from cases.db.database import open_projection_db
from cases.db.schema import pending_migrations
from cases.followers.advisory_loop import (
    ADVISORY_SYNC,
    VENDOR_REQUESTS,
    note_attempt,
    sync_once,
    sync_requests_once,
)
from cases.persistence.database_url import StoreKind, parse_database_url
from cases.projections.advisories import VendorSyncs
from cases.settings import Settings, SettingsError
from cases.vendor.http import VendorUnavailableError

advisories_app = command_group(
    "The vendor's service-health advisories and incidents, imported.", always_a_group=True
)


@advisories_app.command("sync")
def sync(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what the sync would record; record nothing.")
    ] = False,
    full: Annotated[
        bool,
        typer.Option("--full", help="Read every issue, not only those changed since the last."),
    ] = False,
) -> None:
    """Import every issue the vendor changed since the last sync, once."""
    settings = cli_settings()
    with open_services() as services:
        try:
            summary = sync_once(settings, services.runner, dry_run=dry_run, full=full)
        except SettingsError as e:
            fail(str(e), 2)
        except VendorUnavailableError as e:
            if not dry_run:
                note(settings, services.clock, ADVISORY_SYNC, 0, str(e))
            fail(f"the vendor is unavailable; the next sync resumes where this stopped: {e}", 3)
        if not dry_run:
            note(settings, services.clock, ADVISORY_SYNC, len(summary.recorded), None)
    for line in summary.lines():
        print(line)


@advisories_app.command("requests")
def sync_requests() -> None:
    """Import the status and notes of the vendor support requests opened for
    escalations, once (`vendor_requests` in /ready)."""
    settings = cli_settings()
    with open_services() as services:
        try:
            summary = sync_requests_once(settings, services.runner)
        except SettingsError as e:
            fail(str(e), 2)
        except VendorUnavailableError as e:
            note(settings, services.clock, VENDOR_REQUESTS, 0, str(e))
            fail(f"the vendor is unavailable; the next sync reads every request again: {e}", 3)
        note(settings, services.clock, VENDOR_REQUESTS, summary.recorded, None)
    for line in summary.lines():
        print(line)


def note(settings: Settings, clock: Clock, name: str, recorded: int, error: str | None) -> None:
    """Note the attempt where /ready shows it, if the store keeps read models."""
    url = parse_database_url(settings.effective_database_url)
    if url.kind is StoreKind.MEMORY or pending_migrations(url):
        return
    db = open_projection_db(settings)
    try:
        note_attempt(db, clock, name, recorded, error)
    finally:
        db.close()


@advisories_app.command("status")
def status() -> None:
    """Where the import stands: its watermark, what it recorded, how it last went."""
    settings = cli_settings()
    with open_services() as services:
        feed = AdvisorySync.feed_of(services.runner)
    if feed is None:
        print("no advisory has been imported")
    else:
        watermark = feed.watermark.isoformat() if feed.watermark else "none"
        last = feed.last_imported_at.isoformat() if feed.last_imported_at else "never"
        print(f"watermark {watermark}; {feed.imported} versions imported; last page at {last}")
    url = parse_database_url(settings.effective_database_url)
    if url.kind is StoreKind.MEMORY or pending_migrations(url):
        return
    db = open_projection_db(settings)
    try:
        for row in VendorSyncs(db).all():
            outcome = "ok" if row["last_error"] is None else f"failed: {row['last_error']}"
            print(
                f"{row['name']}: last attempt {row['last_attempt_at'].isoformat()} {outcome}; "
                f"{row['failures']} failures since the last success"
            )
    finally:
        db.close()
