"""The HTTP API under load: a real `cases serve` and a load generator in its own process.

Run: .venv/bin/python benchmarks/api_load.py [--duration 20] [--warmup 5] [--clients 16]
         [--rounds 3] [--targets sqlite,postgres:1,postgres:2] [--profile] [--idempotency-keys]
         [--if-match] [--sealed] [--paced 0.5,0.7,0.85]

Needs locust and, for --profile, py-spy (`.venv/bin/pip install -e '.[bench]'`).
To compare code versions in one run, give a target another checkout's source and
a tag: `--targets "postgres:1@before@PYTHONPATH=/tmp/old/src,postgres:1@after"`.
The ASGI server is compared the same way: `postgres:2@granian@CASES_BENCH_SERVER=granian`
serves the same app under granian instead of uvicorn (`pip install granian`).

For each target the script makes a store (a SQLite file in a temp folder, or a
throwaway PostgreSQL database created on the server named by
CASES_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/postgres),
migrates it, and records in-process what a partner has before the API gets busy:
the support terms, one helpdesk-agent principal per client (its bearer token), and
--cases cases over --customers customers, spread evenly over the snapshot cycle
(case i has i % 50 notes). Then it starts `cases serve --workers N` on a free port
and, on PostgreSQL, `cases projections run` beside it (SQLite runs its projections
in the server).

Each round runs three phases against every target in turn, each with --clients
locust users (one keep-alive connection each, no think time) for --warmup seconds,
then --duration measured seconds:

* health:   GET /health (no token, no database): the ceiling of this server stack.
* commands: POST /cases/{id}/notes and /cases/{id}/communications (half each) on a
  random pre-created case, and --intake-share of the requests POST /cases; with
  --idempotency-keys each carries an Idempotency-Key of its own (ADR 0031). With
  --if-match each client works its own share of the cases (case i goes to client
  i % --clients, so no two race for a version) and sends the case's ETag as
  If-Match on every command on it: learned by GET /cases/{id} when the client
  starts (before the warm-up ends), then from each command's answer. A stale one
  (412) counts as a failure.
* queries:  GET /cases?customer_id=...&status=... and GET /cases/{id} (half each).

Between phases the script waits until the case queue has applied every command
(GET /cases/{id}?min_position=...), so a phase does not pay for the last one's
projection backlog. Latencies are measured by the load generator per request
(locust's request event, microsecond resolution); rates count the requests that
completed in the measured window. The script also reads, per phase, the CPU time
of the server, the projection runner, the database's backends, the load generator
and the machine as a whole (other people's work shows as "other").

With --profile, one more commands phase per target runs under py-spy (100
samples a second of the thread holding the GIL, in each of the server's
processes, without pausing them): the script prints where the server's Python
CPU goes, grouped as auth, load, decide, save, logging, dependency injection,
JSON, HTTP and the rest of the framework. (--rounds 0 --profile: profile only.)

With --timings, each commands phase is also timed inside the server
(benchmarks/request_timings: a sitecustomize put on the server's path): the script
prints, per round, where a command's latency went (queued for a thread, the
command, the events' group commit, the event loop), with the collections and the
group commit batches of the window, and how much the slowest requests cluster in time.
With --paced 0.5,0.7,0.85, each commands phase is followed by one more per share,
its clients paced together to that share of the rate the phase just reached: an
open loop, each request timed from when it was due (a request its client could
not start on time counts the wait, as wrk2 does), so the tail below saturation is
measured, not the queue at it (ADR 88). A table of those phases follows the others.
With --paced-without-runner each paced phase runs once more with the projection
runner stopped (SIGSTOP, then SIGCONT and caught up): what its batches cost the tail.
With --sealed every target runs twice in each round, in turn: as given, and with
a fresh master key (CASES_MASTER_KEY, ADR 0044), its seed cases sealed too; the
table then shows plain and sealed side by side (issue 15's < 10 % target).

Every process it starts is stopped, and every database it creates dropped, on
the way out: also on error or Ctrl-C (SIGTERM too).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

if not __package__:  # run as a script (benchmarks/api_load.py): import as from the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil
import psycopg
from benchmarks import request_timings
from benchmarks._harness import (
    ADMIN_URL,
    NOTES,
    PRODUCTS,
    SUMMARIES,
    Children,
    Seed,
    free_port,
    http_get,
    intake_body,
    run_interruptibly,
    seed_store,
    start_projections,
    start_server,
    throwaway_database,
    tool,
    wait_until,
)

from cases.db.schema import migrate
from cases.log_config import configure_logging
from cases.persistence.database_url import parse_database_url
from cases.persistence.subject_keys import MasterKey

PHASES = ("health", "commands", "queries")
COMMANDS = ("POST /cases/{id}/notes", "POST /cases/{id}/communications", "POST /cases")
QUERIES = ("GET /cases?customer_id&status", "GET /cases/{id}")
STATUSES = ("new", "in_progress")
WINDOW_START, WINDOW_END, RESULT = "window-start", "window-end", "result "


Admin = psycopg.Connection[tuple[Any, ...]]


def backend_pids(admin: Admin, database: str) -> set[int]:
    rows = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (database,),
    ).fetchall()
    return {int(r[0]) for r in rows}


def committed_transactions(admin: Admin, database: str) -> int:
    admin.execute("SELECT pg_stat_clear_snapshot()")
    row = admin.execute(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (database,)
    ).fetchone()
    return int(row[0]) if row else 0


# A target: one store, one server ---------------------------------------------


@dataclass
class Target:
    store: str  # "sqlite" or "postgres"
    workers: int
    url: str = ""
    database: str = ""  # PostgreSQL database name
    base: str = ""  # http://127.0.0.1:PORT
    seed: Seed | None = None
    server: subprocess.Popen[bytes] | None = None
    projections: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)
    spec: Path | None = None
    env: dict[str, str] = field(default_factory=dict)  # what-ifs: set for the server only
    tag: str = ""  # names the variant instead of its settings (e.g. "before")

    @property
    def label(self) -> str:
        store = "SQLite" if self.store == "sqlite" else "PostgreSQL"
        extra = f" [{self.tag}]" if self.tag else "".join(f", {k}={v}" for k, v in self.env.items())
        return f"{store}, {self.workers} worker{'s' if self.workers > 1 else ''}{extra}"

    def alive(self) -> bool:
        procs = [p for p in (self.server, self.projections) if p is not None]
        return all(p.poll() is None for p in procs)

    def processes(self) -> dict[str, list[psutil.Process]]:
        """The server (master and workers) and the projection runner, as psutil sees them."""
        found: dict[str, list[psutil.Process]] = {}
        for role, proc in (("server", self.server), ("projections", self.projections)):
            if proc is None:
                continue
            with contextlib.suppress(psutil.NoSuchProcess):
                top = psutil.Process(proc.pid)
                found[role] = [top, *top.children(recursive=True)]
        return found


def parse_targets(text: str) -> list[Target]:
    """`sqlite,postgres:2,postgres:2@PYTHONOPTIMIZE=1`: store, workers, @NAME=VALUE for
    the server's and projection runner's environment (to compare a what-if), and
    @TAG (no `=`) to label it, e.g. `postgres:2@before@PYTHONPATH=/tmp/old/src` runs
    another checkout's code beside this one's."""
    targets = []
    for item in text.split(","):
        spec, *settings = item.strip().split("@")
        store, _, workers = spec.partition(":")
        if store not in ("sqlite", "postgres"):
            raise SystemExit(f"error: --targets: unknown store {store!r}")
        n = int(workers or 1)
        if store == "sqlite" and n != 1:
            raise SystemExit("error: --targets: SQLite serves from one process")
        env = dict(setting.split("=", 1) for setting in settings if "=" in setting)
        tag = " ".join(setting for setting in settings if "=" not in setting)
        targets.append(Target(store, n, env=env, tag=tag))
    return targets


MASTER_KEY_VARIABLE = "CASES_MASTER_KEY"


def with_sealed_twins(targets: list[Target]) -> list[Target]:
    """Each target, then the same one storing personal fields sealed under a fresh
    master key (ADR 0044), seeded sealed too: rounds run them in turn, each round
    starting one target later (--sealed)."""
    paired = []
    for target in targets:
        sealed = Target(
            target.store,
            target.workers,
            env={**target.env, MASTER_KEY_VARIABLE: MasterKey.generate().as_text()},
            tag=" ".join(t for t in (target.tag, "sealed") if t),
        )
        if not target.tag:
            target.tag = " ".join(f"{k}={v}" for k, v in target.env.items()) or "plain"
        paired += [target, sealed]
    return paired


def prepare_target(
    target: Target, args: argparse.Namespace, children: Children, stack: contextlib.ExitStack
) -> None:
    """The store, migrated and seeded; the spec file the load generator reads."""
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cases-api-load-")))
    if target.store == "sqlite":
        target.url = f"sqlite:///{tmp}/cases.db"
    else:
        target.url, target.database = stack.enter_context(throwaway_database(args.postgres_url))
    stack.callback(children.stop_all)  # processes stop before their store goes
    migrate(parse_database_url(target.url))
    target.seed = seed_store(
        target.url,
        tmp,
        args.cases,
        args.customers,
        args.clients,
        master_key=target.env.get(MASTER_KEY_VARIABLE),
    )
    target.spec = tmp / "spec.json"
    target.spec.write_text(
        json.dumps(
            {
                "tokens": target.seed.tokens,
                "case_ids": target.seed.case_ids,
                "customers": target.seed.customers,
                "intake_share": args.intake_share,
                "idempotency_keys": args.idempotency_keys,
                "if_match": args.if_match,
            }
        )
    )


@contextlib.contextmanager
def serving(target: Target, children: Children, timings: Path | None = None) -> Iterator[None]:
    """`cases serve` (and, on PostgreSQL, `cases projections run`) for one round.

    Started afresh each round and stopped after it, so that only one target
    holds database connections at a time (PostgreSQL allows 100 here).
    """
    assert target.seed is not None  # noqa: S101 - prepared
    assert target.spec is not None  # noqa: S101 - prepared
    tmp = target.spec.parent
    env = {**os.environ, "CASES_LOG_LEVEL": "INFO"}
    env.pop("PYTHONOPTIMIZE", None)  # as shipped, unless the target says otherwise
    env.update({**target.env, "CASES_DATABASE_URL": target.url})
    if timings is not None:
        timings.mkdir(parents=True)
        paths = [str(request_timings.FOLDER), *filter(None, [env.get("PYTHONPATH")])]
        env |= {"CASES_BENCH_TIMINGS": str(timings), "PYTHONPATH": os.pathsep.join(paths)}
    try:
        if target.store == "postgres":
            log = tmp / "projections.log"
            target.logs.append(log)
            target.projections = start_projections(children, env, log)
        port = free_port()
        target.base = f"http://127.0.0.1:{port}"
        log = tmp / "server.log"
        target.logs.append(log)
        target.server = start_server(children, env, log, port, target.workers)
        catch_up(target, target.seed.position, timeout=120)
        yield
    finally:
        for proc in (target.server, target.projections):
            if proc is not None:
                children.stop(proc)
        target.server = target.projections = None


def catch_up(target: Target, position: int, timeout: float = 60) -> float:
    """Wait until the case queue has applied `position` (the API's read-your-writes)."""
    assert target.seed is not None  # noqa: S101 - set by start_target
    url = f"{target.base}/cases/{target.seed.case_ids[0]}?min_position={position}"
    token = target.seed.tokens[0]
    return wait_until(
        lambda: http_get(url, token) == 200, "projections catching up", timeout, target.alive
    )


def log_tail(target: Target, lines: int = 15) -> str:
    out = []
    for log in target.logs:
        if log.exists():
            text = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name} ---\n" + "\n".join(text))
    return "\n".join(out)


# CPU accounting -------------------------------------------------------------


def cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def context_switches(
    procs: list[psutil.Process], seen: dict[str, tuple[int, int]]
) -> tuple[int, int]:
    """Voluntary and involuntary context switches of every thread of `procs` seen so
    far (Linux counts them per thread: a process's own line is its main thread's
    only). `seen` keeps each thread's last counts, so a thread that has ended (an
    idle pool thread) still counts what it had, and a thread's counts are kept at
    their largest: the sum never falls, though a thread born and ended between two
    samples is not seen."""
    for p in procs:
        for status in Path(f"/proc/{p.pid}/task").glob("*/status"):
            with contextlib.suppress(OSError):
                counts = [0, 0]
                for line in status.read_text().splitlines():
                    if line.startswith("voluntary_ctxt_switches:"):
                        counts[0] = int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches:"):
                        counts[1] = int(line.split()[1])
                was = seen.get(str(status), (0, 0))  # counts only grow: keep the larger
                seen[str(status)] = (max(was[0], counts[0]), max(was[1], counts[1]))
    return sum(v for v, _ in seen.values()), sum(i for _, i in seen.values())


def machine_busy_seconds() -> float:
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


@dataclass
class CpuSample:
    at: float
    parts: dict[str, float]
    machine: float
    xacts: int
    switches: tuple[int, int] = (0, 0)  # the server's, voluntary and involuntary
    server_system: float = 0.0  # of the server's CPU seconds, those in the kernel
    clients: tuple[int, ...] = ()  # connections each server worker holds, most first


class CpuMeter:
    """CPU seconds of each part of one target, and of the whole machine."""

    def __init__(self, target: Target, admin: Admin | None) -> None:
        self.target = target
        self.admin = admin
        self.backends: list[psutil.Process] = []
        self.connections = 0  # the most backends seen on the target's database
        self.threads: dict[str, tuple[int, int]] = {}  # the server's, by /proc path

    def sample(self) -> CpuSample:
        parts = {role: cpu_seconds(procs) for role, procs in self.target.processes().items()}
        xacts = 0
        if self.target.database and self.admin is not None:
            pids = backend_pids(self.admin, self.target.database)
            self.connections = max(self.connections, len(pids))
            known = {p.pid for p in self.backends}
            for pid in pids - known:
                with contextlib.suppress(psutil.NoSuchProcess):
                    self.backends.append(psutil.Process(pid))
            parts["database"] = cpu_seconds(self.backends)
            xacts = committed_transactions(self.admin, self.target.database)
        server = self.target.processes().get("server", [])
        system = 0.0
        for p in server:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                system += p.cpu_times().system
        return CpuSample(
            time.perf_counter(),
            parts,
            machine_busy_seconds(),
            xacts,
            context_switches(server, self.threads),
            system,
            clients_per_worker(server, urlsplit(self.target.base).port),
        )


def clients_per_worker(server: list[psutil.Process], port: int | None) -> tuple[int, ...]:
    """How many client connections each process of the server that listens on `port`
    holds (its supervisor left out), most first: uvicorn's workers share one socket,
    and where the connections land decides each worker's load (ADR 92)."""
    held: dict[int, int] = {}
    for p in server:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            mine = [c for c in p.net_connections(kind="tcp") if c.laddr and c.laddr.port == port]
            if any(c.status == psutil.CONN_LISTEN for c in mine):
                held[p.pid] = sum(c.status == psutil.CONN_ESTABLISHED for c in mine)
    if len(held) > 1 and server and server[0].pid in held:
        del held[server[0].pid]  # the supervisor: it listens, its workers accept
    return tuple(sorted(held.values(), reverse=True))


# One phase ------------------------------------------------------------------


@dataclass
class PhaseResult:
    phase: str
    seconds: float
    count: int
    failures: int
    by_name: dict[str, dict[str, float]]
    p50: float
    p99: float
    client_cpu: float  # seconds of the load generator in the window
    cpu: dict[str, float]  # seconds per part in the window
    machine: float  # busy seconds of the machine (all cores) in the window
    transactions: int  # PostgreSQL commits in the window
    connections: int  # PostgreSQL backends of the target's database, at most
    max_position: int
    switches: tuple[int, int] = (0, 0)  # the server's context switches in the window
    server_system: float = 0.0  # the server's kernel CPU seconds in the window
    clients: tuple[int, ...] = ()  # connections each server worker held at the window's end
    runner_profile: list[tuple[str, int]] = field(default_factory=list)  # --profile only

    @property
    def rate(self) -> float:
        return self.count / self.seconds


def run_phase(
    target: Target,
    phase: str,
    args: argparse.Namespace,
    children: Children,
    admin: Admin | None,
    *,
    on_window: Callable[[subprocess.Popen[bytes]], None] | None = None,
    timings: Path | None = None,
    rate: float | None = None,
) -> PhaseResult:
    """Start the load generator, read CPU at its window's start and end, return its
    result; with `rate`, its clients paced to that many requests a second together."""
    assert target.spec is not None  # noqa: S101 - set by start_target
    argv = [
        sys.executable,
        __file__,
        "--load-generator",
        phase,
        "--url",
        target.base,
        "--spec",
        str(target.spec),
        "--clients",
        str(args.clients),
        "--warmup",
        str(args.warmup),
        "--duration",
        str(args.duration),
        *(("--timings-dir", str(timings)) if timings is not None else ()),
        *(("--rate", f"{rate:.3f}") if rate else ()),
    ]
    log = target.spec.parent / f"loadgen-{phase}.log"
    target.logs.append(log)
    meter = CpuMeter(target, admin)
    gen = children.start(argv, dict(os.environ), log, pipe=True)
    samples: list[CpuSample] = []
    result: dict[str, Any] | None = None
    try:
        assert gen.stdout is not None  # noqa: S101 - pipe=True
        for raw in gen.stdout:
            line = raw.decode().strip()
            if line in (WINDOW_START, WINDOW_END):
                samples.append(meter.sample())
                if line == WINDOW_START and on_window is not None:
                    on_window(gen)
            elif line.startswith(RESULT):
                result = json.loads(line.removeprefix(RESULT))
        gen.wait()
    finally:
        children.stop(gen)
    if result is None or len(samples) != 2 or not target.alive():
        why = (
            f"load generator exit {gen.returncode}, result {'read' if result else 'missing'}, "
            f"{len(samples)} window marks, server {'up' if target.alive() else 'exited'}"
        )
        raise RuntimeError(f"{target.label}: {phase} phase failed ({why})\n{log_tail(target)}")
    first, last = samples
    for error, n in result.get("errors", {}).items():
        print(f"  {target.label}: {phase}: {n} x {error}", flush=True)
    return PhaseResult(
        phase=phase,
        seconds=result["seconds"],
        count=result["count"],
        failures=result["failures"],
        by_name=result["by_name"],
        p50=result["p50"],
        p99=result["p99"],
        client_cpu=result["client_cpu"],
        cpu={k: last.parts.get(k, 0.0) - v for k, v in first.parts.items()},
        machine=last.machine - first.machine,
        transactions=last.xacts - first.xacts,
        connections=meter.connections,
        max_position=result["max_position"],
        switches=(
            last.switches[0] - first.switches[0],
            last.switches[1] - first.switches[1],
        ),
        server_system=last.server_system - first.server_system,
        clients=last.clients,
    )


def describe(target: Target, r: PhaseResult) -> str:
    ours = sum(r.cpu.values()) + r.client_cpu
    cores = {k: v / r.seconds for k, v in r.cpu.items()}
    parts = ", ".join(f"{k} {v:.2f}" for k, v in cores.items())
    server_ms = 1000 * r.cpu.get("server", 0.0) / max(r.count, 1)
    extra = ""
    if r.transactions:
        extra = (
            f", {r.transactions / max(r.count, 1):.1f} PG commits/req, "
            f"{r.connections} PG connections"
        )
    n = max(r.count, 1)
    extra += (
        f", server switches/req {r.switches[0] / n:.1f} + {r.switches[1] / n:.2f} forced, "
        f"of its CPU {1000 * r.server_system / n:.2f} ms/req in the kernel"
    )
    if len(r.clients) > 1:
        extra += f", clients per worker {'/'.join(map(str, r.clients))}"
    return (
        f"  {target.label:<24} {r.phase:<8} {r.rate:7.0f}/s  p50 {r.p50:6.2f} ms  "
        f"p99 {r.p99:6.2f} ms  failed {r.failures}  | cores: {parts}, "
        f"load generator {r.client_cpu / r.seconds:.2f}, "
        f"other {(r.machine - ours) / r.seconds:.2f} | server {server_ms:.2f} ms CPU/req{extra}"
    )


# Profile (py-spy) -----------------------------------------------------------

# A sample is a stack, outermost frame first, frames as "Class.function (module/file.py:line)".
# It goes to the first group below one of whose markers appears anywhere in it
# (order matters: logging inside a save counts as logging) ...
PROFILE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("logging (structlog JSON lines)", ("structlog/", "logging/__init__.py", "log_config.py")),
    ("auth (bearer token)", ("_current_principal (", "principal_registry.py")),
    ("intake: load the terms in force", ("terms_in_force (",)),
    ("load the case (read events, replay)", ("CommandRunner.load (",)),
    ("save (write events)", ("CommandRunner._save (",)),
    ("decide (domain)", ("(cases/domain/",)),
    ("read models (projections, queries)", ("(cases/projections/", "read_pool.py")),
    ("endpoint and application glue", ("(cases/api/routers/", "(cases/application/")),
    ("request body (read, pydantic)", ("request_body_to_args (", "Request.body (")),
    ("response (pydantic, JSON, send)", ("serialize_response (", "Response.__call__ (")),
    (
        "thread hand-offs (each sync dependency and the endpoint)",
        ("run_in_threadpool (", "WorkerThread.", "to_thread.py", "Queue.put ("),
    ),
    ("dependency injection (FastAPI, the rest)", ("solve_dependencies (",)),
)
# ... else to the group of its innermost frame that one of these markers names.
LEAF_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "middleware (ours, Starlette's, uvicorn's)",
        ("(cases/api/", "starlette/middleware/", "uvicorn/middleware/", "fastapi/middleware/"),
    ),
    ("routing, other framework (Starlette, FastAPI)", ("starlette/", "fastapi/")),
    ("HTTP (uvicorn, httptools)", ("uvicorn/protocols/", "httptools")),
    ("event loop (uvloop, asyncio)", ("Runner.run (", "asyncio/", "uvloop")),
    ("event store driver (stack cut short)", ("psycopg", "eventsourcing/")),
)


# The projection runner's samples, likewise (first marker found wins).
RUNNER_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("logging (structlog JSON lines)", ("structlog/", "logging/__init__.py", "log_config.py")),
    ("outbox: recipients' preferences (directory)", ("DirectoryContactBook.",)),
    (
        "outbox: the case or account (read, decode, replay)",
        (
            "OutboxProjection._case_at (",
            "OutboxProjection._customer_of (",
            "OutboxProjection._policy_text (",
        ),
    ),
    ("outbox: render and queue", ("(cases/outbox/",)),
    ("read the batch: decode events", ("ProjectionRunner.read_batch.<locals>", "decoded.py")),
    ("read the batch: select", ("ProjectionRunner.read_batch (",)),
    ("audit log: tree builder", ("(cases/followers/tree_builder.py", "(cases/audit_log/")),
    ("apply to the read models", ("ProjectionRunner.apply_batch (",)),
    ("poll: head, tracking, leadership", ("ProjectionRunner.head (", "(cases/followers/")),
)


def profile_group(
    stack: str,
    groups: tuple[tuple[str, tuple[str, ...]], ...] = PROFILE_GROUPS,
    leaves: tuple[tuple[str, tuple[str, ...]], ...] = LEAF_GROUPS,
) -> str:
    for group, markers in groups:
        if any(m in stack for m in markers):
            return group
    for frame in reversed(stack.split(";")):
        for group, markers in leaves:
            if any(m in frame for m in markers):
                return group
    return "other"


def summarise_profile(raw: Path, *, runner: bool = False) -> list[tuple[str, int]]:
    groups: Counter[str] = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            group = profile_group(stack, RUNNER_GROUPS, ()) if runner else profile_group(stack)
            groups[group] += int(count)
    return groups.most_common()


def run_profile(
    target: Target, args: argparse.Namespace, children: Children, admin: Admin | None, out_dir: Path
) -> tuple[PhaseResult, list[tuple[str, int]], Path]:
    assert target.server is not None  # noqa: S101 - started
    raw = out_dir / f"profile-{target.store}-{target.workers}-{len(list(out_dir.iterdir()))}.txt"
    # The projection runner (PostgreSQL) is sampled too, into a file of its own beside.
    runner_raw = raw.with_name(raw.stem + "-projections.txt")
    spy: list[subprocess.Popen[bytes]] = []

    def spy_on(pid: int, output: Path) -> None:
        argv = [
            tool("py-spy"),
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--gil",  # only the thread holding the GIL: where the Python CPU goes
            "--nonblocking",  # do not pause the server to sample it
            "--rate",
            "100",
            "--format",
            "raw",
            "--duration",
            str(int(args.duration)),
            "--output",
            str(output),
        ]
        spy.append(children.start(argv, dict(os.environ), output.with_suffix(".log")))

    def start_spy(_gen: subprocess.Popen[bytes]) -> None:
        spy_on(target.server.pid, raw)  # type: ignore[union-attr]
        if target.projections is not None:
            spy_on(target.projections.pid, runner_raw)

    result = run_phase(target, "commands", args, children, admin, on_window=start_spy)
    for proc in spy:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
        children.stop(proc)
    if not raw.exists():
        log = raw.with_suffix(".log").read_text(errors="replace")
        raise RuntimeError(f"py-spy wrote no profile:\n{log}")
    if runner_raw.exists():
        result.runner_profile = summarise_profile(runner_raw, runner=True)
    for sampled in (raw, runner_raw):  # a flame graph of each beside its samples
        if sampled.exists():
            draw_flame_graph(sampled, f"{target.label}, commands: {sampled.stem}")
    return result, summarise_profile(raw), raw


def draw_flame_graph(raw: Path, title: str) -> Path:
    """`raw` (py-spy's collapsed stacks) drawn as `profile_commands` draws its own,
    process roots left out, into the SVG beside it."""
    from benchmarks.profile_commands import svg_of, tree_of  # noqa: PLC0415 - only here

    stacks: Counter[tuple[str, ...]] = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = tuple(f for f in stack.split(";") if not f.startswith("process "))
            stacks[frames] += int(count)
    svg = raw.with_suffix(".svg")
    svg.write_text(svg_of(tree_of(stacks), title, rate=100))
    return svg


# Report ---------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def print_table(results: dict[str, list[dict[str, PhaseResult]]], args: argparse.Namespace) -> None:
    print()
    print(
        f"HTTP API, {args.clients} clients, {args.duration:.0f} s measured after "
        f"{args.warmup:.0f} s warm-up, median of {args.rounds} rounds"
    )
    print()
    header = (
        "| target | commands/s | p50 ms | p99 ms | queries/s | p50 ms | p99 ms "
        "| health/s | commands / health |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for label, rounds in results.items():
        c = [r["commands"] for r in rounds]
        q = [r["queries"] for r in rounds]
        h = [r["health"] for r in rounds]
        ratio = median([r["commands"].rate / r["health"].rate for r in rounds])
        print(
            f"| {label} | {median([x.rate for x in c]):,.0f} | {median([x.p50 for x in c]):.1f} "
            f"| {median([x.p99 for x in c]):.1f} | {median([x.rate for x in q]):,.0f} "
            f"| {median([x.p50 for x in q]):.1f} | {median([x.p99 for x in q]):.1f} "
            f"| {median([x.rate for x in h]):,.0f} | {ratio:.2f} |"
        )
    print()
    print("CPU milliseconds per request (medians; other = cores busy with work not ours)")
    print()
    print("| target | phase | server | projections | database | load generator | other |")
    print("|---|---|---|---|---|---|---|")
    for label, rounds in results.items():
        for phase in PHASES:
            runs = [r[phase] for r in rounds]

            def per_request(part: str, runs: list[PhaseResult] = runs) -> str:
                if part not in runs[0].cpu:
                    return "-"
                return f"{median([1000 * x.cpu[part] / max(x.count, 1) for x in runs]):.2f}"

            client = median([1000 * x.client_cpu / max(x.count, 1) for x in runs])
            other = median(
                [(x.machine - sum(x.cpu.values()) - x.client_cpu) / x.seconds for x in runs]
            )
            print(
                f"| {label} | {phase} | {per_request('server')} | {per_request('projections')} "
                f"| {per_request('database')} | {client:.2f} | {other:.2f} cores |"
            )
    print()
    print("Per request (medians): rate, p50/p99 ms")
    for label, rounds in results.items():
        for phase in ("commands", "queries"):
            names = rounds[0][phase].by_name
            for name in names:
                rate = median([r[phase].by_name[name]["count"] / r[phase].seconds for r in rounds])
                p50 = median([r[phase].by_name[name]["p50"] for r in rounds])
                p99 = median([r[phase].by_name[name]["p99"] for r in rounds])
                size = median([r[phase].by_name[name]["bytes"] for r in rounds])
                print(
                    f"  {label:<24} {name:<34} {rate:7.0f}/s  {p50:6.2f} / {p99:6.2f} ms  "
                    f"{size:6.0f} B"
                )


def print_profile(
    target: Target, result: PhaseResult, groups: list[tuple[str, int]], raw: Path
) -> None:
    total = sum(n for _, n in groups) or 1
    server_ms = 1000 * result.cpu.get("server", 0.0) / max(result.count, 1)
    print()
    print(
        f"Profile, {target.label}, commands at {result.rate:.0f}/s (under py-spy): "
        f"server CPU {server_ms:.2f} ms per command; {total} GIL samples ({raw})"
    )
    for group, n in groups:
        share = n / total
        print(f"  {group:<44} {100 * share:5.1f}%  ~{share * server_ms:5.2f} ms/command")
    if result.runner_profile:
        total = sum(n for _, n in result.runner_profile) or 1
        runner_ms = 1000 * result.cpu.get("projections", 0.0) / max(result.count, 1)
        print(f"Projection runner: CPU {runner_ms:.2f} ms per command; {total} GIL samples")
        for group, n in result.runner_profile:
            share = n / total
            print(f"  {group:<58} {100 * share:5.1f}%  ~{share * runner_ms:5.2f} ms/command")


# The load generator (its own process) ----------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


# A request as the load generator saw it: name, ms, bytes, answered, when it ended.
Sample = tuple[str, float, int, bool, float]


def write_latencies(path: Path, window: list[Sample]) -> None:
    """Each answered request's latency and when it ended, for request_timings."""
    with path.open("w") as out:
        for name, took, _, ok, at in window:
            if ok:
                out.write(json.dumps({"n": name, "rt": took, "te": at}) + "\n")


def summary(
    window: list[Sample],
    errors: Counter[str],
    seconds: float,
    usage0: os.times_result,
    usage1: os.times_result,
) -> dict[str, Any]:
    """A phase's result from the requests of its measured window."""
    ok = [s for s in window if s[3]]
    by_name: dict[str, dict[str, float]] = {}
    for name in sorted({s[0] for s in ok}):
        times = sorted(s[1] for s in ok if s[0] == name)
        sizes = [s[2] for s in ok if s[0] == name]
        by_name[name] = {
            "count": len(times),
            "p50": percentile(times, 0.5),
            "p99": percentile(times, 0.99),
            "bytes": statistics.mean(sizes),
        }
    times = sorted(s[1] for s in ok)
    return {
        "seconds": seconds,
        "count": len(ok),
        "failures": len(window) - len(ok),
        "errors": dict(errors.most_common(5)),
        "by_name": by_name,
        "p50": percentile(times, 0.5),
        "p99": percentile(times, 0.99),
        "client_cpu": (usage1.user + usage1.system) - (usage0.user + usage0.system),
    }


def generate_load(args: argparse.Namespace) -> int:
    """Run one phase with locust as a library; print the window marks and the result."""
    # locust monkey-patches the standard library with gevent on import: only
    # this process (the load generator) may import it.
    import gevent  # noqa: PLC0415
    from locust import FastHttpUser, constant, events, task  # noqa: PLC0415
    from locust.env import Environment  # noqa: PLC0415

    spec = json.loads(Path(args.spec).read_text())
    tokens: list[str] = spec["tokens"]
    case_ids: list[str] = spec["case_ids"]
    customers: list[str] = spec["customers"]
    intake_share: float = spec["intake_share"]
    keyed: bool = spec.get("idempotency_keys", False)
    matched: bool = spec.get("if_match", False)
    phase: str = args.load_generator
    rng = random.Random(1)
    position = re.compile(rb'"position":(\d+)')
    state = {"max_position": 0, "next_token": 0, "next_share": 0}
    json_headers = {"Content-Type": "application/json"}

    def random_intake() -> str:
        return json.dumps(intake_body(rng.choice(customers), rng.choice(PRODUCTS)))

    # Paced (--rate): each client starts a request every `every` seconds, on a
    # schedule staggered across the clients; a request started late (its client
    # still waiting for the one before) counts its lateness in its latency, as
    # wrk2 does, so a stall is not hidden by the requests it kept from starting.
    every = args.clients / args.rate if args.rate else 0.0

    class Client(FastHttpUser):
        wait_time = constant(0)
        concurrency = 1  # one keep-alive connection per client

        def context(self) -> dict[str, float]:
            return {"late_ms": self.late_ms}

        def pace(self) -> None:
            self.due += every
            delay = self.due - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
            self.late_ms = max(0.0, time.perf_counter() - self.due) * 1000

        def on_start(self) -> None:
            self.late_ms = 0.0
            self.due = time.perf_counter() + every * (state["next_token"] % args.clients) / (
                args.clients
            )
            token = tokens[state["next_token"] % len(tokens)]
            state["next_token"] += 1
            self.auth = {"Authorization": f"Bearer {token}"}
            self.cases = case_ids
            self.etags: dict[str, str] = {}
            if matched:  # its own share, and each case's ETag as it stands
                share = state["next_share"] % args.clients
                state["next_share"] += 1
                self.cases = case_ids[share :: args.clients] or case_ids
                for case_id in self.cases:
                    found = self.client.get(f"/cases/{case_id}", headers=self.auth, name="ETag")
                    self.etags[case_id] = str(found.headers["ETag"])

        def post(self, path: str, body: str, name: str, case_id: str | None = None) -> None:
            headers = {**self.auth, **json_headers}
            if keyed:
                headers["Idempotency-Key"] = uuid4().hex  # never a replay
            if matched and case_id is not None:
                headers["If-Match"] = self.etags[case_id]
            response = self.client.post(path, data=body, headers=headers, name=name)
            if matched and case_id is not None and response.status_code < 300:
                self.etags[case_id] = str(response.headers["ETag"])
            found = position.search(response.content or b"")
            if found:
                state["max_position"] = max(state["max_position"], int(found.group(1)))

        @task
        def one(self) -> None:
            if every:
                self.pace()
            if phase == "health":
                self.client.get("/health", name="GET /health")
            elif phase == "commands":
                roll = rng.random()
                case_id = rng.choice(self.cases)
                if roll < intake_share:
                    self.post("/cases", random_intake(), COMMANDS[2])
                elif roll < intake_share + (1 - intake_share) / 2:
                    text = json.dumps({"text": rng.choice(NOTES)})
                    self.post(f"/cases/{case_id}/notes", text, COMMANDS[0], case_id)
                else:
                    body = {
                        "direction": "outbound",
                        "channel": "email",
                        "summary": rng.choice(SUMMARIES),
                    }
                    path = f"/cases/{case_id}/communications"
                    self.post(path, json.dumps(body), COMMANDS[1], case_id)
            elif rng.random() < 0.5:
                customer, status = rng.choice(customers), rng.choice(STATUSES)
                self.client.get(
                    f"/cases?customer_id={customer}&status={status}",
                    headers=self.auth,
                    name=QUERIES[0],
                )
            else:
                self.client.get(
                    f"/cases/{rng.choice(case_ids)}", headers=self.auth, name=QUERIES[1]
                )

    samples: list[Sample] = []
    errors: Counter[str] = Counter()

    def on_request(
        name: str,
        response_time: float,
        response_length: int,
        exception: object,
        context: dict[str, float] | None = None,
        **_: object,
    ) -> None:
        late = (context or {}).get("late_ms", 0.0)  # paced: from when it was due
        ok = exception is None
        samples.append((name, response_time + late, response_length, ok, time.time()))
        if exception is not None:
            errors[f"{name}: {str(exception)[:120]}"] += 1

    env = Environment(user_classes=[Client], host=args.url, events=events)
    env.events.request.add_listener(on_request)
    runner = env.create_local_runner()
    runner.start(args.clients, spawn_rate=args.clients)
    gevent.sleep(args.warmup)
    samples.clear()
    usage0 = os.times()
    t0 = time.perf_counter()
    print(WINDOW_START, flush=True)
    gevent.sleep(args.duration)
    t1 = time.perf_counter()
    window = list(samples)
    usage1 = os.times()
    print(WINDOW_END, flush=True)
    runner.quit()
    if args.timings_dir:
        write_latencies(Path(args.timings_dir) / f"loadgen-{phase}.jsonl", window)

    result = summary(window, errors, t1 - t0, usage0, usage1)
    result["max_position"] = state["max_position"]
    print(RESULT + json.dumps(result), flush=True)
    return 0


# Main -----------------------------------------------------------------------


def benchmark(args: argparse.Namespace) -> int:
    targets = parse_targets(args.targets)
    if args.sealed:
        targets = with_sealed_twins(targets)
    results: dict[str, list[dict[str, PhaseResult]]] = {t.label: [] for t in targets}
    children = Children()
    with contextlib.ExitStack() as stack:
        stack.callback(children.stop_all)
        # The setup's own event_recorded lines are not the benchmark's output.
        configure_logging("WARNING", stack.enter_context(Path(os.devnull).open("w")))
        admin: Admin | None = None
        if any(t.store == "postgres" for t in targets):
            # One connection for the whole run: the servers may use all the others.
            admin = stack.enter_context(
                psycopg.connect(args.postgres_url, autocommit=True, connect_timeout=5)
            )
        for target in targets:
            print(f"{target.label}: setting up ({args.cases} cases) ...", flush=True)
            prepare_target(target, args, children, stack)
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds}", flush=True)
            # Each round starts one target later: no target always follows another's
            # writes (checkpoints, autovacuum and the runner catching up land on it).
            turn = r % len(targets)
            for target in targets[turn:] + targets[:turn]:
                phases = one_round(target, r, args, children, admin)
                results[target.label].append(phases)
        if args.rounds:
            print_table(results, args)
            if args.paced:
                print_paced_table(results, args)
        if args.profile:
            out_dir = Path(args.profile_dir or stack.enter_context(tempfile.TemporaryDirectory()))
            out_dir.mkdir(parents=True, exist_ok=True)
            for target in targets:
                with serving(target, children):
                    result, groups, raw = run_profile(target, args, children, admin, out_dir)
                print_profile(target, result, groups, raw)
    return 0


def one_round(
    target: Target, r: int, args: argparse.Namespace, children: Children, admin: Admin | None
) -> dict[str, PhaseResult]:
    """Every phase of round `r` against `target`, its server started for them."""
    phases: dict[str, PhaseResult] = {}
    timings = timings_folder(target, r) if args.timings else None
    with serving(target, children, timings):
        for phase in PHASES:
            result = run_phase(target, phase, args, children, admin, timings=timings)
            phases[phase] = result
            print(describe(target, result), flush=True)
            if timings is not None and phase == "commands":
                print_split(timings)
            if result.max_position:
                lag = catch_up(target, result.max_position)
                print(f"  {'':<24} projections caught up {lag:.1f} s later")
            if phase == "commands":
                phases.update(paced_phases(target, args, children, admin, result, timings=timings))
    return phases


def paced_phases(
    target: Target,
    args: argparse.Namespace,
    children: Children,
    admin: Admin | None,
    closed: PhaseResult,
    *,
    timings: Path | None,
) -> dict[str, PhaseResult]:
    """Commands phases paced at each `--paced` share of the commands/s the closed
    loop (`closed`) just reached: the latency below saturation (ADR 88)."""
    paced: dict[str, PhaseResult] = {}
    for share in args.paced:
        rate = share * closed.rate
        result = run_phase(target, "commands", args, children, admin, timings=timings, rate=rate)
        paced[paced_name(share)] = result
        print(f"  paced at {share:.2f} of {closed.rate:,.0f}/s: {describe(target, result)}")
        if args.paced_without_runner and target.projections is not None:
            runner = target.projections.pid
            os.kill(runner, signal.SIGSTOP)  # the same phase, the projection runner stopped
            try:
                alone = run_phase(target, "commands", args, children, admin, rate=rate)
            finally:
                os.kill(runner, signal.SIGCONT)
            paced[paced_name(share, runner=False)] = alone
            print(f"  the same, the runner stopped: {describe(target, alone)}")
            catch_up(target, alone.max_position)
        if timings is not None:
            print_split(timings)
            if args.timings_keep:  # the records themselves, for a closer look
                kept = Path(args.timings_keep) / f"{target.store}-{target.workers}-{share:.2f}"
                shutil.copytree(timings, kept, dirs_exist_ok=True)
        if result.max_position:
            catch_up(target, result.max_position)
    return paced


def paced_name(share: float, *, runner: bool = True) -> str:
    return f"commands at {share:.2f}" + ("" if runner else ", runner stopped")


def print_paced_table(
    results: dict[str, list[dict[str, PhaseResult]]], args: argparse.Namespace
) -> None:
    print()
    print(
        "Commands paced below saturation (open loop: each request timed from when it was "
        "due; medians of the rounds)"
    )
    print()
    print(
        "| target | share of the closed loop | offered/s | done/s | p50 ms | p99 ms | cores busy |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, rounds in results.items():
        for share, runner in itertools.product(args.paced, (True, False)):
            if paced_name(share, runner=runner) not in rounds[0]:
                continue
            runs = [r[paced_name(share, runner=runner)] for r in rounds]
            offered = median([share * r["commands"].rate for r in rounds])
            print(
                f"| {label}{'' if runner else ', runner stopped'} | {share:.2f} | {offered:,.0f} "
                f"| {median([x.rate for x in runs]):,.0f} "
                f"| {median([x.p50 for x in runs]):.1f} | {median([x.p99 for x in runs]):.1f} "
                f"| {median([x.machine / x.seconds for x in runs]):.2f} |"
            )


def timings_folder(target: Target, round_index: int) -> Path:
    assert target.spec is not None  # noqa: S101 - prepared
    return target.spec.parent / f"timings-{round_index + 1}"


def print_split(folder: Path) -> None:
    time.sleep(request_timings.SETTLE_SECONDS)
    split = request_timings.split(folder)
    print(f"  {'':<24} where a command's ms went, p50 / p90 / p99 (--timings):")
    for line in split.lines():
        print(f"  {'':<26}{line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds/phase")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (medians quoted)")
    parser.add_argument("--cases", type=int, default=400, help="pre-created cases")
    parser.add_argument("--customers", type=int, default=20, help="customers they belong to")
    parser.add_argument("--intake-share", type=float, default=0.1, help="of commands: POST /cases")
    parser.add_argument(
        "--idempotency-keys", action="store_true", help="send an Idempotency-Key with each command"
    )
    parser.add_argument(
        "--if-match",
        action="store_true",
        help="each client works its own cases and sends If-Match with each command on one",
    )
    parser.add_argument(
        "--targets",
        default="sqlite,postgres:1,postgres:2",
        help="stores and worker counts, e.g. sqlite,postgres:2 (postgres:2@NAME=VALUE: "
        "that environment variable set for the server)",
    )
    parser.add_argument(
        "--sealed",
        action="store_true",
        help="run each target also with a master key set (sealed personal fields), in turn",
    )
    parser.add_argument("--postgres-url", default=ADMIN_URL, help="admin URL of the server")
    parser.add_argument("--profile", action="store_true", help="py-spy one commands phase")
    parser.add_argument("--profile-dir", help="keep the raw py-spy profiles here")
    parser.add_argument(
        "--timings",
        action="store_true",
        help="time each command inside the server and print where its latency went",
    )
    parser.add_argument(
        "--paced",
        type=lambda text: [float(x) for x in text.split(",")],
        default=[],
        help="after each commands phase, run it again paced at these shares of its rate "
        "(say 0.5,0.7,0.85): open loop, each request timed from when it was due",
    )
    parser.add_argument(
        "--paced-without-runner",
        action="store_true",
        help="with --paced: run each paced phase again with the projection runner stopped "
        "(SIGSTOP; PostgreSQL), to see what its batches do to the tail",
    )
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument(
        "--timings-keep", help="with --timings and --paced: copy each paced phase's records here"
    )
    parser.add_argument("--timings-dir", help=argparse.SUPPRESS)
    parser.add_argument("--load-generator", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_generator:
        return generate_load(args)
    return run_interruptibly(lambda: benchmark(args))


if __name__ == "__main__":
    sys.exit(main())
