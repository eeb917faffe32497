"""A vendor support request over HTTP: opened for the open escalation through a
real local Partner Center, and "attention needed" shown in the case queue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cases.api.app import create_app
from cases.application.vendor_requests import VendorRequests
from cases.clock import ManualClock
from cases.domain import case_commands as cmd
from cases.domain.case_values import EscalationCategory, EscalationTarget
from cases.domain.support_terms import EscalationVehicle
from cases.settings import Settings
from cases.vendor.wiring import partner_center
from tests.integration.api.conftest import T0
from tests.support.app_services import helpdesk_headers, services_of
from tests.support.builders import caller, intake, terms
from tests.support.vendor_server import VendorServer


@pytest.fixture
def vendor() -> Iterator[VendorServer]:
    with VendorServer() as server:
        yield server


@pytest.fixture
def settings(database_url: str, tmp_path: Path, vendor: VendorServer) -> Settings:
    return Settings(
        database_url=database_url, data_dir=tmp_path, log_level="WARNING", **vendor.settings()
    )


@pytest.fixture
def client(settings: Settings, api_clock: ManualClock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, api_clock, run_projections=True)) as test_client:
        yield test_client


def test_opens_the_request_and_shows_attention_needed_in_the_queue(
    client: TestClient, api_clock: ManualClock, vendor: VendorServer, settings: Settings
) -> None:
    services = services_of(client)
    headers = helpdesk_headers(client)
    desk = services.desk
    desk.publish_terms(caller(), terms(), effective_from=T0)
    api_clock.advance(timedelta(minutes=10))
    case_id = desk.receive_case(caller(), cmd.TakeIn(**intake())).aggregate_id
    desk.handle(caller(), case_id, cmd.CheckServiceHealth())
    escalate = cmd.Escalate(
        EscalationTarget.VENDOR,
        EscalationCategory.SERVICE_DEFECT,
        EscalationVehicle.ADVANCED_SUPPORT_FOR_PARTNERS,
        "Queue grows",
    )
    desk.handle(caller(), case_id, escalate)

    body = {
        "title": "Outbound mail queues for an hour",
        "description": "Since 07:30 mail to external recipients sits in the queue.",
        "severity": "moderate",
        "support_topic_id": "32444671",
    }
    too_long = client.post(
        f"/cases/{case_id}/escalations/current/vendor-request",
        headers=headers,
        json={**body, "title": "x" * 256},
    )
    assert too_long.status_code == 422
    opened = client.post(
        f"/cases/{case_id}/escalations/current/vendor-request", headers=headers, json=body
    )
    assert opened.status_code in (200, 201, 202), opened.text
    (request_id,) = vendor.service_requests
    vendor.service_requests[request_id]["status"] = "attention_needed"
    with partner_center(settings) as center:
        synced = VendorRequests(services.runner).sync(center)
    row = client.get(
        f"/cases/{case_id}", headers=headers, params={"min_position": synced.recorded and 0}
    )
    deadline = 100
    while not row.json().get("vendor_attention") and deadline:
        deadline -= 1
        api_clock.advance(timedelta(seconds=0))
        row = client.get(f"/cases/{case_id}", headers=headers)
    assert row.json()["vendor_reference"] == request_id
    assert row.json()["vendor_attention"] is True
    other = desk.receive_case(caller(), cmd.TakeIn(**intake())).aggregate_id
    position = services.log.recorder.max_notification_id()

    def listed(attention: str) -> set[str]:
        page = client.get(
            "/cases",
            headers=headers,
            params={"vendor_attention": attention, "min_position": position},
        )
        assert page.status_code == 200, page.text
        return {item["id"] for item in page.json()["items"]}

    assert listed("true") == {str(case_id)}
    assert str(other) in listed("false")
    assert str(case_id) not in listed("false")
    refused = client.get("/cases", headers=headers, params={"vendor_attention": "maybe"})
    assert refused.status_code == 422
