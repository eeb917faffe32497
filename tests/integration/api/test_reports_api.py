"""The compliance report over HTTP, on SQLite and PostgreSQL through FastAPI's
TestClient: the hand-computed figures of the service-level scenario as JSON and
as CSV, as of a moment, and the refusals (roles, bad periods, moments to come)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from cases.clock import ManualClock
from cases.domain.metadata import Actor, Role
from tests.support.app_services import services_of
from tests.support.builders import caller
from tests.support.service_level_scenario import FINAL, ServiceLevelScenario, utc

ADMIN = Actor("admin", Role.SYSTEM)
PATH = "/reports/compliance"
PERIOD = {"from": "2026-03-01", "to": "2026-05-01"}


@dataclass
class Reports:
    client: TestClient
    tokens: dict[str, str]
    head: int

    def get(self, who: str, params: dict[str, Any], **headers: str) -> httpx.Response:
        response: httpx.Response = self.client.get(
            PATH,
            params={**params, "min_position": self.head},
            headers={"Authorization": f"Bearer {self.tokens[who]}", **headers},
        )
        return response


@pytest.fixture
def api_clock() -> ManualClock:
    """Before the scenario's terms are published (it sets the clock as it goes)."""
    return ManualClock(utc(1, 1, 0))


@pytest.fixture
def reports(client: TestClient, api_clock: ManualClock) -> Reports:
    services = services_of(client)
    ServiceLevelScenario(services.desk, api_clock).run_until(FINAL)
    api_clock.set(FINAL)
    tokens = {}
    for role in (Role.AUDITOR, Role.HELPDESK_AGENT, Role.BILLING_ADMIN, Role.SALES_AGENT):
        issued = services.principals.create(caller(ADMIN), name=role.value, role=role)
        tokens[role.value] = issued.token
    customer = services.principals.create(
        caller(ADMIN), name="contoso", role=Role.CUSTOMER, customer_id="contoso"
    )
    tokens["customer"] = customer.token
    return Reports(client, tokens, services.log.head())


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def test_an_auditor_gets_the_figures_by_severity(reports: Reports) -> None:
    response = reports.get(
        "auditor", {**PERIOD, "group_by": "severity", "as_of": FINAL.isoformat()}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"]) == ("2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z")
    assert body["group_by"] == ["severity"]
    groups = {g["group"]["severity"]: g for g in body["groups"]}
    assert list(groups) == ["critical", "minimal", "moderate"]
    critical = groups["critical"]
    assert critical["cases"] == 2
    assert critical["first_response"] == {
        "count": 2,
        "median_seconds": 1800.0,
        "p90_seconds": 10800.0,
        "judged": 2,
        "within_target": 1,
        "share_within_target": 0.5,
    }
    assert critical["breaches"] == {
        "total": 3,
        "first_response": 1,
        "next_update": 1,
        "resolution": 1,
        "vendor": 0,
    }
    moderate = groups["moderate"]
    assert moderate["escalations"]["rate"] == 0.25
    assert moderate["escalations"]["time_to_escalate"] == {
        "count": 1,
        "median_seconds": 7200.0,
        "p90_seconds": 7200.0,
    }
    assert moderate["escalations"]["vendor"]["median_seconds"] == 9 * 3600
    assert moderate["next_update"]["median_seconds"] == 5400.0
    assert (moderate["resolved"], moderate["reopened"]) == (3, 1)
    assert moderate["reopen_rate"] == pytest.approx(1 / 3)
    assert groups["minimal"]["resolution"]["median_seconds"] == 5 * 3600


def test_the_report_as_of_an_earlier_moment_counts_only_what_was_recorded_then(
    reports: Reports,
) -> None:
    """The default moment is now (the end of the story)."""
    now = reports.get("auditor", PERIOD)
    assert now.status_code == 200, now.text
    explicit = reports.get("auditor", {**PERIOD, "as_of": FINAL.isoformat()}).json()
    assert now.json()["groups"] == explicit["groups"]
    earlier = reports.get("auditor", {**PERIOD, "as_of": utc(3, 2, 19).isoformat()}).json()
    [whole] = earlier["groups"]
    assert (whole["group"], whole["cases"], whole["first_response"]["count"]) == ({}, 2, 1)


def test_csv_by_accept_header_or_format_parameter(reports: Reports) -> None:
    params = {**PERIOD, "group_by": ["month", "vehicle"], "as_of": FINAL.isoformat()}
    by_header = reports.get("auditor", params, Accept="text/csv")
    by_format = reports.get("auditor", {**params, "format": "csv"}, Accept="application/json")
    for response in (by_header, by_format):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
    assert by_header.text == by_format.text
    rows = list(csv.DictReader(io.StringIO(by_header.text)))
    assert [(r["month"], r["vehicle"], r["cases"]) for r in rows] == [
        ("2026-03", "advanced_support_for_partners", "1"),
        ("2026-03", "none", "5"),
        ("2026-04", "none", "1"),
    ]
    escalated = rows[0]
    assert escalated["escalations_vendor_median_seconds"] == "32400.000000"
    assert escalated["escalations_rate"] == "1.000000"
    assert rows[2]["next_update_median_seconds"] == ""  # nothing counted: empty
    json_anyway = reports.get("auditor", {**params, "format": "json"}, Accept="text/csv")
    assert json_anyway.headers["content-type"] == "application/json"


@pytest.mark.parametrize("who", ["helpdesk_agent", "billing_admin", "sales_agent", "customer"])
def test_only_auditors_read_reports(reports: Reports, who: str) -> None:
    problem(reports.get(who, PERIOD), 403)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-05-01", "to": "2026-03-01"}, "query.to"),
        ({**PERIOD, "as_of": "2026-04-09T12:00:00+00:00"}, "query.as_of"),  # still to come
        ({**PERIOD, "group_by": ["month", "month"]}, "query.group_by"),
        ({**PERIOD, "group_by": "colour"}, "query.group_by.0"),
        ({"to": "2026-05-01"}, "query.from"),
        ({**PERIOD, "from": "2026-13-01"}, "query.from"),
        ({**PERIOD, "as_of": "2026-04-01T12:00:00"}, "query.as_of"),  # no offset
        ({**PERIOD, "format": "xml"}, "query.format"),
    ],
)
def test_invalid_requests_are_refused_with_the_field(
    reports: Reports, params: dict[str, Any], field: str
) -> None:
    body = problem(reports.get("auditor", params), 422)
    assert body["type"] == "/problems/invalid-request"
    assert field in {e["field"] for e in body["errors"]}, body


def test_the_openapi_document_describes_json_and_csv(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operation = document["paths"][PATH]["get"]
    assert operation["operationId"] == "get_compliance_report"
    content = operation["responses"]["200"]["content"]
    assert {"application/json", "text/csv"} <= set(content)
    assert content["application/json"]["example"]["groups"][0]["group"] == {"severity": "critical"}
    names = {p["name"] for p in operation["parameters"]}
    assert {"from", "to", "group_by", "as_of", "format"} <= names
