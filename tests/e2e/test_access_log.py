"""The server's JSON access log: one line per request, ids and principal, no bodies."""

from __future__ import annotations

import time
from typing import Any
from uuid import uuid4

from tests.e2e._api import intake
from tests.e2e._deployment import Deployment

FIELDS = {"request_id", "correlation_id", "principal_id", "status", "method", "path"}


def access_lines(live: Deployment, request_id: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The access lines of one request (the line is written just after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [r for r in live.server.access_log() if r.get("request_id") == request_id]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


class TestAccessLog:
    def test_one_line_per_request_with_ids_principal_and_status(self, live: Deployment) -> None:
        """A command's access line names its request id, the caller's correlation id,
        the principal and the status; exactly one line per request."""
        correlation_id = f"log-{uuid4()}"
        with live.client("helpdesk_agent") as agent:
            me = agent.get("/principals/me").json()
            response = agent.post(
                "/cases", json=intake(), headers={"X-Correlation-ID": correlation_id}
            )
        assert response.status_code == 201
        assert response.headers["X-Correlation-ID"] == correlation_id
        [line] = access_lines(live, response.headers["X-Request-ID"])
        assert line["correlation_id"] == correlation_id
        assert line["principal_id"] == me["id"]
        assert line["status"] == 201
        assert line["method"] == "POST"
        assert line["path"] == "/cases"

    def test_a_request_without_a_correlation_id_is_correlated_by_its_request_id(
        self, live: Deployment
    ) -> None:
        """With no X-Correlation-ID, the request id stands in, in the answer and the log;
        a refused request is logged too, with no principal."""
        with live.client() as anonymous:
            response = anonymous.get("/cases")
        request_id = response.headers["X-Request-ID"]
        assert response.status_code == 401
        assert response.headers["X-Correlation-ID"] == request_id
        [line] = access_lines(live, request_id)
        assert line["correlation_id"] == request_id
        assert line["principal_id"] is None
        assert line["status"] == 401

    def test_every_access_line_carries_the_fields(self, live: Deployment) -> None:
        """No request served so far was logged without its ids, principal or status."""
        with live.client("auditor") as auditor:
            auditor.get("/cases")
        lines = live.server.access_log()
        assert lines
        assert [line for line in lines if not line.keys() >= FIELDS] == []

    def test_no_body_contact_or_token_reaches_the_log(self, live: Deployment) -> None:
        """Request bodies hold personal data and tokens are secrets: neither the
        contact's e-mail, the description nor the bearer token is ever logged."""
        email = f"private.{uuid4().hex[:8]}@contoso.example"
        description = f"Secret detail {uuid4()}"
        body = intake(description=description)
        body["contact"]["email"] = email
        with live.client("helpdesk_agent") as agent:
            response = agent.post("/cases", json=body)
            note = agent.post(f"/cases/{response.json()['id']}/notes", json={"text": description})
        assert response.status_code == 201
        assert note.status_code == 200
        access_lines(live, note.headers["X-Request-ID"])
        log = live.server.log_text()
        assert email not in log
        assert description not in log
        assert live.tokens["helpdesk_agent"] not in log
