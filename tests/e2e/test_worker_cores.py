"""`cases serve --workers 2` keeps each worker's threads on a core of its own (ADR 96),
scheduled as batch work (ADR 97).

The affinities are read from the kernel for every thread of each worker, after the
workers have served requests (so their pool threads exist).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.postgres import throwaway_database
from tests.support.server import ServerProcess, serving, worker_pids

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]


def threads_of(pid: int) -> list[int]:
    """The ids of the process's threads."""
    return [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()]


def cores_of_threads(pid: int) -> list[set[int]]:
    """The cores each thread of the process may run on."""
    return [os.sched_getaffinity(thread) for thread in threads_of(pid)]


def policies_of_threads(pid: int) -> set[int]:
    """The scheduling policies of the process's threads."""
    return {os.sched_getscheduler(thread) for thread in threads_of(pid)}


def busy(server: ServerProcess) -> None:
    """Requests enough to wake both workers' pools."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for _ in range(40):
            assert client.get("/health").status_code == 200


@pytest.fixture
def database() -> Iterator[str]:
    with throwaway_database() as url:
        yield url


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to tell apart")
def test_each_worker_runs_on_a_core_of_its_own(database: str, tmp_path: Path) -> None:
    with serving(database, tmp_path, workers=2, projections=False) as server:
        busy(server)
        assert server.process is not None
        pids = sorted(worker_pids(server.process.pid))
        assert len(pids) == 2
        cores = []
        for pid in pids:
            threads = cores_of_threads(pid)
            assert len(threads) > 1
            assert all(len(c) == 1 for c in threads), threads
            assert len({frozenset(c) for c in threads}) == 1, threads
            cores.append(threads[0])
            assert policies_of_threads(pid) == {os.SCHED_BATCH}  # ADR 97
        assert cores[0] != cores[1]
        assert cores[0] | cores[1] <= os.sched_getaffinity(0)
        pinned = [r for r in server.log_records() if r.get("event") == "worker_pinned"]
        assert sorted({r["core"] for r in pinned}) == sorted(next(iter(c)) for c in cores)
        # the supervisor itself is left where the kernel puts it
        assert os.sched_getaffinity(server.process.pid) == os.sched_getaffinity(0)
        assert os.sched_getscheduler(server.process.pid) == os.sched_getscheduler(0)


def test_pin_workers_off_leaves_them_to_the_kernel(database: str, tmp_path: Path) -> None:
    with serving(
        database,
        tmp_path,
        workers=2,
        projections=False,
        server_env={"CASES_PIN_WORKERS": "false"},
    ) as server:
        busy(server)
        assert server.process is not None
        for pid in worker_pids(server.process.pid):
            assert all(c == os.sched_getaffinity(0) for c in cores_of_threads(pid))
            assert policies_of_threads(pid) == {os.sched_getscheduler(0)}
        assert not [r for r in server.log_records() if r.get("event") == "worker_pinned"]
