"""The scheduled vendor syncs (advisories, then support requests): beside the
projection runners, every `CASES_ADVISORY_SYNC_SECONDS`, by whichever process
holds their leadership.

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
from cases.application.vendor_requests import RequestSyncSummary, VendorRequests
from cases.clock import Clock, SystemClock
from cases.db.database import ProjectionDatabase
from cases.followers.leadership import Leadership
from cases.followers.runner import RECOVERABLE
from cases.persistence.event_log import EventLog
from cases.projections.advisories import VendorSyncs
from cases.settings import Settings
from cases.vendor.http import VendorUnavailableError
from cases.vendor.wiring import partner_center, service_health

logger = structlog.get_logger("cases.advisories")

ADVISORY_SYNC = "advisory_sync"
VENDOR_REQUESTS = "vendor_requests"


def sync_once(
    settings: Settings, runner: CommandRunner, *, dry_run: bool = False, full: bool = False
) -> SyncSummary:
    """One sync of the advisories against the configured vendor."""
    with service_health(settings) as health:
        return AdvisorySync(runner, health).run(dry_run=dry_run, full=full)


def sync_requests_once(settings: Settings, runner: CommandRunner) -> RequestSyncSummary:
    """One sync of the vendor support requests opened for escalations."""
    with partner_center(settings) as center:
        return VendorRequests(runner).sync(center)


def note_attempt(
    db: ProjectionDatabase, clock: Clock, name: str, recorded: int, error: str | None
) -> None:
    VendorSyncs(db).note(name, clock.now(), recorded, error)


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

    def attempt(self) -> bool:
        """One sync of each kind if this process leads them (False if another does)."""
        db = self.open_db()
        leadership = Leadership(db, ADVISORY_SYNC)
        try:
            if not leadership.try_acquire():
                return False
            self._attempt(
                db, ADVISORY_SYNC, lambda: len(sync_once(self.settings, self.runner).recorded)
            )
            self._attempt(
                db, VENDOR_REQUESTS, lambda: sync_requests_once(self.settings, self.runner).recorded
            )
            return True
        finally:
            with suppress(*RECOVERABLE):
                leadership.release()
            db.close()

    def _attempt(self, db: ProjectionDatabase, name: str, job: Callable[[], int]) -> None:
        try:
            recorded = job()
        except VendorUnavailableError as e:
            logger.warning("vendor_sync_failed", sync=name, error=str(e))
            note_attempt(db, self.runner.clock, name, 0, str(e))
            return
        except RECOVERABLE:
            raise
        except Exception as e:  # garbage the parsers did not foresee: next time
            logger.exception("vendor_sync_failed", sync=name)
            note_attempt(db, self.runner.clock, name, 0, f"{type(e).__name__}: {e}")
            return
        logger.info("vendor_sync_done", sync=name, recorded=recorded)
        note_attempt(db, self.runner.clock, name, recorded, None)


def advisory_loop(
    settings: Settings, log: EventLog, open_db: Callable[[], ProjectionDatabase]
) -> AdvisorySyncLoop | None:
    """The loop the settings ask for: none unless an interval and a client are set."""
    if settings.advisory_sync_seconds <= 0 or settings.vendor_client_id is None:
        return None
    return AdvisorySyncLoop(settings, log, open_db)
