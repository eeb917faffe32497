"""Fault injection: clients retry every command until it has a definite answer while
API workers, the whole server, the projection runner and the database are killed.

Run from the repository root (PostgreSQL at CASES_BENCH_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/postgres):

    .venv/bin/python -m benchmarks.chaos [--duration 180] [--clients 8] [--fault-every 17]

In a throwaway PostgreSQL database (migrated; dropped on the way out), the script
records the terms and one helpdesk-agent principal per client, then starts
`cases serve --workers 2` and `cases projections run` beside it. For --duration
seconds, --clients threads each loop over commands, each POST with its own
Idempotency-Key: an intake (`POST /cases`, a customer id of its own, so a lost or
second case is countable), a note with a text of its own on one of the client's
own cases, or a communication with a summary of its own. A command is sent again
with the same key and body until it gets a definite answer (2xx, or a 4xx
refusal): after a 503 or another 5xx (waiting as Retry-After says, at most 5 s)
and after a transport error, such as a connection reset by a killed worker, or no
answer within --answer-timeout. A command without a definite answer after
--give-up seconds is counted unresolved.

Every --fault-every seconds one fault, in turn:

* worker:   SIGKILL one API worker; uvicorn's supervisor starts another.
* server:   SIGKILL the server (its master and workers), start it again.
* runner:   SIGKILL `cases projections run`, start it again.
* database: refuse connections to the database and end its sessions
  (`ALTER DATABASE ... ALLOW_CONNECTIONS false`, `pg_terminate_backend`) for 5-8 s;
  the PostgreSQL server itself keeps running, for everyone else.
* at-commit: SIGKILL the server, start it with CASES_FAULT_POINT=after-commit so
  that the first command a worker commits kills it before it answers, then start
  it again without.

Then the faults stop, the clients finish the command they are on, and the store
is checked: for each intake one case of its customer (none when acknowledged:
lost; two or more, acknowledged or not: duplicated), that an acknowledged intake
answered that case's id, one note or communication for each with its text. With
the runner caught up and stopped, each read model is compared with a rebuild of
it from the log (--no-rebuild-check skips that). The script prints the faults
(when each was lifted and when the service was back), the answers (5xx by
status and problem type, transport errors, the slowest answer during a fault, the
slowest 503 against --bound) and the targets: 0 lost, 0 duplicated, 0 status
500, no refusal and nothing unresolved, every 503 within --bound seconds (the
bound the outage tests hold a 503 to), read models equal to a rebuild. It exits 1
when one is missed.

Every process it starts is stopped and the database dropped on the way out: also
on error, Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from benchmarks._harness import (
    ADMIN_URL,
    NOTES,
    PRODUCTS,
    SUMMARIES,
    Children,
    free_port,
    intake_body,
    run_interruptibly,
    seed_store,
    start_projections,
    start_server,
    throwaway_database,
    wait_until,
)
from eventsourcing.persistence import PersistenceError
from eventsourcing.utils import get_topic

from cases.bootstrap import bootstrap
from cases.db.database import CONNECTION_ERRORS, ProjectionDatabase
from cases.db.schema import migrate
from cases.domain.support_case import SupportCase
from cases.followers.catalog import PROJECTIONS, projection_named
from cases.followers.rebuild import rebuild
from cases.followers.tracking import Tracking
from cases.log_config import configure_logging
from cases.persistence.database_url import parse_database_url
from cases.persistence.event_log import EventLog
from cases.persistence.recorders import RETRY_WAIT
from cases.persistence.store import StoreOptions
from cases.settings import Settings
from tests.support.postgres import database_down
from tests.support.projection_tables import projection_rows
from tests.support.server import worker_pids

FAULTS = ("worker", "server", "runner", "database", "at-commit")
MAX_RETRY_WAIT = 5.0  # seconds: Retry-After honoured up to this
TRANSPORT_RETRY_WAIT = 0.2
# ADR 0019: CASES_API_STORE_ATTEMPTS x CASES_API_STORE_TIMEOUT and the pauses between
_API_STORE = StoreOptions.for_api(Settings())
STORE_BUDGET = (
    _API_STORE.attempts * _API_STORE.pool_timeout + (_API_STORE.attempts - 1) * RETRY_WAIT
)
STORE_ERRORS: tuple[type[Exception], ...] = (*CONNECTION_ERRORS, PersistenceError)
BACK_TIMEOUT = 60.0  # seconds a restarted part may take to be back


# The clients ----------------------------------------------------------------


@dataclass
class Attempt:
    op: int
    start: float
    end: float
    status: int  # 0: no HTTP answer (see error)
    error: str  # the problem type of a 4xx/5xx, or the transport error


@dataclass
class Op:
    id: int
    kind: str  # intake, note, communication
    path: str
    body: dict[str, Any]
    mark: str  # what makes it countable in the log: customer id, note text, summary
    case_id: str = ""  # of a note or communication
    key: str = field(default_factory=lambda: f"chaos-{uuid4()}")
    outcome: str = "pending"  # acknowledged, refused, unresolved
    status: int = 0
    answer: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0


@dataclass
class Record:
    """What the clients did: every operation and every attempt (appended by many threads)."""

    ops: list[Op] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=itertools.count)


def next_op(record: Record, client: int, own_cases: list[str], rng: random.Random) -> Op:
    n = next(record.ids)
    roll = rng.random()
    tag = f"{client}-{n}-{uuid4().hex[:8]}"
    if not own_cases or roll < 0.3:
        customer = f"chaos-{tag}"
        body = intake_body(customer, rng.choice(PRODUCTS))
        return Op(n, "intake", "/cases", body, customer)
    case_id = rng.choice(own_cases)
    if roll < 0.65:
        text = f"{rng.choice(NOTES)} [{tag}]"
        return Op(n, "note", f"/cases/{case_id}/notes", {"text": text}, text, case_id)
    summary = f"{rng.choice(SUMMARIES)} [{tag}]"
    body = {"direction": "outbound", "channel": "email", "summary": summary}
    return Op(n, "communication", f"/cases/{case_id}/communications", body, summary, case_id)


def problem_type(response: httpx.Response) -> str:
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return str(response.headers.get("content-type", ""))
    with contextlib.suppress(ValueError):
        return str(response.json().get("type", "")).removeprefix("/problems/")
    return "unreadable problem"


def retry_wait(response: httpx.Response) -> float:
    try:
        return min(float(response.headers.get("Retry-After", "1")), MAX_RETRY_WAIT)
    except ValueError:
        return 1.0


def run_op(http: httpx.Client, op: Op, record: Record, give_up: float) -> None:
    """Send until a definite answer (2xx or a 4xx refusal) or `give_up` seconds."""
    deadline = time.monotonic() + give_up
    while True:
        op.attempts += 1
        start = time.monotonic()
        try:
            response = http.post(op.path, json=op.body, headers={"Idempotency-Key": op.key})
        except httpx.TimeoutException as e:
            record.attempts.append(Attempt(op.id, start, time.monotonic(), 0, type(e).__name__))
            wait = TRANSPORT_RETRY_WAIT
        except httpx.TransportError as e:
            record.attempts.append(Attempt(op.id, start, time.monotonic(), 0, type(e).__name__))
            wait = TRANSPORT_RETRY_WAIT
        else:
            end = time.monotonic()
            status = response.status_code
            error = "" if response.is_success else problem_type(response)
            record.attempts.append(Attempt(op.id, start, end, status, error))
            op.status = status
            if response.is_success:
                op.outcome, op.answer = "acknowledged", response.json()
                return
            if 400 <= status < 500 and status not in (408, 425, 429):
                op.outcome = "refused"
                return
            wait = retry_wait(response)
        if time.monotonic() + wait > deadline:
            op.outcome = "unresolved"
            return
        time.sleep(wait)


def client_loop(
    client: int,
    base: str,
    token: str,
    *,
    args: argparse.Namespace,
    record: Record,
    stop: threading.Event,
) -> None:
    rng = random.Random(args.seed * 1000 + client)
    own_cases: list[str] = []
    timeout = httpx.Timeout(args.answer_timeout, connect=5.0)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=timeout) as http:
        while not stop.is_set():
            op = next_op(record, client, own_cases, rng)
            record.ops.append(op)
            run_op(http, op, record, args.give_up)
            if op.kind == "intake" and op.outcome == "acknowledged":
                own_cases.append(str(op.answer["id"]))
            if args.think:
                time.sleep(args.think)


# The deployment and its faults -------------------------------------------------


@dataclass
class Fault:
    kind: str
    start: float
    lifted: float = 0.0  # the moment the fault ended (restart issued, database allowed)
    back: float = 0.0  # the part was back: worker respawned, server healthy, runner caught up
    note: str = ""


@dataclass
class Deployment:
    url: str
    database: str
    workers: int
    admin_url: str
    logs: Path
    children: Children
    env: dict[str, str]
    log: EventLog
    port: int = field(default_factory=free_port)
    server: subprocess.Popen[bytes] | None = None
    runner: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_server(self, **extra: str) -> None:
        log = self.logs / "server.log"
        self.server = start_server(
            self.children, {**self.env, **extra}, log, self.port, self.workers
        )

    def start_runner(self) -> None:
        self.runner = start_projections(self.children, self.env, self.logs / "projections.log")

    def kill(self, proc: subprocess.Popen[bytes] | None) -> None:
        """SIGKILL the process and its group (a server's workers with it), no clean-up."""
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        self.children.stop(proc)

    def worker_pids(self) -> set[int]:
        """The server's worker processes (spawned by multiprocessing), from /proc."""
        return set() if self.server is None else worker_pids(self.server.pid)

    def projections(self) -> tuple[int, int] | None:
        """(the lowest projection position, the log head), read from the database."""
        db = ProjectionDatabase(parse_database_url(self.url), connect_timeout=5)
        try:
            positions = {row.projection: row.position for row in Tracking(db).all()}
            head = self.log.head()
        except STORE_ERRORS:
            return None
        finally:
            db.close()
        return min(positions.get(name, 0) for name in PROJECTIONS), head

    def caught_up(self, timeout: float = BACK_TIMEOUT) -> float:
        """Wait until every read model holds the head of the log as it is now."""
        seen: list[int] = []  # the head, once read

        def there() -> bool:
            now = self.projections()
            if now is not None and not seen:
                seen.append(now[1])
            return now is not None and now[0] >= seen[0]

        return wait_until(there, "projections catching up", timeout, lambda: True)


def inject(
    kind: str, deployed: Deployment, rng: random.Random, outage: tuple[float, float]
) -> Fault:
    """Cause the fault, end it, and wait until the part is back."""
    fault = Fault(kind, time.monotonic())
    if kind == "worker":
        before = deployed.worker_pids()
        victim = rng.choice(sorted(before))
        os.kill(victim, signal.SIGKILL)
        fault.lifted = time.monotonic()
        try:
            wait_until(
                lambda: len(deployed.worker_pids() - {victim}) >= deployed.workers,
                "a worker respawned",
                BACK_TIMEOUT,
                lambda: deployed.server is not None and deployed.server.poll() is None,
            )
            fault.note = f"worker {victim} killed, respawned by uvicorn"
        except RuntimeError as e:
            fault.note = f"worker {victim} killed, not respawned ({e}): server restarted"
            deployed.kill(deployed.server)
            deployed.start_server()
    elif kind == "server":
        deployed.kill(deployed.server)
        fault.lifted = time.monotonic()
        deployed.start_server()
    elif kind == "at-commit":
        deployed.kill(deployed.server)
        deployed.start_server(CASES_FAULT_POINT="after-commit")
        armed = deployed.worker_pids()
        try:
            wait_until(
                lambda: bool(armed - deployed.worker_pids()),
                "a worker killed at its fault point",
                BACK_TIMEOUT,
                lambda: True,
            )
            fault.note = "a worker died between a commit and its answer"
        except RuntimeError:
            fault.note = "the fault point was not reached"
        deployed.kill(deployed.server)
        fault.lifted = time.monotonic()
        deployed.start_server()
    elif kind == "runner":
        deployed.kill(deployed.runner)
        fault.lifted = time.monotonic()
        deployed.start_runner()
        deployed.caught_up()
    elif kind == "database":
        seconds = rng.uniform(*outage)
        with database_down(deployed.url, deployed.admin_url):
            time.sleep(seconds)
        fault.lifted = time.monotonic()
        fault.note = f"database away {seconds:.1f} s"
    fault.back = time.monotonic()
    return fault


# Checking the store -------------------------------------------------------------


@dataclass
class Recorded:
    """What the log holds of the clients' commands."""

    cases_of: dict[str, list[str]]  # customer id -> case ids
    notes: Counter[tuple[str, str]]  # (case id, text)
    communications: Counter[tuple[str, str]]  # (case id, summary)


def read_log(log: EventLog) -> Recorded:
    head = log.head()
    topics = [
        get_topic(c)
        for c in (SupportCase.Received, SupportCase.NoteAdded, SupportCase.CommunicationRecorded)
    ]
    found = Recorded({}, Counter(), Counter())
    for n in log.recorder.select_notifications(start=1, limit=head + 1, stop=head, topics=topics):
        event = log.mapper.to_domain_event(n)
        case_id = str(event.originator_id)
        if isinstance(event, SupportCase.Received):
            found.cases_of.setdefault(event.customer_id, []).append(case_id)
        elif isinstance(event, SupportCase.NoteAdded):
            found.notes[case_id, event.text] += 1
        elif isinstance(event, SupportCase.CommunicationRecorded):
            found.communications[case_id, event.summary] += 1
    return found


def times_recorded(op: Op, found: Recorded) -> int:
    if op.kind == "intake":
        return len(found.cases_of.get(op.mark, []))
    if op.kind == "note":
        return found.notes[op.case_id, op.mark]
    return found.communications[op.case_id, op.mark]


def compare_with_rebuilds(log: EventLog, url: str) -> dict[str, bool]:
    """Each read model (runner stopped, caught up) against a rebuild from the log."""
    db = ProjectionDatabase(parse_database_url(url))
    try:
        equal = {}
        for name in sorted(PROJECTIONS):
            live = projection_rows(db, projection_named(name))
            rebuild(log, projection_named(name), db)
            equal[name] = projection_rows(db, projection_named(name)) == live
        return equal
    finally:
        db.close()


# Report -----------------------------------------------------------------------


def seconds(value: float) -> str:
    return f"{value:.2f} s"


def recovered_at(fault: Fault, record: Record) -> float:
    """The first acknowledgement (2xx) of a command sent after the fault was lifted."""
    after = [a.end for a in record.attempts if a.start >= fault.lifted and 200 <= a.status < 300]
    return min(after, default=float("nan"))


def report(
    args: argparse.Namespace,
    *,
    record: Record,
    faults: list[Fault],
    found: Recorded,
    rebuilt: dict[str, bool],
    t0: float,
) -> bool:
    ops = record.ops
    by_id = {op.id: op for op in ops}
    acked = {op.id for op in ops if op.outcome == "acknowledged"}
    counts = {op.id: times_recorded(op, found) for op in ops}
    lost = [op for op in ops if op.id in acked and counts[op.id] == 0]
    duplicated = [op for op in ops if counts[op.id] > 1]
    refused = [op for op in ops if op.outcome == "refused"]
    refused_recorded = [op for op in refused if counts[op.id] > 0]
    unresolved = [op for op in ops if op.outcome == "unresolved"]
    wrong_case = [
        op
        for op in ops
        if op.kind == "intake"
        and op.id in acked
        and str(op.answer.get("id")) not in found.cases_of.get(op.mark, [])
    ]
    attempts = record.attempts
    fives = Counter(f"{a.status} {a.error}" for a in attempts if a.status >= 500)
    transport = Counter(a.error for a in attempts if a.status == 0)
    status_500 = sum(1 for a in attempts if a.status == 500)
    over_bound = [a for a in attempts if a.status == 503 and a.end - a.start > args.bound]
    slowest_503 = max((a.end - a.start for a in attempts if a.status == 503), default=0.0)
    over_budget = sum(1 for a in attempts if a.status == 503 and a.end - a.start > STORE_BUDGET)

    print()
    print(f"Faults (every {args.fault_every:.0f} s; seconds after the run started)")
    print()
    print(
        "| at | fault | lifted after | first ack after lift | part back after lift "
        "| slowest answer | other answers while it lasted | note |"
    )
    print("|---:|---|---:|---:|---:|---:|---|---|")
    windows = []
    for fault in faults:
        recovered = recovered_at(fault, record)
        windows.append((fault.start, fault.back if math.isnan(recovered) else recovered))
        during = Counter(
            str(a.status or a.error)
            for a in attempts
            if fault.start <= a.start <= windows[-1][1] and not 200 <= a.status < 300
        )
        start, stop = windows[-1]
        answered = [
            a.end - a.start for a in attempts if a.status and start <= a.end and a.start <= stop
        ]
        print(
            f"| {fault.start - t0:.0f} | {fault.kind} | {seconds(fault.lifted - fault.start)} "
            f"| {seconds(recovered - fault.lifted)} | {seconds(fault.back - fault.lifted)} "
            f"| {seconds(max(answered, default=0.0))} "
            f"| {', '.join(f'{k} x{v}' for k, v in during.most_common()) or 'all 2xx'} "
            f"| {fault.note} |"
        )
    during_faults = [
        a for a in attempts if a.status and any(s <= a.end and a.start <= e for s, e in windows)
    ]
    slowest = max(during_faults, key=lambda a: a.end - a.start, default=None)
    slowest_text = "-"
    if slowest is not None:
        fault = max((f for f in faults if f.start <= slowest.end), key=lambda f: f.start)
        slowest_text = (
            f"{seconds(slowest.end - slowest.start)} (status {slowest.status}, "
            f"{by_id[slowest.op].kind} sent {slowest.start - fault.start:.1f} s "
            f"into the {fault.kind} fault at {fault.start - t0:.0f} s)"
        )
    no_answer = sum(1 for a in attempts if a.error in ("ReadTimeout", "WriteTimeout"))

    kinds = Counter(by_id[i].kind for i in acked)
    rows = [
        ("commands", f"{len(ops)} ({len(attempts)} attempts)", ""),
        (
            "acknowledged",
            f"{len(acked)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})",
            "",
        ),
        ("lost (acknowledged, not in the log)", str(len(lost)), "0"),
        (
            "duplicated (in the log twice or more)",
            f"{len(duplicated)} ({sum(1 for op in duplicated if op.id in acked)} acknowledged)",
            "0",
        ),
        ("intake answered with another case's id", str(len(wrong_case)), "0"),
        ("refused (4xx)", str(len(refused)), "0"),
        ("refused, yet recorded", str(len(refused_recorded)), "0"),
        ("unresolved (no definite answer)", str(len(unresolved)), "0"),
        ("5xx answers by status", ", ".join(f"{k} x{v}" for k, v in sorted(fives.items())), ""),
        ("status 500", str(status_500), "0"),
        ("transport errors", ", ".join(f"{k} x{v}" for k, v in sorted(transport.items())), ""),
        (f"no answer within {args.answer_timeout:.0f} s", str(no_answer), ""),
        (
            "slowest answer during a fault",
            slowest_text,
            "",
        ),
        ("slowest 503", seconds(slowest_503), f"<= {args.bound:.1f} s"),
        (f"503 slower than {args.bound:.1f} s", str(len(over_bound)), "0"),
        (f"503 slower than the store budget {STORE_BUDGET:.1f} s", str(over_budget), ""),
    ]
    if rebuilt:
        same = [n for n, ok in rebuilt.items() if ok]
        differ = [n for n, ok in rebuilt.items() if not ok]
        rows.append(
            (
                "read models equal to a rebuild",
                f"{len(same)} of {len(rebuilt)}"
                + (f" (differ: {', '.join(differ)})" if differ else ""),
                "all",
            )
        )
    print()
    print("| measure | value | target |")
    print("|---|---:|---:|")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")
    for label, bad in (
        ("lost", lost),
        ("duplicated", duplicated),
        ("refused", refused),
        ("unresolved", unresolved),
        ("answered another case", wrong_case),
    ):
        for op in bad[:5]:
            print(
                f"  {label}: {op.kind} {op.path} key {op.key} mark {op.mark!r}: {op.outcome} "
                f"{op.status} after {op.attempts} attempts, recorded {counts[op.id]}x"
            )
    return not (
        lost
        or duplicated
        or wrong_case
        or refused
        or unresolved
        or status_500
        or over_bound
        or not all(rebuilt.values())
    )


# Main -----------------------------------------------------------------------


def chaos(args: argparse.Namespace) -> int:
    children = Children()
    record = Record()
    faults: list[Fault] = []
    stop = threading.Event()
    rng = random.Random(args.seed)
    with contextlib.ExitStack() as stack:
        stack.callback(children.stop_all)
        configure_logging("WARNING", stack.enter_context(Path(os.devnull).open("w")))
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cases-chaos-")))
        logs = Path(args.log_dir) if args.log_dir else tmp
        logs.mkdir(parents=True, exist_ok=True)
        url, name = stack.enter_context(throwaway_database(args.postgres_url, "cases_chaos"))
        stack.callback(children.stop_all)  # processes stop before their database goes
        migrate(parse_database_url(url))
        tokens = seed_store(url, tmp, 0, 1, args.clients).tokens
        env = {**os.environ, "CASES_DATABASE_URL": url, "CASES_LOG_LEVEL": "INFO"}
        env.pop("CASES_FAULT_POINT", None)
        log = bootstrap(Settings(database_url=url, data_dir=tmp)).log
        stack.callback(log.close)
        deployed = Deployment(url, name, args.workers, args.postgres_url, logs, children, env, log)
        deployed.start_runner()
        deployed.start_server()
        print(f"serving {deployed.base} on {name}; logs in {logs}", flush=True)

        threads = [
            threading.Thread(
                target=client_loop,
                args=(i, deployed.base, tokens[i]),
                kwargs={"args": args, "record": record, "stop": stop},
                name=f"client-{i}",
                daemon=True,
            )
            for i in range(args.clients)
        ]
        t0 = time.monotonic()
        end = t0 + args.duration
        stack.callback(stop.set)
        for thread in threads:
            thread.start()
        due = t0 + args.fault_every
        for n in itertools.count():
            if due >= end:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            kind = FAULTS[n % len(FAULTS)]
            fault = inject(kind, deployed, rng, (args.outage_min, args.outage_max))
            faults.append(fault)
            acked = sum(1 for op in record.ops if op.outcome == "acknowledged")
            print(
                f"{fault.start - t0:6.1f} s  {kind:<9} back in {fault.back - fault.start:5.1f} s"
                f"  {fault.note}  ({acked} acknowledged so far)",
                flush=True,
            )
            # the next one a --fault-every after this one began, and a --quiet after it ended
            due = max(fault.start + args.fault_every, fault.back + args.quiet)
        time.sleep(max(0.0, end - time.monotonic()))
        stop.set()
        for thread in threads:
            thread.join(args.give_up + args.answer_timeout + 10)
        print("clients stopped; waiting for the read models", flush=True)
        deployed.caught_up(timeout=300)
        for proc in (deployed.server, deployed.runner):
            if proc is not None:
                children.stop(proc)
        found = read_log(log)
        rebuilt = {} if args.no_rebuild_check else compare_with_rebuilds(log, url)
        met = report(args, record=record, faults=faults, found=found, rebuilt=rebuilt, t0=t0)
        print()
        print("targets met" if met else "TARGET MISSED", flush=True)
    return 0 if met else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load and faults")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    parser.add_argument("--fault-every", type=float, default=17.0, help="seconds between faults")
    parser.add_argument("--quiet", type=float, default=5.0, help="seconds between two faults")
    parser.add_argument("--outage-min", type=float, default=5.0, help="database away, at least")
    parser.add_argument("--outage-max", type=float, default=8.0, help="database away, at most")
    parser.add_argument("--think", type=float, default=0.02, help="seconds between commands")
    parser.add_argument("--give-up", type=float, default=120.0, help="seconds to a definite answer")
    parser.add_argument("--answer-timeout", type=float, default=30.0, help="seconds per attempt")
    parser.add_argument("--bound", type=float, default=6.0, help="seconds a 503 may take")
    parser.add_argument("--seed", type=int, default=1, help="random choices")
    parser.add_argument("--no-rebuild-check", action="store_true", help="skip the rebuilds")
    parser.add_argument("--log-dir", help="keep the server's and runner's logs here")
    parser.add_argument("--postgres-url", default=ADMIN_URL, help="admin URL of the server")
    args = parser.parse_args()
    return run_interruptibly(lambda: chaos(args))


if __name__ == "__main__":
    sys.exit(main())
