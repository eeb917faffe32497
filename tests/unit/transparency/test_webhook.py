"""The checkpoint webhook, against a real HTTP server on localhost."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cases.transparency.webhook import (
    SIGNATURE_HEADER,
    WebhookDeliveryError,
    WebhookWitness,
    signature_header,
    verify_signature,
)

SECRET = b"auditor's shared secret"
NOTE = (
    "cases.example/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    "\n\u2014 cases.example/log AAAA\n"
)
NOW = 1_800_000_000


@dataclass
class Received:
    statuses: list[int]
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[tuple[str, Received]]:
    received = Received(statuses=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.bodies.append(self.rfile.read(length))
            received.headers.append(dict(self.headers.items()))
            status = received.statuses.pop(0) if received.statuses else 204
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/checkpoints", received
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def witness(url: str, slept: list[float], attempts: int = 4) -> WebhookWitness:
    return WebhookWitness(
        url, SECRET, attempts=attempts, first_delay=0.5, clock=lambda: NOW, sleep=slept.append
    )


def test_the_note_arrives_signed(server: tuple[str, Received]) -> None:
    url, received = server
    slept: list[float] = []
    assert witness(url, slept).send(NOTE) == 1
    assert received.bodies == [NOTE.encode()]
    headers = received.headers[0]
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert verify_signature(SECRET, received.bodies[0], headers[SIGNATURE_HEADER], now=NOW)
    assert slept == []


def test_the_note_can_arrive_as_json(server: tuple[str, Received]) -> None:
    url, received = server
    hook = WebhookWitness(url, SECRET, clock=lambda: NOW, as_json=True)
    assert hook.send(NOTE) == 1
    assert received.headers[0]["Content-Type"] == "application/json"
    assert json.loads(received.bodies[0]) == {
        "origin": "cases.example/log",
        "size": 5,
        "root_hash": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "note": NOTE,
    }
    assert verify_signature(
        SECRET, received.bodies[0], received.headers[0][SIGNATURE_HEADER], now=NOW
    )


def test_failures_are_retried_with_growing_delays(server: tuple[str, Received]) -> None:
    url, received = server
    received.statuses = [503, 500, 429]
    slept: list[float] = []
    assert witness(url, slept).send(NOTE) == 4
    assert slept == [0.5, 1.0, 2.0]
    assert received.bodies == [NOTE.encode()] * 4


def test_a_refusal_is_final_and_named(server: tuple[str, Received]) -> None:
    url, received = server
    received.statuses = [401]
    slept: list[float] = []
    with pytest.raises(WebhookDeliveryError, match=r"after 1 attempt\(s\): HTTP 401"):
        witness(url, slept).send(NOTE)
    assert slept == []
    assert len(received.bodies) == 1


def test_the_last_error_is_reported_when_retries_run_out(server: tuple[str, Received]) -> None:
    url, received = server
    received.statuses = [503] * 3
    with pytest.raises(WebhookDeliveryError, match=r"after 3 attempt\(s\): HTTP 503"):
        witness(url, [], attempts=3).send(NOTE)


def test_an_unreachable_receiver_is_retried_then_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    slept: list[float] = []
    with pytest.raises(WebhookDeliveryError, match=r"after 2 attempt\(s\): ConnectError"):
        witness(f"http://127.0.0.1:{port}/", slept, attempts=2).send(NOTE)
    assert slept == [0.5]


def test_a_receiver_refuses_forged_changed_or_stale_signatures() -> None:
    body = NOTE.encode()
    good = signature_header(SECRET, body, NOW)
    assert good.startswith(f"t={NOW},v1=")
    assert verify_signature(SECRET, body, good, now=NOW + 299)
    assert not verify_signature(SECRET, body, good, now=NOW + 301)
    assert not verify_signature(b"another secret", body, good, now=NOW)
    assert not verify_signature(SECRET, body + b" ", good, now=NOW)
    assert not verify_signature(SECRET, body, good.replace(f"t={NOW}", f"t={NOW + 1}"), now=NOW)
    assert not verify_signature(SECRET, body, "v1=" + good.split("v1=")[1], now=NOW)
    assert not verify_signature(SECRET, body, "", now=NOW)


def test_a_webhook_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="secret is not empty"):
        WebhookWitness("http://127.0.0.1/", b"")
