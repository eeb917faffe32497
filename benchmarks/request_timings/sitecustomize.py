"""Where a request's time goes inside `cases serve` (api_load.py --timings, ADR 0027 amendment).

Python imports this module at start-up in every process whose PYTHONPATH holds its
folder; it does anything only where CASES_BENCH_TIMINGS names a folder. There each
API worker writes a line per request (JSON, in `<folder>/server-<pid>.jsonl`): how
long it waited between uvicorn reading it and the app, how long the app took, how
long its thread hand-offs waited for a pool thread and ran there, and how long it
waited in the events' group commit (ADR 0027). Every process also writes each
collection's pause (ADR 0025), each group commit batch, and its CPU time every
10 ms. Not part of the shipped code: the benchmark puts it on the server's path
only when asked.
"""

from __future__ import annotations

import contextvars
import gc
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FOLDER = os.environ.get("CASES_BENCH_TIMINGS")
FLUSH_SECONDS = 1.0
CPU_SAMPLE_SECONDS = 0.01

_records: list[dict[str, Any]] = []
_records_lock = threading.Lock()
_received: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "request_received", default=None
)
_request: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "timed_request", default=None
)


def _emit(record: dict[str, Any]) -> None:
    with _records_lock:
        _records.append(record)


def _flush_forever(path: Path) -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        with _records_lock:
            batch = _records[:]
            _records.clear()
        if batch:
            with path.open("a") as out:
                out.writelines(json.dumps(r) + "\n" for r in batch)


def _sample_cpu_forever() -> None:
    while True:
        time.sleep(CPU_SAMPLE_SECONDS)
        _emit({"k": "cpu", "t": time.time(), "c": time.process_time()})


def _time_collections() -> None:
    started: dict[str, float] = {}

    def on_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started["t"], started["p"] = time.time(), time.perf_counter()
        elif "p" in started:
            pause = (time.perf_counter() - started["p"]) * 1e3
            _emit({"k": "gc", "t": started["t"], "d": pause, "g": info["generation"]})

    gc.callbacks.append(on_collection)


def _time_requests() -> None:
    import fastapi.applications  # noqa: PLC0415 - only in a timed server

    served = fastapi.applications.FastAPI.__call__

    async def timed(self: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await served(self, scope, receive, send)
        request = {"k": "req", "t": time.time(), "m": scope["method"], "p": scope["path"]}
        request |= {"queued": 0.0, "thread": 0.0, "handoffs": 0, "write": 0.0}
        began = time.perf_counter()
        received = _received.get()
        request["waited"] = (began - received) * 1e3 if received is not None else 0.0
        token = _request.set(request)
        try:
            return await served(self, scope, receive, send)
        finally:
            _request.reset(token)
            request["d"] = (time.perf_counter() - began) * 1e3
            _emit(request)

    fastapi.applications.FastAPI.__call__ = timed  # type: ignore[method-assign]


def _time_arrivals() -> None:
    """When uvicorn read a request's bytes: the task it starts for the request
    copies the context as it is then, so the app finds the moment there."""
    from uvicorn.protocols.http import httptools_impl  # noqa: PLC0415 - only in a timed server

    received = httptools_impl.HttpToolsProtocol.data_received

    def timed(self: Any, data: bytes) -> None:
        _received.set(time.perf_counter())
        received(self, data)

    httptools_impl.HttpToolsProtocol.data_received = timed  # type: ignore[method-assign]


def _time_handoffs() -> None:
    import anyio.to_thread  # noqa: PLC0415 - only in a timed server

    run_sync = anyio.to_thread.run_sync

    async def timed(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        request = _request.get()
        if request is None:
            return await run_sync(func, *args, **kwargs)
        called = time.perf_counter()
        marks: list[float] = []

        def marked(*a: Any) -> Any:
            marks.append(time.perf_counter())
            try:
                return func(*a)
            finally:
                marks.append(time.perf_counter())

        try:
            return await run_sync(marked, *args, **kwargs)
        finally:
            if len(marks) == 2:
                request["queued"] += (marks[0] - called) * 1e3
                request["thread"] += (marks[1] - marks[0]) * 1e3
                request["handoffs"] += 1

    anyio.to_thread.run_sync = timed


def _time_group_commit() -> None:
    from cases.persistence import group_commit  # noqa: PLC0415 - only in a timed server

    write, lead = group_commit.GroupCommit.write, group_commit.GroupCommit._lead

    def timed_write(self: Any, statement: Any, keys: Any) -> Any:
        began = time.perf_counter()
        try:
            return write(self, statement, keys)
        finally:
            request = _request.get()
            if request is not None:
                request["write"] += (time.perf_counter() - began) * 1e3

    def timed_lead(self: Any) -> None:
        size, began = self.queued, time.perf_counter()
        try:
            lead(self)
        finally:
            took = (time.perf_counter() - began) * 1e3
            _emit({"k": "batch", "t": time.time(), "d": took, "n": size})

    group_commit.GroupCommit.write = timed_write  # type: ignore[method-assign]
    group_commit.GroupCommit._lead = timed_lead  # type: ignore[method-assign]


def _start(folder: Path) -> None:
    role = "runner" if "projections" in sys.argv else "server"
    path = folder / f"{role}-{os.getpid()}.jsonl"
    threading.Thread(target=_flush_forever, args=(path,), daemon=True).start()
    threading.Thread(target=_sample_cpu_forever, daemon=True).start()
    _time_collections()
    if role == "server":
        _time_requests()
        _time_arrivals()
        _time_handoffs()
        _time_group_commit()


if FOLDER:
    _start(Path(FOLDER))
