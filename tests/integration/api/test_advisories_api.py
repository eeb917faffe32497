"""The helpdesk and imported advisories over HTTP: the candidates for a case's
service-health check, and a check that names one by id."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from cases.application.advisory_sync import import_caller
from cases.clock import ManualClock
from cases.domain import case_commands as cmd
from cases.domain.advisory import Advisory
from cases.vendor.graph import issue_facts
from tests.integration.api.conftest import T0
from tests.support.app_services import helpdesk_headers, services_of
from tests.support.builders import caller, intake, terms
from tests.support.vendor_server import issue


def test_lists_the_open_advisories_about_the_case_product_and_checks_against_one(
    client: TestClient, api_clock: ManualClock
) -> None:
    services = services_of(client)
    headers = helpdesk_headers(client)
    services.desk.publish_terms(caller(), terms(), effective_from=T0)
    ctx = import_caller().context(api_clock.now())
    for vendor_id, service in (("EX226792", "Exchange Online"), ("SP100001", "SharePoint Online")):
        facts = issue_facts(issue(vendor_id, T0, service=service))
        services.runner.record_together(Advisory.import_first(ctx, facts))
    api_clock.advance(timedelta(minutes=10))
    receipt = services.desk.receive_case(caller(), cmd.TakeIn(**intake()))
    case_id = receipt.aggregate_id

    listed = client.get(
        f"/cases/{case_id}/advisories", headers=headers, params={"min_position": receipt.position}
    )
    assert listed.status_code == 200, listed.text
    assert [a["vendor_id"] for a in listed.json()] == ["EX226792"]

    checked = client.post(
        f"/cases/{case_id}/service-health-checks",
        headers=headers,
        json={"advisory_id": "EX226792"},
    )
    assert checked.status_code in (200, 201, 202), checked.text
    matched = services.desk.case(case_id).matched_advisory
    assert matched is not None
    assert matched.status == "serviceDegradation"

    unknown = client.post(
        f"/cases/{case_id}/service-health-checks",
        headers=headers,
        json={"advisory_id": "EX999999"},
    )
    assert unknown.status_code == 404
    assert unknown.json()["type"].endswith("/advisory-not-imported")
