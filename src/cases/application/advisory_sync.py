"""The advisory import: the vendor's service-health issues recorded as advisories.

Exactly once, page by page: a page's new advisories and revisions, the events
their resolution gives the linked open cases, and the feed's new watermark are
saved in one transaction. A crash loses at most the page in hand, which the
restart reads again from the watermark; a version already held records nothing,
so reading a page twice records it once. A page that lost a race with a
command on a linked case is decided again on fresh state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

import structlog
from eventsourcing.persistence import RecordConflictError

from cases.application.caller import Caller
from cases.application.command_runner import CommandRunner
from cases.domain.advisory import FEED_ID, Advisory, AdvisoryFacts, AdvisoryFeed, advisory_id
from cases.domain.errors import ConcurrentChangeError, NotFoundError
from cases.domain.metadata import Actor, CommandContext, Role, Source
from cases.domain.support_case import SupportCase
from cases.fault_points import fault_point
from cases.vendor.graph import IssuePage, ServiceHealth
from cases.vendor.shapes import MalformedItemError

logger = structlog.get_logger("cases.advisories")

IMPORTER = Actor("advisory-import", Role.SYSTEM)


def import_caller() -> Caller:
    """Who records what the vendor said: the import, as the system."""
    return Caller.new(IMPORTER, Source.IMPORT)


@dataclass
class SyncSummary:
    """What one sync read and recorded (or, dry, would record)."""

    dry_run: bool = False
    pages: int = 0
    seen: int = 0
    malformed: int = 0
    recorded: list[tuple[str, str]] = field(default_factory=list)
    cases_told: list[UUID] = field(default_factory=list)
    requests: int = 0

    def lines(self) -> list[str]:
        verb = "would record" if self.dry_run else "recorded"
        lines = [
            (
                f"{self.pages} pages, {self.seen} issues read, {self.malformed} malformed "
                f"skipped, {len(self.recorded)} versions {verb}, "
                f"{len(self.cases_told)} linked cases told, {self.requests} requests"
            )
        ]
        lines += [f"{verb}: {vendor_id} {what}" for vendor_id, what in self.recorded]
        return lines


@dataclass
class _Page:
    """What one page decides: the aggregates to save together."""

    advisories: dict[UUID, Advisory] = field(default_factory=dict)
    cases: dict[UUID, SupportCase] = field(default_factory=dict)
    recorded: list[tuple[str, str]] = field(default_factory=list)
    told: list[UUID] = field(default_factory=list)


class AdvisorySync:
    """Reads the vendor's issues since the feed's watermark and records them."""

    def __init__(self, runner: CommandRunner, health: ServiceHealth, max_attempts: int = 5) -> None:
        self.runner = runner
        self.health = health
        self.max_attempts = max_attempts

    def feed(self) -> AdvisoryFeed | None:
        return self.feed_of(self.runner)

    @staticmethod
    def feed_of(runner: CommandRunner) -> AdvisoryFeed | None:
        """The import's position, if it has recorded anything."""
        try:
            return runner.load(AdvisoryFeed, FEED_ID)
        except NotFoundError:
            return None

    def run(
        self, caller: Caller | None = None, *, dry_run: bool = False, full: bool = False
    ) -> SyncSummary:
        """Import every issue modified since the watermark (`full`: every issue,
        which records only what is new); a vendor failure
        (`VendorUnavailableError`) stops it after the last page recorded."""
        caller = caller or import_caller()
        summary = SyncSummary(dry_run=dry_run)
        feed = self.feed()
        held: dict[UUID, Advisory] = {}  # a dry run's versions, as if recorded
        requests_before = self.health.http.requests
        try:
            since = None if feed is None or full else feed.watermark
            for page in self.health.pages(since):
                summary.pages += 1
                summary.seen += len(page.items)
                summary.malformed += _log_malformed(page)
                decided = self._import_page(caller, page, held if dry_run else None)
                summary.recorded += decided.recorded
                summary.cases_told += decided.told
        finally:
            summary.requests = self.health.http.requests - requests_before
        return summary

    def _import_page(
        self, caller: Caller, page: IssuePage, held: dict[UUID, Advisory] | None
    ) -> _Page:
        for _attempt in range(self.max_attempts):
            ctx = caller.context(self.runner.clock.now(), self.runner.backdating_allowance)
            decided = self._decide(ctx, page, held)
            if held is not None or not decided.recorded:
                return decided
            fault_point("advisory-page-decided")
            feed = self.feed() or AdvisoryFeed.start(ctx)
            facts = [f for f in page.items if isinstance(f, AdvisoryFacts)]
            feed.advance(ctx, max(f.last_modified_at for f in facts), len(decided.recorded))
            try:
                self.runner.record_together(
                    *decided.advisories.values(), *decided.cases.values(), feed
                )
            except RecordConflictError:
                continue
            return decided
        raise ConcurrentChangeError("the advisories kept changing under the import")

    def _decide(
        self, ctx: CommandContext, page: IssuePage, held: dict[UUID, Advisory] | None
    ) -> _Page:
        decided = _Page()
        for facts in page.items:
            if isinstance(facts, MalformedItemError):
                continue
            key = advisory_id(facts.vendor_id)
            advisory = decided.advisories.get(key) or (held or {}).get(key) or self._load(key)
            if advisory is None:
                advisory = Advisory.import_first(ctx, facts)
                decided.recorded.append((facts.vendor_id, "imported"))
            else:
                before = len(advisory.pending_events)
                resolved = advisory.import_version(ctx, facts)
                if len(advisory.pending_events) > before:
                    decided.recorded.append((facts.vendor_id, f"revised ({facts.status})"))
                if resolved:
                    self._tell_linked_cases(ctx, advisory, decided)
            decided.advisories[key] = advisory
            if held is not None:
                held[key] = advisory
        decided.advisories = {k: a for k, a in decided.advisories.items() if a.pending_events}
        return decided

    def _load(self, key: UUID) -> Advisory | None:
        try:
            return self.runner.load(Advisory, key)
        except NotFoundError:
            return None

    def _tell_linked_cases(self, ctx: CommandContext, advisory: Advisory, decided: _Page) -> None:
        facts = advisory.facts
        for case_id in advisory.linked_cases:
            case = decided.cases.get(case_id) or self.runner.load(SupportCase, case_id)
            if case.note_incident_resolved(ctx, facts.vendor_id, facts.status):
                decided.cases[case_id] = case
                decided.told.append(case_id)


def _log_malformed(page: IssuePage) -> int:
    malformed = [item for item in page.items if isinstance(item, MalformedItemError)]
    for item in malformed:
        logger.warning("advisory_malformed", reason=str(item))
    return len(malformed)
