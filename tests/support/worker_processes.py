"""Projection runners in processes of their own (`tests.support.projection_worker`),
for tests that kill them mid-batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import children
from tests.support.projection_worker import written_marker

ROOT = Path(__file__).resolve().parents[2]


WORKER_DEADLINE = 60.0  # seconds a test waits for a worker to reach a batch: a correctness bound


class Workers:
    """Projection worker processes (tests/support/projection_worker.py)."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.folder = folder
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, runner_id: str, *options: str) -> subprocess.Popen[bytes]:
        output = (self.folder / f"{runner_id}.log").open("wb")
        process = children.spawn(
            [
                *(sys.executable, "-m", "tests.support.projection_worker"),
                *(self.url, runner_id, *options, "--marker", str(self.marker(runner_id))),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def marker(self, runner_id: str) -> Path:
        return self.folder / f"{runner_id}.batches"

    def batches(self, runner_id: str) -> list[tuple[int, int]]:
        """(first, last) position of every batch the worker started."""
        return self._read_batches(self.marker(runner_id))

    def written(self, runner_id: str) -> int:
        """How many batches have written their first rows (committed or not)."""
        return len(self.written_batches(runner_id))

    def written_batches(self, runner_id: str) -> list[tuple[int, int]]:
        """(first, last) position of every batch that has written its rows."""
        return self._read_batches(written_marker(self.marker(runner_id)))

    @staticmethod
    def _read_batches(path: Path) -> list[tuple[int, int]]:
        lines = path.read_text().splitlines() if path.exists() else []
        spans = [line.split()[1].split("-") for line in lines]
        return [(int(first), int(last)) for first, last in spans]

    def stop_all(self) -> None:
        for process in self.processes:
            children.kill(process, 10)
