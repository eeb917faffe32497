"""The scheduled advisory sync: beside the projection runners, every
`CASES_ADVISORY_SYNC_SECONDS`, by whichever process holds its leadership.

A vendor that is down, slow or answering garbage fails one attempt: it is
logged, noted in `vendor_syncs` (shown by /ready and `cases advisories
status`), and the next attempt resumes from the feed's watermark. Commands
never wait on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import suppress

import structlog

from cases.application.advisory_sync import AdvisorySync, SyncSummary
from cases.application.command_runner import CommandRunner
from cases.clock import Clock, SystemClock
from cases.db.database import ProjectionDatabase
from cases.followers.leadership import Leadership
from cases.followers.runner import RECOVERABLE
from cases.persistence.event_log import EventLog
from cases.projections.advisories import VendorSyncs
from cases.settings import Settings
from cases.vendor.http import VendorUnavailableError
from cases.vendor.wiring import service_health

logger = structlog.get_logger("cases.advisories")

ADVISORY_SYNC = "advisory_sync"


def sync_once(settings: Settings, runner: CommandRunner, *, dry_run: bool = False) -> SyncSummary:
    """One sync against the configured vendor."""
    with service_health(settings) as health:
        return AdvisorySync(runner, health).run(dry_run=dry_run)


def note_attempt(
    db: ProjectionDatabase, clock: Clock, summary: SyncSummary | None, error: str | None
) -> None:
    VendorSyncs(db).note(ADVISORY_SYNC, clock.now(), len(summary.recorded) if summary else 0, error)


class AdvisorySyncLoop:
    """Runs the advisory sync every `interval` seconds until stopped."""

    def __init__(
        self,
        settings: Settings,
        log: EventLog,
        open_db: Callable[[], ProjectionDatabase],
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.runner = CommandRunner(log, clock or SystemClock())
        self.open_db = open_db
        self.interval = settings.advisory_sync_seconds
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.attempt()
            except RECOVERABLE as e:
                logger.warning("advisory_sync_store_unavailable", error=type(e).__name__)
            self.stopping.wait(self.interval)

    def attempt(self) -> SyncSummary | None:
        """One sync if this process leads it (None if another does)."""
        db = self.open_db()
        leadership = Leadership(db, ADVISORY_SYNC)
        try:
            if not leadership.try_acquire():
                return None
            try:
                summary = sync_once(self.settings, self.runner)
            except VendorUnavailableError as e:
                logger.warning("advisory_sync_failed", error=str(e))
                note_attempt(db, self.runner.clock, None, str(e))
                return None
            except Exception as e:  # garbage the parser did not foresee: next time
                logger.exception("advisory_sync_failed")
                note_attempt(db, self.runner.clock, None, f"{type(e).__name__}: {e}")
                return None
            logger.info(
                "advisory_sync_done",
                pages=summary.pages,
                recorded=len(summary.recorded),
                malformed=summary.malformed,
                requests=summary.requests,
            )
            note_attempt(db, self.runner.clock, summary, None)
            return summary
        finally:
            with suppress(*RECOVERABLE):
                leadership.release()
            db.close()


def advisory_loop(
    settings: Settings, log: EventLog, open_db: Callable[[], ProjectionDatabase]
) -> AdvisorySyncLoop | None:
    """The loop the settings ask for: none unless an interval and a client are set."""
    if settings.advisory_sync_seconds <= 0 or settings.vendor_client_id is None:
        return None
    return AdvisorySyncLoop(settings, log, open_db)
