"""The case timeline and the escalation register over HTTP (issue 18, part 5), on
SQLite and PostgreSQL: each selector, the counts, who may read them, refusals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient

from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.domain import case_commands as cmd
from cases.domain.case_values import EscalationCategory, EscalationTarget
from cases.domain.metadata import Actor, Role
from cases.domain.support_terms import EscalationVehicle
from tests.integration.api.conftest import T0
from tests.support.builders import AGENT, caller, intake, is_clock_fact, terms

ADMIN = Actor("admin", Role.SYSTEM)
DAY: dict[str, Any] = {"from": "2026-03-02", "to": "2026-03-03"}
SOME_CASE = "6f1c1b8e-0000-4000-8000-000000000000"


@dataclass
class Registers:
    client: TestClient
    tokens: dict[Role, str]
    case_id: UUID
    escalation_correlation: str
    head: int

    def get(self, path: str, role: Role = Role.AUDITOR, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        params.setdefault("min_position", self.head)
        response: httpx.Response = self.client.get(path, headers=headers, params=params)
        return response


@pytest.fixture
def registers(client: TestClient, api_clock: ManualClock) -> Registers:
    """A case received, checked and escalated to the vendor; an auditor, a helpdesk
    agent and a customer to ask."""
    services: Services = client.app.state.api.services  # type: ignore[attr-defined]
    tokens = {
        role: services.principals.create(
            caller(ADMIN),
            name=role.value,
            role=role,
            customer_id="contoso" if role is Role.CUSTOMER else None,
        ).token
        for role in (Role.AUDITOR, Role.HELPDESK_AGENT, Role.CUSTOMER)
    }
    desk, who = services.desk, caller()
    desk.publish_terms(who, terms(), effective_from=T0)
    api_clock.advance(timedelta(minutes=10))
    case_id = desk.receive_case(
        who, cmd.TakeIn(received_at=api_clock.now(), **intake())
    ).aggregate_id
    api_clock.advance(timedelta(minutes=10))
    desk.handle(who, case_id, cmd.CheckServiceHealth(None))
    api_clock.advance(timedelta(minutes=10))
    escalating = caller()
    receipt = desk.handle(
        escalating,
        case_id,
        cmd.Escalate(
            target=EscalationTarget.VENDOR,
            category=EscalationCategory.SERVICE_DEFECT,
            vehicle=EscalationVehicle.ADVANCED_SUPPORT_FOR_PARTNERS,
            reason="Queue grows with a healthy connector",
        ),
    )
    return Registers(client, tokens, case_id, str(escalating.correlation_id), receipt.position)


def own(entries: list[dict[str, Any]]) -> list[str]:
    return [e["event_type"] for e in entries if not is_clock_fact(e["event_type"])]


def test_a_cases_timeline_is_its_events_oldest_first(registers: Registers) -> None:
    response = registers.get("/timeline", case_id=str(registers.case_id))
    assert response.status_code == 200, response.text
    body = response.json()
    assert own(body["entries"]) == ["Received", "ServiceHealthChecked", "Escalated"]
    versions = [e["version"] for e in body["entries"]]
    assert versions == sorted(versions) == list(range(1, len(versions) + 1))
    assert body["truncated"] is False
    [escalated] = [e for e in body["entries"] if e["event_type"] == "Escalated"]
    assert escalated["principal_id"] == AGENT.principal_id
    assert escalated["correlation_id"] == registers.escalation_correlation
    assert escalated["occurred_at"].startswith("2026-03-02T08:30:00")


def test_the_timeline_by_correlation_actor_and_period(registers: Registers) -> None:
    by_request = registers.get("/timeline", correlation_id=registers.escalation_correlation)
    assert by_request.status_code == 200, by_request.text
    assert own(by_request.json()["entries"]) == ["Escalated"]

    by_actor = registers.get("/timeline", principal_id=AGENT.principal_id, **DAY)
    assert own(by_actor.json()["entries"]) == ["Received", "ServiceHealthChecked", "Escalated"]
    nobody = registers.get("/timeline", principal_id="someone-else", **DAY)
    assert nobody.json()["entries"] == []

    whole_day = registers.get("/timeline", **DAY)
    assert own(whole_day.json()["entries"]) == ["Received", "ServiceHealthChecked", "Escalated"]
    first = registers.get("/timeline", limit=1, **DAY).json()
    assert len(first["entries"]) == 1
    assert first["truncated"] is True
    the_day_before: dict[str, Any] = {"from": "2026-03-01", "to": "2026-03-02"}
    day_before = registers.get("/timeline", **the_day_before)
    assert day_before.json()["entries"] == []


def test_the_escalation_register_and_its_counts(registers: Registers) -> None:
    in_day = registers.get("/escalations", **DAY)
    assert in_day.status_code == 200, in_day.text
    [escalation] = in_day.json()["escalations"]
    assert escalation["case_id"] == str(registers.case_id)
    assert escalation["number"] == 1
    assert escalation["customer_id"] == "contoso"
    assert escalation["vehicle"] == "advanced_support_for_partners"
    assert escalation["vendor_update_count"] == 0
    assert registers.get("/escalations", customer_id="contoso").json() == in_day.json()
    assert registers.get("/escalations", customer_id="fabrikam").json()["escalations"] == []

    counts = registers.get("/escalations/counts", **DAY).json()
    assert counts == {
        "total": 1,
        "counts": [
            {"vehicle": "advanced_support_for_partners", "category": "service_defect", "count": 1}
        ],
    }
    assert registers.get("/escalations/counts").json()["total"] == 1
    day_before: dict[str, Any] = {"from": "2026-03-01", "to": "2026-03-02"}
    assert registers.get("/escalations/counts", **day_before).json() == {"total": 0, "counts": []}


@pytest.mark.parametrize("path", ["/timeline", "/escalations", "/escalations/counts"])
def test_customers_may_not_read_the_registers(registers: Registers, path: str) -> None:
    response = registers.get(path, role=Role.CUSTOMER, **DAY)
    assert response.status_code == 403
    assert response.json()["type"] == "/problems/forbidden"


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/timeline", {}, "query"),
        ("/timeline", {"principal_id": "agent"}, "query"),
        (
            "/timeline",
            {"case_id": "6f1c1b8e-0000-4000-8000-000000000000", "correlation_id": "x"},
            "query",
        ),
        ("/timeline", {"from": "2026-03-02"}, "query.to"),
        ("/timeline", {"from": "2026-03-03", "to": "2026-03-02"}, "query.to"),
        ("/escalations", {}, "query"),
        ("/escalations", {"customer_id": "contoso", **DAY}, "query"),
        ("/escalations/counts", {"to": "2026-03-02"}, "query.from"),
    ],
)
def test_a_request_that_selects_nothing_or_too_much_is_refused(
    registers: Registers, path: str, params: dict[str, Any], field: str
) -> None:
    response = registers.get(path, **params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"] == "/problems/invalid-request"
    assert [e["field"] for e in body["errors"]] == [field]
