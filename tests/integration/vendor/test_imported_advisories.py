"""Cases meet imported advisories: the check names one, escalation heeds it, and
the incident's resolution reaches every open case linked to it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest

from cases.application.advisory_sync import AdvisorySync
from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.db.database import open_projection_db
from cases.db.schema import migrate
from cases.domain import case_commands as cmd
from cases.domain import errors
from cases.domain.advisory import Advisory, advisory_id
from cases.domain.case_values import EscalationCategory, EscalationTarget, ResolutionCode
from cases.domain.metadata import Source
from cases.domain.support_case import SupportCase
from cases.domain.support_terms import EscalationVehicle
from cases.followers.outbox import delivery_workers, outbox_runners
from cases.followers.runner import ProjectionRunner
from cases.persistence.database_url import parse_database_url
from cases.projections.advisories import AdvisoriesProjection, AdvisoriesView
from cases.projections.case_timeline import CaseTimelineProjection, CaseTimelineView
from cases.settings import Settings
from cases.vendor.wiring import service_health
from tests.support.builders import T0, caller, intake, terms
from tests.support.mail_server import mail_server
from tests.support.vendor_server import VendorServer, issue

ASFP = EscalationVehicle.ADVANCED_SUPPORT_FOR_PARTNERS


@pytest.fixture
def vendor() -> Iterator[VendorServer]:
    with VendorServer(page_size=2) as server:
        server.issues = [
            issue("EX226792", T0 - timedelta(hours=2)),
            issue("SP100001", T0 - timedelta(hours=1), service="SharePoint Online"),
        ]
        yield server


@pytest.fixture
def desk(services: Services, clock: ManualClock, vendor: VendorServer) -> Services:
    services.desk.publish_terms(caller(), terms(), effective_from=T0)
    sync(services, vendor)
    clock.advance(timedelta(minutes=5))
    return services


def sync(services: Services, vendor: VendorServer) -> list[UUID]:
    with service_health(Settings(database_url="memory://", **vendor.settings())) as health:
        return AdvisorySync(services.runner, health).run().cases_told


def new_case(services: Services) -> UUID:
    return services.desk.receive_case(caller(), cmd.TakeIn(**intake())).aggregate_id


def check(services: Services, case_id: UUID, vendor_id: str) -> None:
    services.desk.handle(caller(), case_id, cmd.CheckServiceHealth(advisory_id=vendor_id))


class TestHealthCheckWithAnImportedAdvisory:
    def test_records_what_the_advisory_said_then_and_links_the_case(self, desk: Services) -> None:
        case_id = new_case(desk)
        check(desk, case_id, "ex226792")
        matched = desk.desk.case(case_id).matched_advisory
        assert matched is not None
        assert (matched.vendor_id, matched.status) == ("EX226792", "serviceDegradation")
        assert matched.last_modified_at == T0 - timedelta(hours=2)
        advisory = desk.runner.load(Advisory, advisory_id("EX226792"))
        assert advisory.linked_cases == (case_id,)

    def test_an_advisory_not_imported_is_refused(self, desk: Services) -> None:
        case_id = new_case(desk)
        with pytest.raises(errors.AdvisoryNotImportedError, match="EX999999"):
            check(desk, case_id, "EX999999")
        assert not desk.desk.case(case_id).health_checked

    def test_naming_and_describing_an_advisory_at_once_is_refused(self, desk: Services) -> None:
        case_id = new_case(desk)
        described = desk.runner.load(Advisory, advisory_id("EX226792")).facts.as_matched()
        both = cmd.CheckServiceHealth(advisory=described, advisory_id="EX226792")
        with pytest.raises(errors.AdvisoryNamedTwiceError):
            desk.desk.handle(caller(), case_id, both)

    def test_an_undocumented_problem_escalation_is_refused_when_it_matched(
        self, desk: Services
    ) -> None:
        case_id = new_case(desk)
        check(desk, case_id, "EX226792")
        escalate = cmd.Escalate(
            EscalationTarget.VENDOR, EscalationCategory.UNDOCUMENTED_PROBLEM, ASFP, "Mail is down"
        )
        with pytest.raises(errors.ProblemIsDocumentedError, match="EX226792"):
            desk.desk.handle(caller(), case_id, escalate)

    def test_open_advisories_matching_a_product_are_listed(
        self, desk: Services, settings: Settings, vendor: VendorServer
    ) -> None:
        """The advisory register lists the open ones about a product, named
        without case, with how many cases linked to each."""
        if settings.effective_database_url.startswith("memory"):
            pytest.skip("read models need SQLite or PostgreSQL")
        check(desk, new_case(desk), "EX226792")
        vendor.issues[1] = issue(
            "SP100001", T0, service="SharePoint Online", status="resolved", resolved=True
        )
        sync(desk, vendor)
        migrate(parse_database_url(settings.effective_database_url))
        db = open_projection_db(settings)
        try:
            ProjectionRunner(desk.log, AdvisoriesProjection(), db).catch_up()
            view = AdvisoriesView(db)
            (row,) = view.open_for("exchange online")
            assert (row["vendor_id"], row["status"], row["linked_cases"]) == (
                "EX226792",
                "serviceDegradation",
                1,
            )
            assert view.open_for("SharePoint Online") == []
        finally:
            db.close()


class TestIncidentResolution:
    def test_reaches_every_open_linked_case_once(
        self, desk: Services, vendor: VendorServer, clock: ManualClock
    ) -> None:
        first, second, resolved = new_case(desk), new_case(desk), new_case(desk)
        for case_id in (first, second, resolved):
            check(desk, case_id, "EX226792")
        desk.desk.handle(
            caller(), resolved, cmd.Resolve(ResolutionCode.WORKAROUND, "Used the web client")
        )
        clock.advance(timedelta(minutes=30))
        vendor.issues[0] = issue(
            "EX226792", T0 + timedelta(minutes=30), status="ServiceRestored", resolved=True
        )
        assert sorted(sync(desk, vendor)) == sorted([first, second])
        for case_id in (first, second):
            case = desk.desk.case(case_id)
            assert case.incident_resolved
            (told,) = [
                e
                for e in desk.log.events.get(case_id)
                if isinstance(e, SupportCase.LinkedIncidentResolved)
            ]
            assert (told.vendor_id, told.status, told.meta.source) == (
                "EX226792",
                "serviceRestored",
                Source.IMPORT,
            )
        assert not desk.desk.case(resolved).incident_resolved
        assert sync(desk, vendor) == []

    def test_the_agent_or_the_queue_is_told_by_mail(
        self, desk: Services, vendor: VendorServer, clock: ManualClock, settings: Settings
    ) -> None:
        """The outbox queues a message per linked open case: to its assigned agent
        when the agent id is an address, else to the queue's address; both arrive
        over SMTP and the delivery is recorded on the case."""
        if settings.effective_database_url.startswith("memory"):
            pytest.skip("the outbox needs SQLite or PostgreSQL")
        assigned, unassigned = new_case(desk), new_case(desk)
        desk.desk.handle(caller(), assigned, cmd.Assign("omar@partner.example"))
        for case_id in (assigned, unassigned):
            check(desk, case_id, "EX226792")
        clock.advance(timedelta(minutes=30))
        vendor.issues[0] = issue(
            "EX226792", T0 + timedelta(minutes=30), status="ServiceRestored", resolved=True
        )
        assert len(sync(desk, vendor)) == 2
        migrate(parse_database_url(settings.effective_database_url))
        with mail_server() as (port, server):
            mailing = settings.model_copy(
                update={
                    "smtp_host": "127.0.0.1",
                    "smtp_port": port,
                    "outbox_queue_address": "support-queue@partner.example",
                }
            )
            db = open_projection_db(mailing)
            try:
                outbox_runners(mailing, desk.log, lambda: db, clock=clock)().catch_up()
                make = delivery_workers(mailing, desk.log, lambda: open_projection_db(mailing))
                assert make is not None
                worker = make()
                try:
                    assert worker.drain() == 2
                finally:
                    worker.db.close()
                ProjectionRunner(desk.log, CaseTimelineProjection(), db).catch_up()
                timeline = CaseTimelineView(db).for_case(assigned)
            finally:
                db.close()
            mails = {str(m["To"]): m for m in server.messages()}
        assert set(mails) == {"omar@partner.example", "support-queue@partner.example"}
        told = mails["omar@partner.example"]
        subject = " ".join(str(told["Subject"]).split())  # a long header is folded
        assert subject == f"Vendor incident EX226792 resolved: case {assigned}"
        assert "as serviceRestored" in told.get_content()
        recorded = [
            e.delivery.recipient
            for e in desk.log.events.get(assigned)
            if isinstance(e, SupportCase.DeliveryRecorded)
        ]
        assert recorded == ["omar@partner.example"]
        lines = {r["event_type"]: r["summary"] for r in timeline}
        assert lines["LinkedIncidentResolved"] == (
            "The vendor resolved EX226792, which the health check matched (serviceRestored)"
        )
        assert lines["DeliveryRecorded"].startswith("Incident resolved delivered to omar@")
