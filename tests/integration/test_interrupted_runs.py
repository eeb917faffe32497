"""A test run that is interrupted or killed leaves no server or runner behind.

A pytest of its own runs tests/support/interrupted_run.py, which starts a server
and a projection runner through tests/support/server.py and waits. That pytest is
then sent SIGINT (Ctrl-C), SIGTERM (a CI timeout) or SIGKILL; within a few seconds
no process carrying the run's marker (set in its environment, which every process
it starts inherits, grandchildren included) may be left.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from uuid import uuid4

import pytest

from tests.support import children
from tests.support.postgres import throwaway_database

ROOT = Path(__file__).resolve().parents[2]
MARKER = "INTERRUPTED_RUN_MARKER"  # not CASES_*: store_env passes only other variables on
START_TIMEOUT = 120.0  # seconds for the inner run to start its server (a bound, not a target)
GONE_TIMEOUT = 10.0  # seconds for every marked process to be gone after the signal

STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
# Ctrl-C unwinds the test's context managers, which stop their processes: that path
# worked before the registry, so it runs with the slow tests only.
SIGNALS = [
    pytest.param(signal.SIGINT, marks=pytest.mark.slow, id="SIGINT"),
    pytest.param(signal.SIGTERM, id="SIGTERM"),
    pytest.param(signal.SIGKILL, id="SIGKILL"),
]


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.db'}"
    else:
        with throwaway_database() as url:
            yield url


def marked(marker: str) -> dict[int, str]:
    """Every live process whose environment carries the marker: pid -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if f"{MARKER}={marker}".encode() in environ:
            found[int(entry.name)] = command
    return found


def wait_until_gone(marker: str, timeout: float) -> dict[int, str]:
    """The marked processes still there after `timeout` s (none: returns at once)."""
    deadline = time.monotonic() + timeout
    while (left := marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", SIGNALS)
def test_an_interrupted_run_leaves_no_server_or_runner(
    store_url: str, sig: signal.Signals, tmp_path: Path
) -> None:
    marker = uuid4().hex
    ready = tmp_path / "ready"
    log = tmp_path / "inner.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
        MARKER: marker,
        "INTERRUPTED_RUN_DATABASE_URL": store_url,
        "INTERRUPTED_RUN_READY": str(ready),
    }
    command = [
        *(sys.executable, "-m", "pytest", "tests/support/interrupted_run.py"),
        *("-q", "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'inner'}"),
    ]
    with log.open("wb") as output:
        run = children.spawn(command, cwd=ROOT, env=env, stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready.exists():
            assert run.poll() is None, f"the inner run ended:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"the inner run did not start:\n{log.read_text()}"
            time.sleep(0.1)
        started = " | ".join(marked(marker).values())
        assert "uvicorn" in started or "cases serve" in started, started
        assert "cases projections run" in started, started

        os.kill(run.pid, sig)
        run.wait(60)

        assert wait_until_gone(marker, GONE_TIMEOUT) == {}, log.read_text()[-4000:]
        if sig is not signal.SIGKILL:
            assert run.returncode == pytest.ExitCode.INTERRUPTED, log.read_text()[-4000:]
    finally:
        children.stop(run)
        for pid in marked(marker):  # a failed run must not leak its processes either
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
