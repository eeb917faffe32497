"""A real HTTP receiver for the outbox webhook (http.server on a thread).

It verifies each request's signature, deduplicates by `Cases-Message-Id` as a
receiver should, and answers from a script: a list of statuses (or "sleep" to
hold the request past the sender's timeout) taken one per request, then 200.
`hold` makes every request wait that long before answering (a slow receiver to
SIGKILL a worker against).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cases.outbox.transports import MESSAGE_ID_HEADER
from cases.transparency.webhook import SIGNATURE_HEADER, verify_signature
from tests.support.server import free_port


@dataclass
class Receipts:
    secret: bytes
    script: list[int | str] = field(default_factory=list)
    hold: float = 0.0
    attempts: list[str] = field(default_factory=list)  # message ids, every request
    accepted: dict[str, bytes] = field(default_factory=dict)  # first body per id
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self) -> int | str:
        with self.lock:
            return self.script.pop(0) if self.script else 200

    @property
    def distinct(self) -> int:
        with self.lock:
            return len(self.accepted)


@contextmanager
def webhook_receiver(
    secret: bytes, script: list[int | str] | None = None, hold: float = 0.0, sleep: float = 3.0
) -> Iterator[tuple[str, Receipts]]:
    """A running receiver: its URL and what it received."""
    receipts = Receipts(secret, list(script or []), hold)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            message_id = self.headers.get(MESSAGE_ID_HEADER, "")
            signed = verify_signature(
                receipts.secret, body, self.headers.get(SIGNATURE_HEADER, ""), time.time()
            )
            with receipts.lock:
                receipts.attempts.append(message_id)
                receipts.bad_signatures += 0 if signed else 1
            if receipts.hold:
                time.sleep(receipts.hold)
            answer = receipts.next_answer() if signed else 401
            if answer == "sleep":
                time.sleep(sleep)
                answer = 200
            if answer == 200:
                with receipts.lock:
                    receipts.accepted.setdefault(message_id, body)
            self.send_response(int(answer))
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/hooks/cases", receipts
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
