"""What recording the metrics of one command costs a server process (ADR 46).

Run: .venv/bin/python benchmarks/metrics_overhead.py [--repeat 20000]

A command answered over HTTP records, in this order: its group-commit batch (one
histogram observation), the command and its events (two counters for a typical
command of one event, a third for a note with its clock facts is not counted), and
the request (a counter and a histogram). The script times exactly those calls in
multiprocess mode (each value a write into a memory-mapped file in
PROMETHEUS_MULTIPROC_DIR, as under `cases serve --workers N`) and in one-process
mode, each in a fresh interpreter, and prints the median over 5 runs of the
microseconds per command; then the request-metrics middleware as an ASGI layer around
an app that answers at once, against the same app bare (the layer's own cost, its
request recording included). api_load (locust) measures whole commands; this isolates
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

# The request-metrics middleware as the server runs it: an extra ASGI layer that
# watches the answer start, finds the route's template and records the request.
# Timed around an app that answers at once, against the same app without the
# layer, in one event loop; the difference is what the layer adds to a request.
LAYER = """
import asyncio, sys, time
from starlette.routing import Route
from cases.api.metrics import RequestMetricsMiddleware

repeat = int(sys.argv[1])

async def answer(scope, receive, send):
    scope["route"] = ROUTE
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})

ROUTE = Route("/cases/{case_id}/notes", answer, methods=["POST"])
SCOPE = {"type": "http", "method": "POST", "path": "/cases/x/notes"}

async def receive():
    return {"type": "http.request", "body": b"", "more_body": False}

async def send(message):
    pass

async def per_request(app):
    for _ in range(1000):
        await app(dict(SCOPE), receive, send)
    start = time.perf_counter()
    for _ in range(repeat):
        await app(dict(SCOPE), receive, send)
    return (time.perf_counter() - start) / repeat * 1e6

async def main():
    wrapped = RequestMetricsMiddleware(answer)
    bare, layered = [], []
    for _ in range(5):
        bare.append(await per_request(answer))
        layered.append(await per_request(wrapped))
    bare.sort(); layered.sort()
    print(layered[2] - bare[2])

asyncio.run(main())
"""


def run(repeat: int, multiprocess: bool, child: str = CHILD) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with tempfile.TemporaryDirectory(prefix="cases-metrics-bench-") as folder:
        if multiprocess:
            env["PROMETHEUS_MULTIPROC_DIR"] = folder
        out = subprocess.run(  # noqa: S603 - this interpreter, our own snippet
            [sys.executable, "-c", child, str(repeat)],
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
    measures = (
        ("one process", False, CHILD),
        ("multiprocess files", True, CHILD),
        ("middleware layer, one process", False, LAYER),
        ("middleware layer, multiprocess", True, LAYER),
    )
    for label, multiprocess, child in measures:
        times = [run(args.repeat, multiprocess, child) for _ in range(args.runs)]
        print(
            f"{label:<32} {statistics.median(times):6.1f} µs per command "
            f"(runs: {', '.join(f'{t:.1f}' for t in times)})"
        )


if __name__ == "__main__":
    main()
