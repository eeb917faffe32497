"""`cases projections run` started while its PostgreSQL database refuses
connections waits for it, with backoff and a log line per attempt, then keeps
the read models up to date; SIGTERM stops it while it waits (ADR 0034).

The database is made unreachable as the outage tests do it: it stops accepting
connections (ALTER DATABASE ... ALLOW_CONNECTIONS false), so every attempt
fails exactly as against a server that is down, and is allowed back later."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from cases.bootstrap import bootstrap
from cases.clock import SystemClock
from cases.db.database import ProjectionDatabase
from cases.db.schema import migrate
from cases.domain import case_commands as cmd
from cases.followers.tracking import Tracking
from cases.persistence.database_url import parse_database_url
from cases.settings import Settings
from tests.support import children
from tests.support.builders import caller, intake, terms
from tests.support.postgres import ADMIN_URL, throwaway_database

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[3]
WAIT_TIMEOUT = 60.0  # seconds: a correctness bound, not a speed target


@pytest.fixture
def recorded_store() -> Iterator[tuple[str, int]]:
    """A migrated database with one case recorded; its URL and the log's head."""
    with throwaway_database() as url:
        migrate(parse_database_url(url))
        services = bootstrap(Settings(database_url=url), SystemClock())
        try:
            yesterday = services.clock.now() - timedelta(days=1)
            services.desk.publish_terms(caller().at(yesterday), terms(), yesterday)
            receipt = services.desk.receive_case(
                caller(), cmd.TakeIn(received_at=services.clock.now(), **intake())
            )
        finally:
            services.close()
        yield url, receipt.position


@contextmanager
def refusing_connections(database_url: str) -> Iterator[None]:
    """The database accepts no connections (its sessions ended) until the block ends."""
    name = sql.Identifier(database_url.rsplit("/", 1)[1])
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name))
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database_url.rsplit("/", 1)[1],),
            )
            yield
        finally:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(name))


def start_runner(database_url: str, log: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASES_")}
    with log.open("w") as stderr:
        return children.spawn(
            [
                *(sys.executable, "-m", "tests.support.projection_cli"),
                *("projections", "run", "case_queue", "--poll-interval", "0.05"),
            ],
            cwd=ROOT,
            env={
                **env,
                "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
                "CASES_DATABASE_URL": database_url,
                "CASES_POSTGRES_POOL_SIZE": "2",
            },
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )


def log_events(log: Path, event: str) -> list[dict[str, Any]]:
    lines = [line for line in log.read_text().splitlines() if line.startswith("{")]
    return [entry for entry in map(json.loads, lines) if entry.get("event") == event]


def wait_for_attempts(process: subprocess.Popen[str], log: Path, count: int) -> None:
    deadline = time.monotonic() + WAIT_TIMEOUT
    while len(log_events(log, "database_unreachable")) < count:
        assert process.poll() is None, f"the runner exited: {log.read_text()}"
        assert time.monotonic() < deadline, "the runner logged no attempts"
        time.sleep(0.1)


def stop(process: subprocess.Popen[str]) -> list[str]:
    """SIGTERM; it must exit 0. What it printed."""
    process.send_signal(signal.SIGTERM)
    try:
        stdout, _ = process.communicate(timeout=WAIT_TIMEOUT)
    finally:
        children.kill(process)  # nothing left of its group, whatever happened
    assert process.returncode == 0
    return stdout.splitlines()


def test_a_runner_started_before_its_database_waits_then_catches_up(
    recorded_store: tuple[str, int], tmp_path: Path
) -> None:
    """Each failed attempt is logged with its number and the next wait (growing);
    once the database accepts connections the runner applies the log."""
    url, head = recorded_store
    log = tmp_path / "runner.log"
    with refusing_connections(url):
        process = start_runner(url, log)
        try:
            wait_for_attempts(process, log, 3)
        except BaseException:
            children.kill(process)
            raise
    try:
        attempts = log_events(log, "database_unreachable")
        assert [a["attempt"] for a in attempts[:3]] == [1, 2, 3]
        assert [a["retry_in"] for a in attempts[:3]] == [0.5, 1.0, 2.0]
        assert all("not currently accepting connections" in a["reason"] for a in attempts)
        db = ProjectionDatabase(parse_database_url(url))
        try:
            deadline = time.monotonic() + WAIT_TIMEOUT
            while Tracking(db).position("case_queue") < head:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the runner did not catch up"
                time.sleep(0.1)
        finally:
            db.close()
        assert log_events(log, "database_reached")
    finally:
        printed = stop(process)
    assert printed == ["Running case_queue; Ctrl-C to stop.", "Stopped."]


def test_sigterm_stops_a_runner_that_waits_for_its_database(
    recorded_store: tuple[str, int], tmp_path: Path
) -> None:
    """Stopped while waiting, it exits 0 at once, having run nothing."""
    url, _ = recorded_store
    log = tmp_path / "runner.log"
    with refusing_connections(url):
        process = start_runner(url, log)
        try:
            wait_for_attempts(process, log, 1)
        finally:
            printed = stop(process)
    assert printed == ["Stopped."]
