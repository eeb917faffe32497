"""Idempotency-Key on POST, against a real server: retries, concurrent retries,
a key reused for another request, and keys kept across a restart."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from uuid import uuid4

import httpx
import psycopg
import pytest

from tests.e2e._api import assert_problem, intake, log_head, open_case
from tests.e2e._deployment import Deployment

CONCURRENT_RETRIES = 12


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"key-{uuid4()}"}


def notes_saying(client: httpx.Client, case_id: str, text: str) -> int:
    history = client.get(f"/cases/{case_id}/history").json()
    return sum(1 for e in history if e["event_type"].endswith("NoteAdded") and text in str(e))


class TestRetries:
    def test_a_retry_replays_the_first_response_and_records_nothing(self, live: Deployment) -> None:
        """The same key and body answer the first response again, marked
        `Idempotent-Replayed: true`, and the log does not grow."""
        headers = key()
        with live.client("helpdesk_agent") as agent:
            first = agent.post("/cases", json=intake(), headers=headers)
            head = log_head(agent)
            retry = agent.post("/cases", json=intake(), headers=headers)
            assert log_head(agent) == head
        assert first.status_code == 201, first.text
        assert "Idempotent-Replayed" not in first.headers
        assert retry.status_code == 201
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.content == first.content
        for header in ("ETag", "Location", "Content-Type"):
            assert retry.headers[header] == first.headers[header]

    def test_a_retried_command_leaves_the_case_at_its_version(self, live: Deployment) -> None:
        """A replayed note is not added again: the case keeps the version the first
        answer reported."""
        headers = key()
        with live.client("helpdesk_agent") as agent:
            case = open_case(agent)
            url = f"/cases/{case['id']}/notes"
            first = agent.post(url, json={"text": "Called the customer."}, headers=headers)
            retry = agent.post(url, json={"text": "Called the customer."}, headers=headers)
            state = agent.get(f"/cases/{case['id']}/state").json()
            count = notes_saying(agent, case["id"], "Called the customer.")
        assert first.status_code == 200, first.text
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.json() == first.json()
        assert state["version"] == first.json()["version"] == case["version"] + 1
        assert count == 1

    def test_the_same_key_with_another_body_is_refused(self, live: Deployment) -> None:
        """Reusing a key for a different request answers 422 and records nothing."""
        headers = key()
        with live.client("helpdesk_agent") as agent:
            case = open_case(agent)
            url = f"/cases/{case['id']}/notes"
            first = agent.post(url, json={"text": "First words."}, headers=headers)
            head = log_head(agent)
            other = agent.post(url, json={"text": "Other words."}, headers=headers)
            assert log_head(agent) == head
        assert first.status_code == 200
        assert_problem(other, 422, "idempotency-key-reused")

    def test_a_retry_refused_before_its_command_is_refused_and_the_step_answers_after(
        self, live: Deployment
    ) -> None:
        """A note's answer is its step's receipt, so no copy of it is kept (ADR 95). A
        retry that no endpoint runs for (its If-Match is not an ETag) is refused as any
        such request is, and records nothing; a well-formed retry then gets the first
        answer, from the step."""
        headers = key()
        body = {"text": "Answered by its step."}
        with live.client("helpdesk_agent") as agent:
            case = open_case(agent)
            url = f"/cases/{case['id']}/notes"
            fits = {**headers, "If-Match": f'"{case["version"]}"'}
            first = agent.post(url, json=body, headers=fits)
            malformed = agent.post(url, json=body, headers={**headers, "If-Match": "not an etag"})
            retry = agent.post(url, json=body, headers=fits)
            count = notes_saying(agent, case["id"], "Answered by its step.")
        assert first.status_code == 200, first.text
        assert_problem(malformed, 422, "invalid-if-match")
        assert retry.status_code == 200, retry.text
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.content == first.content
        assert retry.headers["ETag"] == first.headers["ETag"]
        assert count == 1

    def test_a_key_answered_by_its_step_refuses_another_request_refused_early(
        self, live: Deployment
    ) -> None:
        """The key's step names its request: another body under the key is refused as a
        key reused, even when that request is refused before any endpoint runs."""
        headers = key()
        with live.client("helpdesk_agent") as agent:
            case = open_case(agent)
            url = f"/cases/{case['id']}/notes"
            first = agent.post(url, json={"text": "First."}, headers=headers)
            other = agent.post(
                url, json={"text": "Other."}, headers={**headers, "If-Match": "not an etag"}
            )
        assert first.status_code == 200, first.text
        assert_problem(other, 422, "idempotency-key-reused")

    def test_a_refusal_is_kept_and_its_retry_records_nothing(self, live: Deployment) -> None:
        """A problem the endpoint raised (a stale If-Match: 412) is the first answer
        under its key: the retry gets it again, even with an If-Match that fits, and a
        kept answer wins over a retry no endpoint ran for (an If-Match that is not an
        ETag), as no step answers it."""
        headers = key()
        body = {"text": "Refused, then retried."}
        with live.client("helpdesk_agent") as agent:
            case = open_case(agent)
            url = f"/cases/{case['id']}/notes"
            first = agent.post(url, json=body, headers={**headers, "If-Match": '"999"'})
            fits = {**headers, "If-Match": f'"{case["version"]}"'}
            retry = agent.post(url, json=body, headers=fits)
            malformed = agent.post(url, json=body, headers={**headers, "If-Match": "not an etag"})
            count = notes_saying(agent, case["id"], "Refused, then retried.")
        assert_problem(first, 412, "version-mismatch")
        assert malformed.status_code == 412
        assert malformed.content == first.content
        assert retry.status_code == 412
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.content == first.content
        assert count == 0

    def test_keys_are_kept_for_each_principal_apart(self, live: Deployment) -> None:
        """Two principals may use the same key: each gets its own first response."""
        headers = key()
        with live.client("helpdesk_agent") as agent:
            case = open_case(agent)
            url = f"/cases/{case['id']}/notes"
            mine = agent.post(url, json={"text": "Mine."}, headers=headers)
            with live.client(token=live.new_principal("helpdesk_agent")) as colleague:
                theirs = colleague.post(url, json={"text": "Mine."}, headers=headers)
        assert mine.status_code == theirs.status_code == 200
        assert "Idempotent-Replayed" not in theirs.headers
        assert theirs.json()["version"] == mine.json()["version"] + 1


class TestConcurrentRetries:
    def test_concurrent_retries_record_the_command_once(self, live: Deployment) -> None:
        """Identical requests sent at once with one key: exactly one note is recorded,
        and every answer is that note's: the first, or a replay of it."""
        headers = key()
        with live.client("helpdesk_agent") as agent:
            case = open_case(agent)
        url = f"/cases/{case['id']}/notes"
        start = threading.Barrier(CONCURRENT_RETRIES)

        def send(_: int) -> httpx.Response:
            with live.client("helpdesk_agent") as client:
                start.wait()
                return client.post(url, json={"text": "Sent in a hurry."}, headers=headers)

        with ThreadPoolExecutor(CONCURRENT_RETRIES) as pool:
            answers = list(pool.map(send, range(CONCURRENT_RETRIES)))
        firsts = [
            a for a in answers if a.status_code == 200 and "Idempotent-Replayed" not in a.headers
        ]
        replays = [a for a in answers if a.headers.get("Idempotent-Replayed") == "true"]
        assert len(firsts) == 1, [(a.status_code, a.text) for a in answers]
        assert len(firsts) + len(replays) == CONCURRENT_RETRIES
        assert all(r.status_code == 200 and r.content == firsts[0].content for r in replays)
        with live.client("helpdesk_agent") as agent:
            assert notes_saying(agent, case["id"], "Sent in a hurry.") == 1
            state = agent.get(f"/cases/{case['id']}/state").json()
            assert state["version"] == case["version"] + 1


@contextmanager
def writes_held(database_url: str) -> Iterator[None]:
    """Hold the event table so no command can record (readers still read)."""
    with psycopg.connect(database_url, autocommit=False) as holder:
        holder.execute("LOCK TABLE cases_events IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            holder.rollback()


def wait_for_waiting_writer(database_url: str, timeout: float = 10.0) -> None:
    """Return once a write waits for the held event table."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as db:
        while time.monotonic() < deadline:
            row = db.execute(
                "SELECT count(*) FROM pg_locks "
                "WHERE NOT granted AND relation = 'cases_events'::regclass"
            ).fetchone()
            if row is not None and row[0] > 0:
                return
            time.sleep(0.01)
    raise AssertionError("no write came to wait for the event table")


@pytest.mark.postgres
class TestInFlight:
    def test_a_retry_while_the_first_is_running_gets_its_answer(self, live: Deployment) -> None:
        """While the first request is held at the moment it records, a retry with its
        key waits too; once let go, one note is recorded and both answers are its."""
        if live.store != "postgres":
            pytest.skip("holds PostgreSQL's event table (SQLite: see the concurrent test)")
        headers = key()
        with live.client("helpdesk_agent") as agent:
            case = open_case(agent)
            url = f"/cases/{case['id']}/notes"
            body = {"text": "Held at the door."}
            with ThreadPoolExecutor(2) as pool, live.client("helpdesk_agent") as again:
                with writes_held(live.database_url):
                    first = pool.submit(agent.post, url, json=body, headers=headers)
                    wait_for_waiting_writer(live.database_url)
                    during = pool.submit(again.post, url, json=body, headers=headers)
                    time.sleep(0.3)  # let the retry reach the held table too, if it will
                answers = [first.result(timeout=30), during.result(timeout=30)]
            after = agent.post(url, json=body, headers=headers)
            count = notes_saying(agent, case["id"], "Held at the door.")
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert answers[0].content == answers[1].content
        assert after.headers["Idempotent-Replayed"] == "true"
        assert after.content == answers[0].content
        assert count == 1


class TestRestart:
    def test_keys_survive_a_server_restart(self, live: Deployment) -> None:
        """A retry after the server restarted still replays the first response."""
        headers = key()
        with live.client("helpdesk_agent") as agent:
            case = open_case(agent)
            url = f"/cases/{case['id']}/notes"
            first = agent.post(url, json={"text": "Before the restart."}, headers=headers)
        live.restart()
        with live.client("helpdesk_agent") as agent:
            retry = agent.post(url, json={"text": "Before the restart."}, headers=headers)
            state = agent.get(f"/cases/{case['id']}/state").json()
        assert first.status_code == 200, first.text
        assert retry.headers.get("Idempotent-Replayed") == "true", retry.text
        assert retry.content == first.content
        assert state["version"] == first.json()["version"]
