"""What recording the metrics of one command costs a server process (ADR 46).

Run: .venv/bin/python benchmarks/metrics_overhead.py [--repeat 20000]

A command answered over HTTP records, in this order: its group-commit batch (one
histogram observation), the command and its events (two counters for a typical
command of one event, a third for a note with its clock facts is not counted), and
the request (a counter and a histogram). The script times exactly those calls in
multiprocess mode (each value a write into a memory-mapped file in
PROMETHEUS_MULTIPROC_DIR, as under `cases serve --workers N`) and in one-process
mode, each in a fresh interpreter, and prints the median over 5 runs of the
microseconds per command. api_load (locust) measures whole commands; this isolates
the part metrics add, to hold against the command's server CPU (about 2.3 ms,
docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = """
import sys, time
from cases.observability import metrics
repeat = int(sys.argv[1])
events = [("SupportCase.NoteAdded", None)]
def one() -> None:
    metrics.group_commit_batch(3)
    metrics.command_recorded("SupportCase", events)
    metrics.request_answered("POST", "/cases/{case_id}/notes", 201, 0.004)
for _ in range(1000):
    one()
start = time.perf_counter()
for _ in range(repeat):
    one()
print((time.perf_counter() - start) / repeat * 1e6)
"""


def run(repeat: int, multiprocess: bool) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with tempfile.TemporaryDirectory(prefix="cases-metrics-bench-") as folder:
        if multiprocess:
            env["PROMETHEUS_MULTIPROC_DIR"] = folder
        out = subprocess.run(  # noqa: S603 - this interpreter, our own snippet
            [sys.executable, "-c", CHILD, str(repeat)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    return float(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for label, multiprocess in (("one process", False), ("multiprocess files", True)):
        times = [run(args.repeat, multiprocess) for _ in range(args.runs)]
        print(
            f"{label:<20} {statistics.median(times):6.1f} µs per command "
            f"(runs: {', '.join(f'{t:.1f}' for t in times)})"
        )


if __name__ == "__main__":
    main()
