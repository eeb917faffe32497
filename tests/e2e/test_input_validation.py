"""Inputs the API must refuse with 422 before they reach a store or a wait.

Found while fuzzing (schemathesis) and probing the PostgreSQL deployment. The
bugs it found are fixed; these keep them fixed.
"""

from __future__ import annotations

import time

from tests.e2e._api import assert_problem
from tests.e2e._deployment import Deployment
from tests.e2e._in_process import InProcessApi


class TestNulCharacters:
    def test_a_nul_in_a_note_is_refused(self, in_process: InProcessApi) -> None:
        """A note with a NUL character answers 422 and records nothing."""
        response = in_process.client.post(
            f"/cases/{in_process.case_id}/notes",
            json={"text": "before\u0000after"},
            headers=in_process.headers("helpdesk_agent"),
        )
        assert_problem(response, 422)

    def test_a_nul_in_an_intake_is_refused(self, in_process: InProcessApi) -> None:
        """An intake naming a customer id with a NUL character answers 422."""
        body = {
            "customer_id": "con\u0000toso",
            "contact": {"name": "Karin Lund", "phone": "+46 70 111 22 33"},
            "channel": "phone",
            "product": "Exchange Online",
            "category": "technical",
            "severity": "moderate",
            "title": "Mail delayed",
            "description": "Outbound mail queues.",
        }
        response = in_process.client.post(
            "/cases", json=body, headers=in_process.headers("helpdesk_agent")
        )
        assert_problem(response, 422)

    def test_a_nul_in_a_listing_filter_is_refused(self, live: Deployment) -> None:
        """A filter value with a NUL character answers 422 on every store, not 500."""
        with live.client("helpdesk_agent") as agent:
            response = agent.get("/cases", params={"customer_id": "con\u0000toso"})
        assert_problem(response, 422)


class TestReadYourWritesBounds:
    def test_a_position_the_log_never_reached_is_refused_at_once(
        self, in_process: InProcessApi
    ) -> None:
        """Asking to wait for a position beyond the end of the log answers 422
        without waiting."""
        headers = in_process.headers("helpdesk_agent")
        started = time.monotonic()
        response = in_process.client.get(
            f"/cases/{in_process.case_id}", params={"min_position": 10**9}, headers=headers
        )
        assert_problem(response, 422)
        assert time.monotonic() - started < 1.0
