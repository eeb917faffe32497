"""Exactly once, against real servers (ADR 0031): a server killed between a
command's commit and its answer, a client that drops mid-body, and a body sent
again with other spacing."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import orjson
import pytest

from tests.e2e._api import intake, new_customer, open_case
from tests.e2e._deployment import STORES, Deployment, deployment


@pytest.fixture(params=STORES)
def own(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    """A deployment of this test's own, served by one process (it gets killed)."""
    with deployment(request.param, tmp_path, workers=1) as deployed:
        yield deployed


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"key-{uuid4()}"}


def cases_of(client: httpx.Client, customer_id: str, min_position: int) -> list[Any]:
    page = client.get("/cases", params={"customer_id": customer_id, "min_position": min_position})
    assert page.status_code == 200, page.text
    items: list[Any] = page.json()["items"]
    return items


def notes_saying(client: httpx.Client, case_id: str, text: str) -> int:
    history = client.get(f"/cases/{case_id}/history").json()
    return sum(1 for e in history if e["event_type"].endswith("NoteAdded") and text in str(e))


def killed_mid_command(
    own: Deployment, url: str, body: dict[str, Any], headers: dict[str, str]
) -> None:
    """Send the command to a server armed to die (SIGKILL) right after it commits."""
    own.restart(CASES_FAULT_POINT="after-commit")
    with own.client("helpdesk_agent") as agent, pytest.raises(httpx.TransportError):
        agent.post(url, json=body, headers=headers)
    deadline = time.monotonic() + 10
    while own.server.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not own.server.running, "the server was not killed at its fault point"
    own.restart()


class TestKilledBetweenCommitAndAnswer:
    def test_a_retried_intake_answers_the_case_recorded_before_the_crash(
        self, own: Deployment
    ) -> None:
        """The intake committed, the server died before answering; the retry with the
        same key answers that case (201), records no second one, and replays alike."""
        customer = new_customer()
        headers = key()
        body = intake(customer, title="Recorded, then the server died")
        killed_mid_command(own, "/cases", body, headers)
        with own.client("helpdesk_agent") as agent:
            retry = agent.post("/cases", json=body, headers=headers)
            again = agent.post("/cases", json=body, headers=headers)
            assert retry.status_code == 201, retry.text
            found = cases_of(agent, customer, retry.json()["position"])
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert again.content == retry.content
        assert [c["id"] for c in found] == [retry.json()["id"]]
        assert retry.headers["Location"] == f"/cases/{retry.json()['id']}"

    def test_a_retried_note_is_recorded_once(self, own: Deployment) -> None:
        """A note committed before the crash is not added again by the retry; the
        answer reports the version the note reached."""
        with own.client("helpdesk_agent") as agent:
            case = open_case(agent, new_customer())
        url = f"/cases/{case['id']}/notes"
        body = {"text": "Written just before the crash."}
        headers = key()
        killed_mid_command(own, url, body, headers)
        with own.client("helpdesk_agent") as agent:
            retry = agent.post(url, json=body, headers=headers)
            state = agent.get(f"/cases/{case['id']}/state").json()
            count = notes_saying(agent, case["id"], "Written just before the crash.")
        assert retry.status_code == 200, retry.text
        assert count == 1
        assert retry.json()["version"] == state["version"] == case["version"] + 1


def tcp_queues() -> dict[tuple[int, int], tuple[int, int]]:
    """(local port, remote port) -> (bytes sent but not yet acknowledged, bytes received
    but not yet read by the process) of every IPv4 TCP socket, from /proc/net/tcp."""
    queues = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, (sent, received) = fields[1], fields[2], fields[4].split(":")
        ports = (int(local.split(":")[1], 16), int(remote.split(":")[1], 16))
        queues[ports] = (int(sent, 16), int(received, 16))
    return queues


def wait_until_read(sock: socket.socket, timeout: float = 10.0) -> None:
    """Return once the server process has read all that was sent on `sock`: the
    server's kernel acknowledged it, and nothing waits unread on the server's end."""
    ours = (sock.getsockname()[1], sock.getpeername()[1])
    theirs = (ours[1], ours[0])
    deadline = time.monotonic() + timeout
    while True:
        queues = tcp_queues()
        if ours in queues and theirs in queues and queues[ours][0] == queues[theirs][1] == 0:
            return
        assert time.monotonic() < deadline, (
            f"the server did not read the request: {queues.get(ours)}, {queues.get(theirs)}"
        )
        time.sleep(0.01)


def send_half_a_body(base_url: str, token: str, path: str, body: bytes, idem: str) -> None:
    """Announce the whole body, send half of it, and hang up."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nIdempotency-Key: {idem}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        sock.sendall(head + body[: len(body) // 2])
        wait_until_read(sock)  # let the server start reading before the line drops


class TestBodiesNotReceivedInFull:
    def test_a_dropped_body_claims_no_key_and_the_full_retry_succeeds(
        self, live: Deployment
    ) -> None:
        """A client that disconnects mid-body records nothing and keeps no answer: the
        retry with the same key and the whole body is taken in as new."""
        customer = new_customer()
        body = intake(customer, title="Sent over a bad line")
        raw = orjson.dumps(body)
        idem = f"key-{uuid4()}"
        send_half_a_body(live.url, live.tokens["helpdesk_agent"], "/cases", raw, idem)
        with live.client("helpdesk_agent") as agent:
            retry = agent.post(
                "/cases",
                content=raw,
                headers={"Idempotency-Key": idem, "Content-Type": "application/json"},
            )
            assert retry.status_code == 201, retry.text
            found = cases_of(agent, customer, retry.json()["position"])
        assert "Idempotent-Replayed" not in retry.headers
        assert [c["id"] for c in found] == [retry.json()["id"]]


class TestFingerprint:
    def test_the_same_json_with_other_spacing_and_order_is_the_same_request(
        self, live: Deployment
    ) -> None:
        """A retry that re-serialises the body (keys reordered, other spacing) is a
        replay, not 'a different request'."""
        body = intake(new_customer())
        compact = orjson.dumps(body)
        spaced = orjson.dumps(dict(reversed(body.items())), option=orjson.OPT_INDENT_2)
        headers = {**key(), "Content-Type": "application/json"}
        with live.client("helpdesk_agent") as agent:
            first = agent.post("/cases", content=compact, headers=headers)
            retry = agent.post("/cases", content=spaced, headers=headers)
        assert first.status_code == 201, first.text
        assert retry.status_code == 201, retry.text
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.content == first.content
