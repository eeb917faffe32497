"""The tree builder's witnesses (issue 14, part 5): the signed webhook, against a
real HTTP server on localhost, and the witness directory's fork, which stops it."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from cases.audit_log.tree_store import TreeStore
from cases.audit_log.witnessing import WebhookDelivery, WitnessSettingsError, witness_of
from cases.db.database import open_runner_db
from cases.followers.in_process import InProcessProjections
from cases.followers.leadership import runner_running
from cases.followers.tree_builder import TREE, TreeBuilder, tree_builders
from cases.settings import Settings
from cases.transparency.webhook import SIGNATURE_HEADER, verify_signature
from cases.transparency.witness import CheckpointDirectory, CheckpointForkError
from tests.integration.audit_log.conftest import Copy
from tests.support.raw_events import RawEvents

SECRET = "the auditor's webhook secret"  # noqa: S105 - a test secret
DEADLINE = 60.0  # seconds for a thread to notice: a correctness bound, not a timing


@dataclass
class Receiver:
    url: str
    release: threading.Event
    bodies: list[bytes] = field(default_factory=list)
    signatures: list[str] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver that holds every request until `release` is set."""
    release = threading.Event()
    found = Receiver("", release)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            release.wait(DEADLINE)
            found.bodies.append(body)
            found.signatures.append(self.headers[SIGNATURE_HEADER])
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    found.url = f"http://127.0.0.1:{httpd.server_address[1]}/checkpoints"
    yield found
    release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def append_events(copy: Copy, count: int) -> None:
    raw = RawEvents(copy.settings.effective_database_url)
    try:
        _, _, topic, state = raw.row(2)
    finally:
        raw.close()
    copy.log.recorder.insert_events([StoredEvent(uuid4(), 1, topic, state) for _ in range(count)])


def builder_of(copy: Copy, settings: Settings) -> TreeBuilder:
    return tree_builders(
        settings,
        copy.log,
        lambda: copy.db,
        create_key=False,
        webhook_db=lambda: open_runner_db(settings),
    )()


def test_each_new_checkpoint_is_posted_signed_and_a_hung_receiver_never_holds_the_builder(
    copy: Copy, receiver: Receiver, tmp_path: Path
) -> None:
    secret_file = tmp_path / "webhook.secret"
    secret_file.write_text(SECRET + "\n")
    settings = copy.settings.model_copy(
        update={"audit_log_webhook_url": receiver.url, "audit_log_webhook_secret_file": secret_file}
    )
    builder = builder_of(copy, settings)
    delivery = builder.witness
    assert isinstance(delivery, WebhookDelivery)
    try:
        issued = []
        for _ in range(2):
            append_events(copy, 3)
            issued.append(builder.issue_now())
        # Both checkpoints are committed while the receiver still holds a request.
        assert not receiver.release.is_set()
        assert [c.size for c in TreeStore(copy.db).checkpoints()[-2:]] == [c.size for c in issued]
        assert receiver.bodies == []
        receiver.release.set()
        assert delivery.wait(DEADLINE)
    finally:
        delivery.stop()
    # A new receiver gets every kept checkpoint, oldest first, the new ones last.
    assert receiver.bodies == [c.note.encode() for c in TreeStore(copy.db).checkpoints()]
    assert receiver.bodies[-2:] == [c.note.encode() for c in issued]
    for body, header in zip(receiver.bodies, receiver.signatures, strict=True):
        assert verify_signature(SECRET.encode(), body, header, time.time())
        assert not verify_signature(b"another secret", body, header, time.time())


def test_a_webhook_without_its_secret_is_refused_by_name(copy: Copy, tmp_path: Path) -> None:
    settings = copy.settings.model_copy(update={"audit_log_webhook_url": "http://127.0.0.1:9/x"})
    with pytest.raises(WitnessSettingsError, match="CASES_AUDIT_LOG_WEBHOOK_SECRET"):
        witness_of(settings)
    missing = settings.model_copy(update={"audit_log_webhook_secret_file": tmp_path / "none"})
    with pytest.raises(
        WitnessSettingsError, match=r"audit_log_webhook_secret_file .* cannot be read"
    ):
        witness_of(missing)


def forge_at(directory: Path, origin: str, size: int) -> None:
    """Keep a different checkpoint of `size` in the witness directory first."""
    root = base64.b64encode(b"\xee" * 32).decode()
    CheckpointDirectory(directory).keep(f"{origin}\n{size}\n{root}\n\n\u2014 {origin} AAAA\n")


def test_a_fork_in_the_witness_directory_stops_the_builder_loudly(
    copy: Copy, tmp_path: Path
) -> None:
    witnesses = tmp_path / "witnesses"
    settings = copy.settings.model_copy(
        update={"audit_log_witness_dir": witnesses, "audit_log_checkpoint_events": 5}
    )
    size = TreeStore(copy.db).head().size
    append_events(copy, 5)
    forge_at(witnesses, settings.audit_log_origin, size + 5)
    make = tree_builders(settings, copy.log, lambda: open_runner_db(settings), create_key=False)
    runners = InProcessProjections(copy.log, lambda: open_runner_db(settings), [], tree=make)
    runners.loops = {TREE: runners.loops[TREE]}  # the tree builder alone
    with runners:
        deadline = time.monotonic() + DEADLINE
        while TREE not in runners.failures and time.monotonic() < deadline:
            time.sleep(0.05)
    assert isinstance(runners.failures.get(TREE), CheckpointForkError)
    assert not runner_running(copy.db, TREE)
    latest = TreeStore(copy.db).latest()
    assert latest is not None
    assert latest.size == size + 5  # kept in the database, refused outside
