"""A real `cases` HTTP server in its own process, for end-to-end tests.

    with serving(database_url, data_dir) as server:             # uvicorn, one process
        httpx.get(f"{server.url}/health")
    with serving(url, data_dir, workers=2) as server:           # `cases serve --workers 2`
        ...
    server.access_log()    # the JSON access lines the server wrote to stderr

The server listens on a free port of 127.0.0.1 and its stderr goes to a file, so a
test can read its log. SQLite migrates itself on start and runs its projections in
the server process. PostgreSQL is migrated here first and its projections run in a
`cases projections run` process beside the server, as in production.

Processes are started in their own session and stopped by process group (SIGTERM,
then SIGKILL), so the workers of `cases serve --workers 2` stop with their parent;
tests/support/children.py kills them too if the test run is interrupted or killed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx

from cases.db.schema import migrate
from cases.persistence.database_url import StoreKind, parse_database_url
from tests.support import children

BIN = Path(sys.executable).parent
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
STARTED = "Application startup complete."  # uvicorn's line, once per worker
PROJECTIONS_RUNNING = "Running "  # `cases projections run`, once its runners started


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def store_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """This environment without the caller's CASES_* settings, pointed at one store.

    Event-store pools are kept small: several servers, their workers and projection
    processes share one PostgreSQL (100 connections) with the rest of the suite.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASES_")}
    env.update(
        CASES_DATABASE_URL=database_url,
        CASES_DATA_DIR=str(data_dir),
        CASES_POSTGRES_POOL_SIZE="2",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


class ManagedProcess:
    """A child process in its own process group, with stderr in a file."""

    def __init__(
        self,
        command: Sequence[str],
        env: dict[str, str],
        log_path: Path,
        *,
        cwd: Path | None = None,
    ) -> None:
        self.command = list(command)
        self.env = env
        self.log_path = log_path
        self.cwd = cwd  # None: this process's working directory
        self.log_start = 0  # where this run's lines begin in a log kept across restarts
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_start = len(self.log_text())
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = children.spawn(
                self.command, env=self.env, cwd=self.cwd, stdout=log, stderr=log
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM the process group, then SIGKILL it if it has not gone in time."""
        if self.process is None:
            return
        process, self.process = self.process, None
        children.stop(process, STOP_TIMEOUT)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def this_run_log(self) -> str:
        return self.log_text()[self.log_start :]


class ServerProcess(ManagedProcess):
    """The HTTP API on a local port, served by `workers` processes."""

    def __init__(
        self,
        command: Sequence[str],
        env: dict[str, str],
        log_path: Path,
        port: int,
        workers: int = 1,
        *,
        cwd: Path | None = None,
    ) -> None:
        super().__init__(command, env, log_path, cwd=cwd)
        self.port = port
        self.workers = workers
        self.url = f"http://127.0.0.1:{port}"

    def wait_until_healthy(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Return once every worker has started and `GET /health` answers 200; fail
        with the log if that does not happen in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"the server exited on start:\n{self.log_text()[-4000:]}")
            started = self.this_run_log().count(STARTED)
            with suppress(httpx.TransportError):
                healthy = httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200
                if healthy and started >= self.workers:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"the server did not answer in {timeout}s:\n{self.log_text()[-4000:]}")

    def log_records(self) -> list[dict[str, Any]]:
        """Every JSON object line of the log (uvicorn's and yoyo's plain lines skipped)."""
        records = []
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                with suppress(ValueError):
                    records.append(json.loads(line))
        return records

    def access_log(self) -> list[dict[str, Any]]:
        """The access lines: one per request served."""
        return [r for r in self.log_records() if r.get("event") == "request"]


def worker_pids(parent: int) -> set[int]:
    """The worker processes `cases serve` (pid `parent`) spawned, from /proc (Linux)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in cmdline:
            found.add(int(entry.name))
    return found


def server_command(port: int, workers: int) -> list[str]:
    """uvicorn on the app factory for one process; `cases serve` for several."""
    if workers == 1:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "cases.api.app:serve_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ]
    return [
        str(BIN / "cases"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def prepare_store(database_url: str) -> None:
    """Migrate a PostgreSQL store, which the server refuses to do itself."""
    url = parse_database_url(database_url)
    if url.kind is StoreKind.POSTGRES:
        migrate(url)


@contextmanager
def serving(
    database_url: str,
    data_dir: Path,
    *,
    workers: int = 1,
    log_path: Path | None = None,
    projections: bool | None = None,
    server_env: dict[str, str] | None = None,
) -> Iterator[ServerProcess]:
    """A healthy server on the store, stopped afterwards.

    `projections` runs `cases projections run` beside the server (started once the
    server is up); by default it does so for PostgreSQL, whose server does not run
    them in-process. `server_env` is added to the server's environment only.
    """
    prepare_store(database_url)
    is_postgres = parse_database_url(database_url).kind is StoreKind.POSTGRES
    log_path = log_path or data_dir / "server.log"
    env = store_env(database_url, data_dir)
    with ExitStack() as stack:
        server = start_server({**env, **(server_env or {})}, log_path, workers)
        stack.callback(server.stop)
        if is_postgres if projections is None else projections:
            stack.enter_context(projection_worker(env, log_path.with_suffix(".projections.log")))
        yield server


# Processes opening the PostgreSQL event store at the same moment can fail with this
# (each re-creates its functions): test_server_start's xfail. Retried here so the
# other tests get a server.
STARTUP_RACE = "tuple concurrently updated"


def start_server(env: dict[str, str], log_path: Path, workers: int = 1) -> ServerProcess:
    """A healthy server on a free port (another is tried if the one picked was taken
    meanwhile); RuntimeError with its log if it exits or never answers."""
    for attempt in range(3):
        port = free_port()
        server = ServerProcess(server_command(port, workers), env, log_path, port, workers)
        server.start()
        try:
            server.wait_until_healthy()
        except RuntimeError:
            server.stop()
            log = server.this_run_log().lower()
            if attempt == 2 or not ("address already in use" in log or STARTUP_RACE in log):
                raise
            continue
        return server
    raise AssertionError("unreachable")


@contextmanager
def projection_worker(env: dict[str, str], log_path: Path) -> Iterator[ManagedProcess]:
    """`cases projections run`, polling often so read-your-writes waits are short;
    yielded once it runs (it exits at once if it cannot open the store)."""
    worker = ManagedProcess(
        [str(BIN / "cases"), "projections", "run", "--poll-interval", "0.02"], env, log_path
    )
    worker.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while PROJECTIONS_RUNNING not in worker.this_run_log():
            if not worker.running or time.monotonic() > deadline:
                raise RuntimeError(f"projections did not start:\n{worker.log_text()[-4000:]}")
            time.sleep(0.05)
        yield worker
    finally:
        worker.stop()
