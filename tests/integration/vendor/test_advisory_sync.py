"""The advisory import against a real local HTTP server playing Microsoft Graph."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from cases.application.advisory_sync import AdvisorySync
from cases.bootstrap import Services
from cases.domain.advisory import Advisory, advisory_id
from cases.domain.metadata import Source
from cases.settings import Settings
from cases.vendor.http import VendorUnavailableError
from cases.vendor.wiring import service_health
from tests.support.builders import T0
from tests.support.vendor_server import VendorServer, issue


@pytest.fixture
def vendor() -> Iterator[VendorServer]:
    with VendorServer(page_size=3) as server:
        yield server


def run(services: Services, vendor: VendorServer, *, dry_run: bool = False) -> list[str]:
    settings = Settings(database_url="memory://", **vendor.settings())
    with service_health(settings) as health:
        summary = AdvisorySync(services.runner, health).run(dry_run=dry_run)
    return [f"{vendor_id} {what}" for vendor_id, what in summary.recorded]


def advisory(services: Services, vendor_id: str) -> Advisory:
    return services.runner.load(Advisory, advisory_id(vendor_id))


def seven(vendor: VendorServer) -> None:
    vendor.issues = [issue(f"EX{100 + n}", T0 + timedelta(minutes=n)) for n in range(7)]


class TestImport:
    def test_records_every_issue_across_pages_once(
        self, services: Services, vendor: VendorServer
    ) -> None:
        """Seven issues on three pages are recorded once each, as imports."""
        seven(vendor)
        assert run(services, vendor) == [f"EX{100 + n} imported" for n in range(7)]
        assert len([r for r in vendor.requests if "issues" in r]) == 3
        first = advisory(services, "EX100")
        events = services.log.events.get(first.id)
        assert [e.meta.source for e in events] == [Source.IMPORT]  # type: ignore[attr-defined]
        assert first.facts.service == "Exchange Online"

    def test_the_same_payload_twice_records_nothing(
        self, services: Services, vendor: VendorServer
    ) -> None:
        """A second sync over unchanged issues reads and records nothing."""
        seven(vendor)
        run(services, vendor)
        head = services.log.recorder.max_notification_id()
        assert run(services, vendor) == []
        assert services.log.recorder.max_notification_id() == head

    def test_a_change_is_recorded_as_a_revision(
        self, services: Services, vendor: VendorServer
    ) -> None:
        """A revised issue records one revision; the watermark skips the rest."""
        seven(vendor)
        run(services, vendor)
        vendor.issues[2] = issue(
            "EX102", T0 + timedelta(hours=1), status="ServiceRestored", resolved=True
        )
        vendor.requests.clear()
        assert run(services, vendor) == ["EX102 revised (serviceRestored)"]
        assert len(vendor.requests) == 1  # only issues modified since the watermark
        assert not advisory(services, "EX102").is_open

    def test_enum_values_are_compared_without_case(
        self, services: Services, vendor: VendorServer
    ) -> None:
        """camelCase and PascalCase name the same status and classification."""
        vendor.issues = [
            issue("EX100", T0, status="ServiceDegradation", classification="Incident"),
            issue("MO101", T0, status="serviceDegradation", classification="advisory"),
        ]
        run(services, vendor)
        assert advisory(services, "EX100").facts.status == "serviceDegradation"
        assert advisory(services, "MO101").facts.classification.value == "advisory"
        vendor.issues[0] = issue("EX100", T0, status="serviceDegradation")
        assert run(services, vendor) == []

    def test_unknown_fields_are_ignored_and_malformed_items_skipped(
        self, services: Services, vendor: VendorServer
    ) -> None:
        vendor.issues = [
            issue("EX100", T0, highImpact=True, details=[{"name": "x"}]),
            issue("EX101", T0, isResolved="maybe"),
            issue("EX102", T0, classification="rumour"),
            {"id": "EX103", "lastModifiedDateTime": "2026-03-02T08:00:00Z"},
            issue("EX104", T0, lastModifiedDateTime="yesterday"),
            issue("EX105", T0),
        ]
        settings = Settings(database_url="memory://", **vendor.settings())
        with service_health(settings) as health:
            summary = AdvisorySync(services.runner, health).run()
        assert [v for v, _ in summary.recorded] == ["EX100", "EX105"]
        assert summary.malformed == 4

    def test_dry_run_shows_what_it_would_record_and_records_nothing(
        self, services: Services, vendor: VendorServer
    ) -> None:
        seven(vendor)
        head = services.log.recorder.max_notification_id()
        assert len(run(services, vendor, dry_run=True)) == 7
        assert services.log.recorder.max_notification_id() == head
        assert AdvisorySync.feed_of(services.runner) is None


class TestVendorFailures:
    def test_throttling_is_honoured(self, services: Services, vendor: VendorServer) -> None:
        """A 429 and a 503 with Retry-After are waited out, then the page is read."""
        seven(vendor)
        vendor.throttle = [(429, "0"), (503, "0.01")]
        assert len(run(services, vendor)) == 7

    def test_an_expired_token_is_renewed_once(
        self, services: Services, vendor: VendorServer
    ) -> None:
        seven(vendor)
        run(services, vendor)
        vendor.issues.append(issue("EX200", T0 + timedelta(hours=2)))
        vendor.expire_tokens()
        assert run(services, vendor) == ["EX200 imported"]

    def test_a_failure_mid_sync_keeps_the_pages_recorded_and_resumes(
        self, services: Services, vendor: VendorServer
    ) -> None:
        """A vendor refusing past patience stops the sync after the pages it
        recorded; the next sync resumes from their watermark."""
        seven(vendor)
        vendor.refuse_from = 1
        with pytest.raises(VendorUnavailableError, match="after 5 attempts"):
            run(services, vendor)
        feed = AdvisorySync.feed_of(services.runner)
        assert feed is not None
        assert feed.imported == 3
        vendor.refuse_from = None
        assert run(services, vendor) == [f"EX{100 + n} imported" for n in range(3, 7)]

    def test_garbage_fails_the_sync_and_records_nothing(
        self, services: Services, vendor: VendorServer
    ) -> None:
        seven(vendor)
        vendor.garbage = 1
        head = services.log.recorder.max_notification_id()
        with pytest.raises(VendorUnavailableError, match="no JSON"):
            run(services, vendor)
        assert services.log.recorder.max_notification_id() == head

    def test_a_vendor_that_is_down_fails_the_sync(self, services: Services) -> None:
        with VendorServer() as gone:
            settings = Settings(database_url="memory://", **gone.settings())
        with pytest.raises(VendorUnavailableError), service_health(settings) as health:
            AdvisorySync(services.runner, health).run()

    def test_a_slow_vendor_times_out(self, services: Services, vendor: VendorServer) -> None:
        seven(vendor)
        vendor.delay = 0.5
        settings = Settings(database_url="memory://", vendor_http_timeout=0.05, **vendor.settings())
        with (
            pytest.raises(VendorUnavailableError, match="ReadTimeout"),
            service_health(settings) as health,
        ):
            AdvisorySync(services.runner, health).run()
