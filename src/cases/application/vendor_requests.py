"""Vendor support requests: opened for an escalation, followed by import.

Opening sends the request first (the vendor's id is needed to record it), then
records the case's `VendorRequestOpened` and the request's link in one
transaction; a request the vendor opened whose recording then failed is logged
with its id, to be recorded by hand (`record_vendor_reference`). The sync reads
every request of the partner and records, on the case it belongs to, each new
status and each note not yet imported, as the import: reading the same request
twice records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

import structlog
from eventsourcing.persistence import RecordConflictError

from cases.application.advisory_sync import import_caller
from cases.application.caller import Caller
from cases.application.command_runner import CommandRunner, Receipt
from cases.domain import case_commands as c
from cases.domain.errors import ConcurrentChangeError, NotFoundError
from cases.domain.support_case import SupportCase
from cases.domain.vendor_request import VendorRequest, VendorRequestDraft, vendor_request_key
from cases.vendor.partner_center import PartnerCenter, ServiceRequestState
from cases.vendor.shapes import MalformedItemError

logger = structlog.get_logger("cases.vendor_requests")

MAX_ATTEMPTS = 8


@dataclass
class RequestSyncSummary:
    seen: int = 0
    malformed: int = 0
    recorded: int = 0
    cases: list[UUID] = field(default_factory=list)

    def lines(self) -> list[str]:
        summary = (
            f"{self.seen} requests read, {self.malformed} malformed skipped, "
            f"{self.recorded} updates recorded on {len(self.cases)} cases"
        )
        return [summary]


class VendorRequests:
    """Opens vendor support requests for escalations and imports their news."""

    def __init__(self, runner: CommandRunner) -> None:
        self.runner = runner

    def open(
        self, caller: Caller, case_id: UUID, command: c.OpenVendorRequest, vendor: PartnerCenter
    ) -> Receipt:
        """Open the request with the vendor and record its id on the escalation."""
        opened = vendor.open(self.draft(caller, case_id, command))
        logger.info("vendor_request_opened", case_id=str(case_id), request_id=opened.request_id)
        for _attempt in range(MAX_ATTEMPTS):
            case = self.runner.load(SupportCase, case_id)
            ctx = caller.context(self.runner.clock.now(), self.runner.backdating_allowance)
            number = case.record_vendor_request(ctx, opened.request_id, opened.status)
            link = VendorRequest.open(ctx, case_id, number, opened.request_id)
            try:
                receipt, _ = self.runner.record_together(case, link)
            except RecordConflictError:
                continue
            self.runner.forget(case_id)
            return receipt
        raise ConcurrentChangeError("the case kept changing while its request was recorded")

    def draft(
        self, caller: Caller, case_id: UUID, command: c.OpenVendorRequest
    ) -> VendorRequestDraft:
        """The request the case would send (refused before anything is sent)."""
        case = self.runner.load(SupportCase, case_id)
        ctx = caller.context(self.runner.clock.now(), self.runner.backdating_allowance)
        return case.vendor_request_draft(ctx, command)

    def sync(self, vendor: PartnerCenter, caller: Caller | None = None) -> RequestSyncSummary:
        """Import each request's new status and notes onto its case, once."""
        caller = caller or import_caller()
        summary = RequestSyncSummary()
        for state in vendor.requests():
            summary.seen += 1
            if isinstance(state, MalformedItemError):
                summary.malformed += 1
                logger.warning("vendor_request_malformed", reason=str(state))
                continue
            link = self._link(state)
            recorded = 0 if link is None else self._import(caller, link, state)
            if link is not None and recorded:
                summary.recorded += recorded
                summary.cases.append(link.case_id)
        return summary

    def _link(self, state: ServiceRequestState) -> VendorRequest | None:
        try:
            return self.runner.load(VendorRequest, vendor_request_key(state.request_id))
        except NotFoundError:
            return None  # a request opened elsewhere, not for one of our cases

    def _import(self, caller: Caller, link: VendorRequest, state: ServiceRequestState) -> int:
        for _attempt in range(MAX_ATTEMPTS):
            case = self.runner.load(SupportCase, link.case_id)
            ctx = caller.context(self.runner.clock.now(), self.runner.backdating_allowance)
            recorded = case.import_vendor_request(ctx, link.number, state.status, state.notes)
            if not recorded:
                return 0
            try:
                self.runner.record_together(case)
            except RecordConflictError:
                continue
            self.runner.forget(link.case_id)
            return recorded
        raise ConcurrentChangeError("the case kept changing while its request was imported")
