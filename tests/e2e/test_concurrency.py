"""Twenty clients acting on one case at once, through the real server."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.e2e._api import assert_problem, open_case
from tests.e2e._deployment import Deployment

CLIENTS = 20
ROUNDS = 3


def race(live: Deployment, case_id: str) -> list[tuple[str, int, Any]]:
    """Each client adds notes: without If-Match, with the ETag just read, and with the
    ETag of its own last success; all start together. (text, status, body) each."""
    start = threading.Barrier(CLIENTS)

    def client_work(number: int) -> list[tuple[str, int, Any]]:
        sent = []
        last_etag: str | None = None
        with live.client("helpdesk_agent") as client:
            start.wait()
            for round_ in range(ROUNDS):
                text = f"client {number} round {round_}"
                headers = {}
                if round_ == 1:
                    headers["If-Match"] = client.get(f"/cases/{case_id}/state").headers["ETag"]
                elif round_ == 2 and last_etag is not None:
                    headers["If-Match"] = last_etag
                response = client.post(
                    f"/cases/{case_id}/notes", json={"text": text}, headers=headers
                )
                if response.is_success:
                    last_etag = response.headers["ETag"]
                sent.append((text, response.status_code, response))
        return sent

    with ThreadPoolExecutor(CLIENTS) as pool:
        return [answer for answers in pool.map(client_work, range(CLIENTS)) for answer in answers]


class TestConcurrentClients:
    def test_no_update_is_lost_and_every_refusal_is_409_or_412(self, live: Deployment) -> None:
        """Every acknowledged note is in the history exactly once, at its own version;
        no refused note is; refusals are 409 or 412 problems, never a 5xx."""
        with live.client("helpdesk_agent") as agent:
            case = open_case(agent)
        answers = race(live, case["id"])
        statuses = Counter(status for _, status, _ in answers)
        assert set(statuses) <= {200, 409, 412}, statuses
        for _, status, response in answers:
            if status != 200:
                assert_problem(response, status)
        accepted = {text: r.json()["version"] for text, status, r in answers if status == 200}
        refused = {text for text, status, _ in answers if status != 200}
        assert len(set(accepted.values())) == len(accepted), "two successes at one version"
        with live.client("auditor") as auditor:
            history = auditor.get(f"/cases/{case['id']}/history").json()
        # The case's own events (service-level clock facts are recorded beside them).
        history = [e for e in history if ".ServiceClock" not in e["event_type"]]
        notes = Counter(e["details"]["text"] for e in history if e["version"] > 1)
        assert {t: n for t, n in notes.items() if n != 1} == {}
        assert set(notes) == set(accepted)
        assert not refused & set(notes)
        assert {e["details"]["text"]: e["version"] for e in history[1:]} == accepted
        assert len(history) == 1 + len(accepted)
        assert statuses[200] > 0, statuses
