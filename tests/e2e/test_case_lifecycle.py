"""A support case walked through its whole life over HTTP, against a real server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import httpx

from tests.e2e._api import assert_problem, etag, intake
from tests.e2e._deployment import Deployment


@dataclass
class Step:
    """One command sent: the ids it carried and the versions it moved the case between."""

    name: str
    correlation_id: str
    request_id: str
    before: int
    after: int


@dataclass
class CaseWalker:
    """Sends a case's commands one after another, each with If-Match and its own ids."""

    client: httpx.Client
    case_id: UUID | None = None
    version: int = 0
    position: int = 0
    steps: list[Step] = field(default_factory=list)

    def send(self, name: str, path: str, body: dict[str, Any], status: int = 200) -> Any:
        correlation_id, request_id = f"walk-{uuid4()}", f"req-{uuid4()}"
        headers = {"X-Correlation-ID": correlation_id, "X-Request-ID": request_id}
        if self.case_id is not None:
            headers["If-Match"] = etag(self.version)
        response = self.client.post(path, json=body, headers=headers)
        assert response.status_code == status, f"{name}: {response.text}"
        result = response.json()
        assert response.headers["ETag"] == etag(result["version"])
        assert response.headers["X-Correlation-ID"] == correlation_id
        assert result["version"] > self.version
        assert result["position"] > self.position
        self.steps.append(Step(name, correlation_id, request_id, self.version, result["version"]))
        self.case_id, self.version, self.position = (
            UUID(result["id"]),
            result["version"],
            result["position"],
        )
        return result

    def act(self, name: str, action: str, body: dict[str, Any]) -> Any:
        return self.send(name, f"/cases/{self.case_id}/{action}", body)

    def read(self) -> Any:
        """The case from the case queue, once it has caught up with the last command."""
        response = self.client.get(f"/cases/{self.case_id}", params={"min_position": self.position})
        assert response.status_code == 200, response.text
        assert response.headers["ETag"] == etag(self.version)
        return response.json()

    def version_after(self, name: str) -> int:
        return next(step.after for step in self.steps if step.name == name)


def walk_through_life(client: httpx.Client, customer_id: str) -> CaseWalker:
    """Intake, health check, diagnosis, contact, escalation to the vendor and back,
    resolution, closure, reopening and a note: every step read back at once."""
    walker = CaseWalker(client)
    walker.send("intake", "/cases", intake(customer_id), status=201)
    assert walker.version == 3  # Received, then the first-response and resolution clocks
    assert walker.read()["status"] == "new"
    advisory = {
        "vendor_id": "EX226792",
        "classification": "incident",
        "title": "Delayed outbound mail",
        "service": "Exchange Online",
    }
    walker.act("health", "service-health-checks", {"advisory": advisory})
    walker.act("diagnosis", "diagnoses", {"findings": "Transport queue backs up at 07:30."})
    walker.act(
        "first response",
        "communications",
        {"direction": "outbound", "channel": "email", "summary": "We are on it."},
    )
    assert walker.read()["first_response_at"] is not None
    walker.act("assignment", "assignment", {"agent_id": "agent-anna"})
    walker.act(
        "escalation",
        "escalations",
        {
            "target": "vendor",
            "category": "service_defect",
            "vehicle": "advanced_support_for_partners",
            "reason": "The incident is not clearing for this tenant.",
        },
    )
    walker.act("vendor reference", "escalations/current/vendor-reference", {"reference": "SR-1"})
    assert walker.read()["status"] == "escalated"
    walker.act("vendor update", "escalations/current/updates", {"text": "Engineers engaged."})
    walker.act("hand-back", "escalations/current/hand-back", {"summary": "Fixed in the region."})
    walker.act("resolution", "resolution", {"code": "fixed_by_vendor", "summary": "Mail flows."})
    assert walker.read()["status"] == "resolved"
    walker.act("close", "close", {})
    assert walker.read()["status"] == "closed"
    walker.act("reopen", "reopen", {"reason": "Delays are back this morning."})
    walker.act("note", "notes", {"text": "Customer asked for a call back."})
    return walker


class TestCaseLifecycle:
    def test_every_step_is_read_back_with_its_etag_and_position(self, live: Deployment) -> None:
        """Each command answers with the new version as ETag and a log position; a
        query with that `min_position` sees the case at exactly that version, through
        `GET /cases/{id}` and the queue listing alike."""
        customer = f"walk-{uuid4().hex[:8]}"
        with live.client("helpdesk_agent") as agent:
            walker = walk_through_life(agent, customer)
            case = walker.read()
            listed = agent.get(
                "/cases", params={"customer_id": customer, "min_position": walker.position}
            )
        assert case["status"] == "in_progress"
        assert case["reopen_count"] == 1
        assert case["vendor_reference"] == "SR-1"
        assert case["matched_advisory"] == "EX226792"
        assert case["assignee"] == "agent-anna"
        assert listed.status_code == 200
        [row] = listed.json()["items"]
        assert row == case

    def test_a_stale_if_match_is_refused_and_records_nothing(self, live: Deployment) -> None:
        """A command based on an old version answers 412 and leaves the case alone."""
        with live.client("helpdesk_agent") as agent:
            walker = CaseWalker(agent)
            walker.send("intake", "/cases", intake(), status=201)
            walker.act("note", "notes", {"text": "First look."})
            stale = agent.post(
                f"/cases/{walker.case_id}/notes",
                json={"text": "Based on the intake only."},
                headers={"If-Match": etag(1)},
            )
            state = agent.get(f"/cases/{walker.case_id}/state")
        assert_problem(stale, 412)
        assert state.headers["ETag"] == etag(walker.version)
        assert state.json()["version"] == walker.version

    def test_history_carries_each_requests_correlation_id_and_principal(
        self, live: Deployment
    ) -> None:
        """Every recorded event names the X-Correlation-ID of the request that caused
        it, the request id as its cause, the calling principal and the API as source."""
        with live.client("helpdesk_agent") as agent:
            me = agent.get("/principals/me").json()
            walker = walk_through_life(agent, f"walk-{uuid4().hex[:8]}")
            with live.client("auditor") as auditor:
                history = auditor.get(f"/cases/{walker.case_id}/history")
        assert history.status_code == 200
        entries = history.json()
        assert [e["version"] for e in entries] == list(range(1, walker.version + 1))
        by_version = {e["version"]: e for e in entries}
        for step in walker.steps:
            for version in range(step.before + 1, step.after + 1):
                entry = by_version[version]
                assert entry["correlation_id"] == step.correlation_id, (step.name, entry)
                assert entry["causation_id"] == step.request_id, (step.name, entry)
                assert entry["actor"] == {"principal_id": me["id"], "role": "helpdesk_agent"}
                assert entry["source"] == "api"

    def test_state_at_a_version_and_at_a_moment_replays_the_past(self, live: Deployment) -> None:
        """`/state?version=N` and `/state?as_of=T` rebuild the case as it was then."""
        with live.client("helpdesk_agent") as agent:
            walker = walk_through_life(agent, f"walk-{uuid4().hex[:8]}")
            escalated = walker.version_after("vendor reference")
            at_version = agent.get(f"/cases/{walker.case_id}/state", params={"version": escalated})
            history = agent.get(f"/cases/{walker.case_id}/history").json()
            recorded = history[escalated - 1]["recorded_at"]
            as_of = agent.get(f"/cases/{walker.case_id}/state", params={"as_of": recorded})
            now = agent.get(f"/cases/{walker.case_id}/state")
        assert at_version.status_code == 200, at_version.text
        assert at_version.headers["ETag"] == etag(escalated)
        past = at_version.json()
        assert past["version"] == escalated
        assert past["status"] == "escalated"
        [escalation] = past["escalations"]
        assert escalation["vendor_reference"] == "SR-1"
        assert escalation["handed_back_at"] is None
        assert past["resolution"] is None
        assert as_of.status_code == 200, as_of.text
        assert as_of.json() == past
        assert now.json()["version"] == walker.version
        assert now.json()["status"] == "in_progress"
        assert now.json()["escalations"][0]["handed_back_at"] is not None
