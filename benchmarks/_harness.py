"""What the benchmarks that drive a real `cases serve` share: a throwaway
PostgreSQL database, a seeded store (terms, principals, cases), and the processes
they start (`cases serve`, `cases projections run`), each stopped on the way out.

Imported by `benchmarks/api_load.py` and `benchmarks/chaos.py`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import IO
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID, uuid4

import psycopg
from psycopg import sql

from cases.application.caller import Caller
from cases.application.support_desk import SupportDesk
from cases.bootstrap import bootstrap
from cases.clock import ManualClock
from cases.domain import case_commands as cmd
from cases.domain.case_values import CaseCategory, Contact
from cases.domain.metadata import Actor, Role, Source
from cases.domain.support_case import SupportCase
from cases.domain.support_terms import Channel, Severity, SupportTerms
from cases.scenario.support import partner_terms
from cases.settings import Settings
from tests.support import children

ADMIN_URL = os.environ.get(
    "CASES_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SETUP = Actor("bench-setup", Role.SYSTEM)


# Realistic data -------------------------------------------------------------


def support_terms() -> SupportTerms:
    """The demo partner's terms: the load needs realistic hours and targets."""
    return partner_terms("Microsoft")


def take_in(
    desk: SupportDesk, caller: Caller, customer_id: str, product: str, received_at: datetime
) -> UUID:
    """One of the cases a load benchmark seeds its store with; its id."""
    return desk.receive_case(
        caller,
        cmd.TakeIn(
            customer_id=customer_id,
            contact=Contact("Karin Lund", email="karin.lund@contoso.example"),
            channel=Channel.PHONE,
            product=product,
            category=CaseCategory.TECHNICAL,
            severity=Severity.MODERATE,
            title="Mail to external recipients is delayed",
            description="Since 07:30 outbound mail queues for up to an hour.",
            received_at=received_at,
        ),
    ).aggregate_id


PRODUCTS = ("Exchange Online", "Microsoft Teams", "SharePoint Online", "Entra ID")
NOTES = (
    "Checked the message trace: outbound mail waits in the queue for about 40 minutes.",
    "Customer confirms the connector certificate was renewed yesterday afternoon.",
    "Asked for a screenshot of the error shown when joining the meeting.",
    "Reproduced with a test account; the policy assignment has not propagated yet.",
)
SUMMARIES = (
    "Emailed the customer the workaround and asked them to confirm by tomorrow.",
    "Called the contact back; left a voicemail with the case number.",
    "Sent the customer the steps to re-register the device and reset the token.",
)


def intake_body(customer_id: str, product: str) -> dict[str, object]:
    """The JSON body of `POST /cases` for a customer's case about `product`."""
    return {
        "customer_id": customer_id,
        "contact": {"name": "Karin Lund", "email": "karin.lund@contoso.example"},
        "channel": "phone",
        "product": product,
        "category": "technical",
        "severity": "moderate",
        "title": "Mail to external recipients is delayed",
        "description": "Since 07:30 outbound mail queues for up to an hour.",
    }


def customer_names(n: int) -> list[str]:
    base = ("contoso", "fabrikam", "northwind", "adatum", "litware", "tailspin", "woodgrove")
    return [f"{base[i % len(base)]}-{i // len(base) + 1}" for i in range(n)]


@dataclass
class Seed:
    """What the load generator needs to know about the store."""

    tokens: list[str]
    case_ids: list[str]
    customers: list[str]
    position: int  # the log position the setup reached


def seed_store(
    url: str,
    data_dir: Path,
    n_cases: int,
    n_customers: int,
    n_clients: int,
    *,
    master_key: str | None = None,
) -> Seed:
    """Terms, one principal per client, and the pool of cases, recorded in-process.

    A manual clock an hour behind lets the terms take effect before the first
    case (terms cannot be retroactive) and the server's own intakes come later.
    With `master_key` personal fields are sealed (ADR 0044), as the server given
    the same key seals its own.
    """
    clock = ManualClock(datetime.now(UTC) - timedelta(hours=1))
    settings = Settings(database_url=url, data_dir=data_dir, master_key=master_key)  # type: ignore[arg-type]
    services = bootstrap(settings, clock)
    try:
        setup = Caller.new(SETUP, Source.CLI)
        services.desk.publish_terms(setup, support_terms(), effective_from=clock.now())
        tokens = [
            services.principals.create(
                setup, name=f"Load client {i + 1}", role=Role.HELPDESK_AGENT
            ).token
            for i in range(n_clients)
        ]
        agent = Caller.new(Actor("agent-anna", Role.HELPDESK_AGENT), Source.API)
        customers = customer_names(n_customers)
        case_ids: list[UUID] = []
        for i in range(n_cases):
            at = clock.advance(timedelta(seconds=1))
            product = PRODUCTS[i % len(PRODUCTS)]
            case_ids.append(
                take_in(services.desk, agent, customers[i % len(customers)], product, at)
            )
        position = 0
        for i, case_id in enumerate(case_ids):
            case = services.runner.load(SupportCase, case_id)
            for _ in range(i % settings.snapshot_interval):
                at = clock.advance(timedelta(milliseconds=100))
                case.add_note(agent.context(at), cmd.AddNote(NOTES[case.version % len(NOTES)]))
            for recording in services.log.save(case):
                position = max(position, recording.notification.id)
        return Seed(tokens, [str(c) for c in case_ids], customers, position)
    finally:
        services.close()


# Processes ------------------------------------------------------------------


class Children:
    """Processes this script started, each in its own session (so a process group).

    `stop_all` sends SIGTERM to each group (uvicorn's workers with their master),
    waits, then SIGKILLs whatever is left: called on every way out. Started through
    tests/support/children.py, so they are also killed if this script is killed
    (SIGKILL included: its watchdog).
    """

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, argv: list[str], env: dict[str, str], log: Path | None, *, pipe: bool = False
    ) -> subprocess.Popen[bytes]:
        out: IO[bytes] | int = subprocess.DEVNULL
        if log is not None:
            out = log.open("ab")
        try:
            proc = children.spawn(
                argv,
                env=env,
                stdout=subprocess.PIPE if pipe else out,
                stderr=out if pipe else subprocess.STDOUT,
            )
        finally:
            if not isinstance(out, int):
                out.close()
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
        children.stop(proc, timeout)  # SIGTERM the group, SIGKILL it and stragglers
        if proc.stdout is not None:
            proc.stdout.close()
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs)):
            self.stop(proc)


def tool(name: str) -> str:
    """A console script of this venv (`cases`, `py-spy`), else from PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"error: {name} is not installed (.venv/bin/pip install {name})")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http_get(url: str, token: str | None = None, timeout: float = 10.0) -> int:
    request = urllib.request.Request(url)  # noqa: S310 - http://127.0.0.1 only
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read()
            status: int = response.status
            return status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return 0


def wait_until(
    check: Callable[[], bool], what: str, timeout: float, alive: Callable[[], bool]
) -> float:
    start = time.monotonic()
    while not check():
        if not alive():
            raise RuntimeError(f"{what}: a process it needs has exited")
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - start


# Throwaway PostgreSQL database ----------------------------------------------


@contextlib.contextmanager
def throwaway_database(admin_url: str, prefix: str = "cases_api_load") -> Iterator[tuple[str, str]]:
    name = f"{prefix}_{uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}")), name
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


# Serving --------------------------------------------------------------------


def start_projections(
    children: Children, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """`cases projections run` (every read model) in its own process group; without
    the audit log's tree builder if the target sets CASES_BENCH_NO_AUDIT_LOG=1, and
    with the options CASES_BENCH_RUNNER_ARGS holds (say `--poll-interval=0.05`)."""
    argv = [tool("cases"), "projections", "run"]
    if env.get("CASES_BENCH_NO_AUDIT_LOG") == "1":
        argv.append("--no-audit-log")
    argv += env.get("CASES_BENCH_RUNNER_ARGS", "").split()
    return children.start(argv, env, log)


BENCH_SERVER = "CASES_BENCH_SERVER"  # uvicorn (`cases serve`, the default) or granian


def start_server(
    children: Children, env: dict[str, str], log: Path, port: int, workers: int
) -> subprocess.Popen[bytes]:
    """`cases serve --workers N` on 127.0.0.1:`port`; returns once /health answers.

    With `CASES_BENCH_SERVER=granian` in `env`, the same app under granian (its
    workers, uvloop) instead of uvicorn, for the ASGI server comparison (issue 20);
    the workers' metrics directory is then made here, as `serve` makes it."""
    argv = [tool("cases"), "serve", "--port", str(port), "--workers", str(workers)]
    if env.get(BENCH_SERVER) == "granian":
        argv = [
            *(tool("granian"), "--interface", "asgi", "--factory", "--loop", "uvloop"),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
            *("--log-level", "warning", "cases.api.app:serve_app"),
        ]
        metrics = log.parent / f"metrics-{port}"
        metrics.mkdir(exist_ok=True)
        env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    server = children.start(argv, env, log)
    health = f"http://127.0.0.1:{port}/health"
    wait_until(lambda: http_get(health) == 200, "server start", 60, lambda: server.poll() is None)
    return server


# Interrupts -----------------------------------------------------------------


def _raise_interrupt(_signal: int, _frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the clean-up finish
    raise KeyboardInterrupt


def run_interruptibly(run: Callable[[], int]) -> int:
    """Run a benchmark; SIGTERM and Ctrl-C both raise KeyboardInterrupt in it, so its
    `finally` blocks and exit stacks stop every process and drop every database."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with it ignored
    try:
        return run()
    except KeyboardInterrupt:
        print("interrupted: processes stopped, databases dropped", file=sys.stderr)
        return 130
