"""An exception no handler expects, on a real server: the answer is still
problem+json (500, `/problems/internal-error`, the request id, nothing of the
exception) and the server closes the connection, telling the client so
(`Connection: close`), so a keep-alive client never reuses a dropped connection."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.e2e._api import assert_problem
from tests.e2e._deployment import STORES
from tests.e2e._failing_app import SECRET
from tests.support.postgres import throwaway_database
from tests.support.server import ServerProcess, free_port, prepare_store, store_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", params=STORES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """uvicorn serving the app with failing test routes, on each store."""
    folder = tmp_path_factory.mktemp(f"failing-{request.param}")
    with ExitStack() as stack:
        if request.param == "sqlite":
            database_url = f"sqlite:///{folder / 'events.db'}"
        else:
            database_url = stack.enter_context(throwaway_database())
        prepare_store(database_url)
        env = store_env(database_url, folder)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.e2e._failing_app:failing_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ]
        process = ServerProcess(command, env, folder / "server.log", port)
        process.start()
        stack.callback(process.stop)
        process.wait_until_healthy()
        yield process


def _assert_internal_error(response: httpx.Response) -> None:
    body = assert_problem(response, 500, "internal-error")
    assert response.headers["connection"] == "close"
    assert body["request_id"] == response.headers["x-request-id"]
    assert SECRET not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text


def test_an_unexpected_exception_answers_a_problem_and_closes(server: ServerProcess) -> None:
    """The endpoint raises: 500 problem+json with the request id, `Connection:
    close`; the same client's next request goes out on a new connection and works."""
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        _assert_internal_error(client.get("/test-faults/raise"))
        assert client.get("/health").status_code == 200
    logged = [r for r in server.log_records() if r.get("event") == "unexpected_error"]
    assert logged, server.log_text()[-2000:]
    assert "RuntimeError" in logged[-1]["exception"], logged
    assert any(r.get("status") == 500 for r in server.access_log())


def test_the_server_closes_the_connection_after_the_answer(server: ServerProcess) -> None:
    """On a raw keep-alive connection: the whole answer, then end of stream (the
    read would time out if the server kept the connection open)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /test-faults/raise HTTP/1.1\r\nHost: cases\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head = received.split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 500"), received
    assert b"connection: close" in head, received
    assert b"application/problem+json" in head, received


def test_a_command_with_an_idempotency_key_answers_the_same_and_keeps_nothing(
    server: ServerProcess,
) -> None:
    """Through the idempotency middleware: the same problem; the key is not kept,
    so the retry runs again (500 again, not 409 in flight nor a replay)."""
    headers = {"Idempotency-Key": "unexpected-1"}
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        _assert_internal_error(client.post("/test-faults/raise", json={}, headers=headers))
        retry = client.post("/test-faults/raise", json={}, headers=headers)
        _assert_internal_error(retry)
        assert "idempotent-replayed" not in retry.headers


def test_an_exception_after_the_answer_began_drops_the_connection(server: ServerProcess) -> None:
    """Half an answer was sent: the server drops the connection (the client sees an
    incomplete answer, never a complete-looking one), and the client's next request
    works on a new connection."""
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/test-faults/half-answer")
        assert client.get("/health").status_code == 200
