"""Each worker of `cases serve` claims a slot and keeps its threads on its core (ADR 96),
scheduled as batch work (ADR 97).

The workers here are real processes, each calling `pin_this_worker` as a worker of
`cases serve` does at start; their affinities are read from the kernel.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cases.api.worker_cores import CORES_DIRECTORY, can_pin, cores_directory, pin_this_worker
from tests.support import children

pytestmark = pytest.mark.skipif(not can_pin(), reason="this platform cannot set affinity")

# A stand-in worker: a thread started first (as a pool's would be), then the pin, then
# the cores of every thread of the process, read back from the kernel; it waits for
# its stdin to close.
WORKER = """
import os, sys, threading
from pathlib import Path
from cases.api.worker_cores import pin_this_worker
ready = threading.Event()
started_before = threading.Thread(target=ready.wait, daemon=True)
started_before.start()
core = pin_this_worker()
started_after = threading.Thread(target=ready.wait, daemon=True)
started_after.start()
threads = [int(t.name) for t in Path("/proc/self/task").iterdir()]
cores = sorted({c for t in threads for c in os.sched_getaffinity(t)})
policies = sorted({os.sched_getscheduler(t) for t in threads})
print(core, len(threads), ",".join(map(str, policies)), *cores, flush=True)
sys.stdin.read()
ready.set()
"""


class Worker:
    def __init__(self, env: dict[str, str]) -> None:
        self.process = children.spawn(
            [sys.executable, "-c", WORKER],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        core, threads, policies, *cores = self.process.stdout.readline().split()
        self.core = None if core == "None" else int(core)
        self.threads = int(threads)
        self.policies = [int(p) for p in policies.split(",")]
        self.cores = [int(c) for c in cores]

    def stop(self) -> None:
        children.stop(self.process)


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


def worker_env(directory: Path | None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop(CORES_DIRECTORY, None)
    if directory is not None:
        env[CORES_DIRECTORY] = str(directory)
    return env


def test_one_worker_gets_no_directory_and_several_share_one_while_they_run() -> None:
    with cores_directory(1) as none:
        assert none is None
        assert CORES_DIRECTORY not in os.environ
    with cores_directory(2) as directory:
        assert directory is not None
        assert directory.is_dir()
        assert os.environ[CORES_DIRECTORY] == str(directory)
    assert CORES_DIRECTORY not in os.environ
    assert not directory.exists()


def test_without_a_directory_a_process_is_left_where_it_was() -> None:
    before = os.sched_getaffinity(0)
    assert CORES_DIRECTORY not in os.environ
    assert pin_this_worker() is None
    assert os.sched_getaffinity(0) == before


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to tell apart")
def test_workers_take_the_cores_in_turn_and_a_dead_ones_core_goes_to_its_successor(
    tmp_path: Path, workers: list[Worker]
) -> None:
    cores = sorted(os.sched_getaffinity(0))
    env = worker_env(tmp_path)
    workers += [Worker(env), Worker(env)]
    first, second = workers
    assert first.core == cores[0]
    assert second.core == cores[1]
    for worker in (first, second):
        # every thread, the one started before the pin and the one after included
        assert worker.threads >= 3
        assert worker.cores == [worker.core]
        assert worker.policies == [os.SCHED_BATCH]  # ADR 97

    children.kill_group(first.process)
    first.stop()
    workers.append(successor := Worker(env))
    assert successor.core == cores[0]
    assert successor.cores == [cores[0]]
    assert successor.policies == [os.SCHED_BATCH]
    workers.append(third := Worker(env))
    assert third.core == cores[2 % len(cores)]


def test_a_worker_without_a_directory_runs_on_every_core_it_may(
    workers: list[Worker],
) -> None:
    workers.append(worker := Worker(worker_env(None)))
    assert worker.core is None
    assert worker.cores == sorted(os.sched_getaffinity(0))
    assert worker.policies == [os.sched_getscheduler(0)]


def test_a_worker_whose_directory_is_gone_is_not_pinned_and_runs(
    tmp_path: Path, workers: list[Worker]
) -> None:
    workers.append(worker := Worker(worker_env(tmp_path / "gone")))
    assert worker.core is None
    assert worker.cores == sorted(os.sched_getaffinity(0))
    assert worker.policies == [os.sched_getscheduler(0)]
