"""Vendor support requests against a real local HTTP server playing Partner Center:
opened on escalation, their status and notes imported once, "attention needed"
shown on the escalation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest

from cases.application.vendor_requests import VendorRequests
from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.db.database import open_projection_db
from cases.db.schema import migrate
from cases.domain import case_commands as cmd
from cases.domain import errors
from cases.domain.case_values import EscalationCategory, EscalationTarget
from cases.domain.metadata import Source
from cases.domain.support_case import SupportCase
from cases.domain.support_terms import EscalationVehicle, Severity
from cases.followers.runner import ProjectionRunner
from cases.persistence.database_url import parse_database_url
from cases.projections.case_timeline import CaseTimelineProjection, CaseTimelineView
from cases.settings import Settings
from cases.vendor.http import VendorUnavailableError
from cases.vendor.wiring import partner_center
from tests.support.builders import T0, caller, intake, terms
from tests.support.vendor_server import VendorServer

ASFP = EscalationVehicle.ADVANCED_SUPPORT_FOR_PARTNERS
REQUEST = cmd.OpenVendorRequest(
    title="Outbound mail queues for an hour with a healthy connector",
    description="Since 07:30 mail to external recipients sits in the queue.",
    severity=Severity.MODERATE,
    support_topic_id="32444671",
    notes="Message trace attached to the case.",
)


@pytest.fixture
def vendor() -> Iterator[VendorServer]:
    with VendorServer(page_size=2) as server:
        yield server


@pytest.fixture
def escalated(services: Services, clock: ManualClock) -> UUID:
    desk = services.desk
    desk.publish_terms(caller(), terms(), effective_from=T0)
    clock.advance(timedelta(minutes=5))
    case_id = desk.receive_case(caller(), cmd.TakeIn(**intake())).aggregate_id
    desk.handle(caller(), case_id, cmd.CheckServiceHealth())
    escalate = cmd.Escalate(
        EscalationTarget.VENDOR, EscalationCategory.SERVICE_DEFECT, ASFP, "Queue grows"
    )
    desk.handle(caller(), case_id, escalate)
    return case_id


def settings_of(vendor: VendorServer) -> Settings:
    return Settings(database_url="memory://", **vendor.settings())


def open_request(services: Services, vendor: VendorServer, case_id: UUID) -> str:
    with partner_center(settings_of(vendor)) as center:
        VendorRequests(services.runner).open(caller(), case_id, REQUEST, center)
    reference = services.desk.case(case_id).escalation(1).vendor_reference
    assert reference is not None
    return reference


def sync(services: Services, vendor: VendorServer) -> int:
    with partner_center(settings_of(vendor)) as center:
        return VendorRequests(services.runner).sync(center).recorded


class TestOpening:
    def test_opens_the_request_in_the_vendor_shape_and_records_its_id(
        self, services: Services, vendor: VendorServer, escalated: UUID
    ) -> None:
        request_id = open_request(services, vendor, escalated)
        (sent,) = vendor.created
        assert sent["Title"] == REQUEST.title
        assert sent["Severity"] == "Moderate"
        assert sent["SupportTopicId"] == "32444671"
        assert sent["PrimaryContact"]["Email"] == "karin.lund@contoso.example"
        assert sent["Notes"] == [{"Text": REQUEST.notes}]
        escalation = services.desk.case(escalated).escalation(1)
        assert (escalation.vendor_reference, escalation.vendor_status) == (request_id, "open")

    def test_a_title_over_255_characters_is_refused_before_sending(
        self, services: Services, vendor: VendorServer, escalated: UUID
    ) -> None:
        long = cmd.OpenVendorRequest("x" * 256, "d", Severity.MINIMAL, "1")
        with (
            pytest.raises(errors.InvalidValueError, match="255"),
            partner_center(settings_of(vendor)) as center,
        ):
            VendorRequests(services.runner).open(caller(), escalated, long, center)
        assert vendor.created == []

    def test_a_second_request_for_the_escalation_is_refused(
        self, services: Services, vendor: VendorServer, escalated: UUID
    ) -> None:
        open_request(services, vendor, escalated)
        with pytest.raises(errors.VendorReferenceAlreadyRecordedError):
            open_request(services, vendor, escalated)
        assert len(vendor.created) == 1

    def test_a_vendor_that_is_down_records_nothing(
        self, services: Services, vendor: VendorServer, escalated: UUID
    ) -> None:
        vendor.refuse_from = 0
        version = services.desk.case(escalated).version
        with pytest.raises(VendorUnavailableError):
            open_request(services, vendor, escalated)
        assert services.desk.case(escalated).version == version


class TestSync:
    def test_imports_status_changes_and_notes_once(
        self, services: Services, vendor: VendorServer, escalated: UUID
    ) -> None:
        request_id = open_request(services, vendor, escalated)
        assert sync(services, vendor) == 1  # the note sent with the request
        vendor.vendor_note(request_id, "Please send a message trace from Monday.")
        request = vendor.service_requests[request_id]
        del request["status"]
        request["Status"] = "AttentionNeeded"  # PascalCase, the key and the value
        vendor.service_requests[request_id]["someNewField"] = {"nested": True}
        assert sync(services, vendor) == 2
        case = services.desk.case(escalated)
        escalation = case.escalation(1)
        assert escalation.needs_attention
        assert [u.text for u in escalation.updates] == [
            "Partner: Message trace attached to the case.",
            "Microsoft Support: Please send a message trace from Monday.",
        ]
        imported = [
            e
            for e in services.log.events.get(escalated)
            if isinstance(
                e, SupportCase.VendorNoteImported | SupportCase.VendorRequestStatusChanged
            )
        ]
        assert {e.meta.source for e in imported} == {Source.IMPORT}
        assert sync(services, vendor) == 0

    def test_requests_of_other_cases_and_malformed_ones_are_skipped(
        self, services: Services, vendor: VendorServer, escalated: UUID
    ) -> None:
        open_request(services, vendor, escalated)
        vendor.service_requests["elsewhere"] = {"id": "elsewhere", "status": "open", "notes": []}
        vendor.service_requests["broken"] = {"id": "broken", "status": 7}
        with partner_center(settings_of(vendor)) as center:
            summary = VendorRequests(services.runner).sync(center)
        assert (summary.seen, summary.malformed, summary.recorded) == (3, 1, 1)


class TestTimeline:
    def test_the_case_timeline_shows_the_vendor_side(
        self, services: Services, vendor: VendorServer, escalated: UUID, settings: Settings
    ) -> None:
        """The request opened, its status changes and the vendor's notes are lines of
        the case timeline (source `import`), in the case's version order."""
        if settings.effective_database_url.startswith("memory"):
            pytest.skip("read models need SQLite or PostgreSQL")
        request_id = open_request(services, vendor, escalated)
        vendor.vendor_note(request_id, "Please send a message trace from Monday.")
        vendor.service_requests[request_id]["status"] = "attention_needed"
        assert sync(services, vendor) == 3
        migrate(parse_database_url(settings.effective_database_url))
        db = open_projection_db(settings)
        try:
            ProjectionRunner(services.log, CaseTimelineProjection(), db).catch_up()
            rows = CaseTimelineView(db).for_case(escalated)
        finally:
            db.close()
        vendor_side = [
            (r["event_type"], r["source"], r["summary"])
            for r in rows
            if r["event_type"].startswith("Vendor")
        ]
        assert vendor_side[0] == (
            "VendorRequestOpened",
            "api",
            f"Vendor support request {request_id} opened for escalation 1 (open)",
        )
        note = "Vendor note on escalation 1: Microsoft Support: Please send a message trace"
        assert ("VendorNoteImported", "import", f"{note} from Monday.") in vendor_side
        assert (
            "VendorRequestStatusChanged",
            "import",
            "Vendor support request of escalation 1: attention needed",
        ) in vendor_side
        history = services.audit.history(SupportCase, escalated)
        assert [r["version"] for r in rows] == [h.version for h in history]
