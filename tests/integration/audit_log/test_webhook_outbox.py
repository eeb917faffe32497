"""The checkpoint webhook's deliveries are stored (ADR 0055): a receiver that is
down gets every checkpoint, in order, once it is up, even across a restart of the
process that delivers them. Against a real HTTP server on localhost."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cases.audit_log.tree_store import TreeStore
from cases.audit_log.webhook_outbox import WebhookOutbox
from cases.audit_log.witnessing import WebhookDelivery, webhook_of
from cases.settings import Settings
from cases.transparency.webhook import SIGNATURE_HEADER, verify_signature
from tests.integration.audit_log.conftest import Copy
from tests.integration.audit_log.test_witnesses import SECRET, append_events, builder_of

DEADLINE = 60.0  # seconds for a thread to notice: a correctness bound, not a timing


@dataclass
class Bodies:
    received: list[bytes] = field(default_factory=list)
    signatures: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def receiving(port: int, bodies: Bodies) -> Iterator[None]:
    """A webhook receiver on `port` for the block's duration: down before and after."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.received.append(self.rfile.read(int(self.headers["Content-Length"])))
            bodies.signatures.append(self.headers[SIGNATURE_HEADER])
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def webhook_settings(copy: Copy, tmp_path: Path, port: int) -> Settings:
    secret_file = tmp_path / "webhook.secret"
    secret_file.write_text(SECRET)
    return copy.settings.model_copy(
        update={
            "audit_log_webhook_url": f"http://127.0.0.1:{port}/checkpoints",
            "audit_log_webhook_secret_file": secret_file,
        }
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_receiver_down_gets_every_checkpoint_in_order_once_up_with_backoff_between(
    copy: Copy, tmp_path: Path
) -> None:
    """Each failed attempt is stored with its backoff; nothing is posted before it is
    due; once the receiver is up, every kept checkpoint goes, oldest first, once."""
    port = free_port()
    settings = webhook_settings(copy, tmp_path, port)
    webhook = webhook_of(settings)
    assert webhook is not None
    clock = Clock()
    outbox = WebhookOutbox(copy.db, webhook, clock=clock, first_delay=2.0, max_delay=5.0)
    kept = [c.note.encode() for c in TreeStore(copy.db).checkpoints()]
    bodies = Bodies()

    assert outbox.deliver_due() == clock.now + 2.0
    assert outbox.deliver_due() == clock.now + 2.0  # not due yet: no attempt
    assert outbox.state().failures == 1
    clock.now += 2.0
    assert outbox.deliver_due() == clock.now + 4.0
    clock.now += 4.0
    assert outbox.deliver_due() == clock.now + 5.0  # capped
    failed = outbox.state()
    assert (failed.failures, failed.delivered_size) == (3, 0)
    assert failed.last_error is not None
    assert "ConnectError" in failed.last_error

    with receiving(port, bodies):
        assert outbox.deliver_due() == clock.now + 5.0  # up, but the backoff runs
        assert bodies.received == []
        clock.now += 5.0
        assert outbox.deliver_due() is None
        assert outbox.deliver_due() is None  # nothing twice
    assert bodies.received == kept
    for body, header in zip(bodies.received, bodies.signatures, strict=True):
        assert verify_signature(SECRET.encode(), body, header, time.time())
    done = outbox.state()
    assert (done.delivered_size, done.failures, done.last_error) == (
        TreeStore(copy.db).checkpoints()[-1].size,
        0,
        None,
    )


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert condition(), what


def test_checkpoints_pending_when_the_process_stops_are_delivered_after_a_restart(
    copy: Copy, tmp_path: Path
) -> None:
    """The builder's process issues checkpoints while the receiver is down and stops;
    the next process, with the receiver up, delivers them without a new checkpoint."""
    port = free_port()
    settings = webhook_settings(copy, tmp_path, port)
    builder = builder_of(copy, settings)
    delivery = builder.witness
    assert isinstance(delivery, WebhookDelivery)
    append_events(copy, 3)
    issued = builder.issue_now()
    outbox = WebhookOutbox(copy.db, delivery.webhook)
    wait_for(lambda: outbox.state().failures >= 1, "an attempt failed")
    delivery.stop()  # the process stops with the newest checkpoint undelivered
    assert outbox.state().delivered_size < issued.size

    bodies = Bodies()
    with receiving(port, bodies):
        restarted = builder_of(copy, settings).witness
        assert isinstance(restarted, WebhookDelivery)
        try:
            wait_for(lambda: outbox.state().delivered_size == issued.size, "resumed")
        finally:
            restarted.stop()
    assert bodies.received == [c.note.encode() for c in TreeStore(copy.db).checkpoints()]
    assert outbox.state().failures == 0
