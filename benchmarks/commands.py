"""Throughput of single-event commands on existing cases, against a plain insert loop.

Run: .venv/bin/python benchmarks/commands.py [--commands 3000] [--repeat 5] [--cases 200]
     [--sealed] [--working-copies N] [--clients N] [--skip-postgres]

With `--clients N` each workload runs in N threads at once, each thread on its own
cases (case k goes to thread k mod N; `--cases` must be a multiple of N), as
concurrent requests do in a server: ours, the library (its recorders are
thread-safe, its pool default) and the plain loop (one connection per thread).
One client measures a command's latency alone, where every commit waits for its
own flush; several measure what a store does when commits can share one
(ours group-commits them, ADR 0027).

With `--working-copies N` our command runner keeps up to N aggregates between
commands, as the API server does (ADR 0023): a command then reads only the
events recorded since by others (none here) instead of loading the case.
Issue 20's target 1 is read on both: without the option (ours loads the case,
like for like with the library's repository) and with `--working-copies 1000`
(ours as the API runs commands); run the script once each way (ADR 0059,
amendment of 2026-12-04). `commands_cpu.py` measures both, and the library, by
CPU time in one process.

With `--sealed` a master key is set, so every note and communication summary
(and the contact, title and description at intake) is stored sealed with
AES-256-GCM under its case's key and opened on each load (ADR 0044); compare
with the same run without it.

Each command is what the desk does for a request: load the case (snapshot plus
the events after it), decide, save one event in one transaction, log the
`event_recorded` line (rendered as JSON, written to /dev/null). Commands
alternate between `add_note` and `record_communication` and go round-robin over
the cases. Snapshots are taken every 50 events (the production default), and
before timing the cases are spread evenly over that cycle (case i gets i % 50
notes), so loads replay 0-49 events after the latest snapshot, about 25 on
average, in every repetition; every 50th save also writes a snapshot.

The library baseline, in the same run, is eventsourcing used out of the box on
the same shape: an `Aggregate` case (customer, product, title, description)
with a note command and a communication command (the library's `@event`
decorator), saved by a plain `Application` with the library's recorder for the
store (`eventsourcing.postgres` / `eventsourcing.sqlite`, its defaults), its
default JSON transcoder and snapshots every 50 events (`snapshotting_intervals`);
as many cases, spread over the snapshot cycle the same way, the same texts,
commands alternating the same way, nothing logged.

The plain baseline, in the same run, inserts as many rows, one transaction each, into
`bench(id, version, state)` with a primary key on (id, version), the row's
state being the bytes of one of our stored events:

* PostgreSQL: psycopg, one connection, INSERT + commit per row.
* SQLite: the sqlite3 module, BEGIN/INSERT/COMMIT per row, with the settings
  eventsourcing's SQLite recorder uses: journal_mode=WAL and `synchronous` left
  at its default, FULL (the script reads both back from the event store).

PostgreSQL runs in a throwaway database created on the server named by
CASES_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres)
and dropped afterwards, even on error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Protocol, TextIO, TypeVar
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID, uuid4

if not __package__:  # run as a script (benchmarks/commands.py): import as from the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from benchmarks._harness import NOTES, PRODUCTS, SUMMARIES, support_terms, take_in
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from psycopg import pq, sql

from cases.application.caller import Caller
from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.db.schema import migrate
from cases.domain import case_commands as cmd
from cases.domain.case_values import Direction
from cases.domain.metadata import Actor, Role, Source
from cases.domain.support_case import SupportCase
from cases.domain.support_terms import (
    Channel,
)
from cases.log_config import configure_logging
from cases.persistence.database_url import parse_database_url
from cases.persistence.subject_keys import MasterKey
from cases.settings import Settings

ADMIN_URL = os.environ.get(
    "CASES_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
AGENT = Actor("agent-anna", Role.HELPDESK_AGENT)
C = TypeVar("C")  # a plain loop's connection

SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


# Realistic data -------------------------------------------------------------


CUSTOMERS = ("contoso", "fabrikam", "northwind", "adatum", "litware", "tailspin")


# The workload ---------------------------------------------------------------


@dataclass
class CommandWorkload:
    """Cases taken in once, then single-event commands round-robin over them."""

    services: Services
    clock: ManualClock
    caller: Caller = field(default_factory=lambda: Caller.new(AGENT, Source.API))
    case_ids: list[UUID] = field(default_factory=list)
    done: int = 0

    def take_in(self, n_cases: int) -> None:
        desk = self.services.desk
        desk.publish_terms(self.caller, support_terms(), effective_from=self.clock.now())
        for i in range(n_cases):
            at = self.clock.advance(timedelta(seconds=30))
            customer = CUSTOMERS[i % len(CUSTOMERS)]
            self.case_ids.append(
                take_in(desk, self.caller, customer, PRODUCTS[i % len(PRODUCTS)], at)
            )

    def stagger(self, interval: int) -> None:
        """Spread the cases evenly over the snapshot cycle (case i at version 1 + i % interval).

        Otherwise all cases would be at the same distance from their latest
        snapshot, and a repetition's rate would depend on where in the cycle it
        fell. The notes are recorded in one save per case (setup, not timed).
        """
        for i, case_id in enumerate(self.case_ids):
            case = self.services.runner.load(SupportCase, case_id)
            for _ in range(i % interval):
                at = self.clock.advance(timedelta(seconds=1))
                case.add_note(
                    self.caller.context(at), cmd.AddNote(NOTES[case.version % len(NOTES)])
                )
            self.services.log.save(case)

    def one(self) -> None:
        """One command: load a case, record one event, save."""
        self.done += 1
        self.one_at(self.done - 1)

    def one_at(self, k: int) -> None:
        """The `k`th command of the round-robin."""
        case_id = self.case_ids[k % len(self.case_ids)]
        self.clock.advance(timedelta(seconds=1))
        if (k // len(self.case_ids)) % 2 == 0:
            self.services.desk.handle(self.caller, case_id, cmd.AddNote(NOTES[k % len(NOTES)]))
        else:
            self.services.desk.handle(
                self.caller,
                case_id,
                cmd.RecordCommunication(
                    Direction.OUTBOUND, Channel.EMAIL, SUMMARIES[k % len(SUMMARIES)]
                ),
            )

    def run(self, n: int, clients: int = 1) -> float:
        return run_commands(self, n, clients)

    def sample_state(self) -> bytes:
        """The stored bytes of the latest event of the first case."""
        recorder = self.services.log.recorder
        (stored,) = recorder.select_events(self.case_ids[0], desc=True, limit=1)
        return bytes(stored.state)


# The library out of the box -------------------------------------------------


class LibraryCase(Aggregate):
    """The same shape as a support case, as the library's documentation writes one."""

    @event("TakenIn")
    def __init__(self, customer: str, product: str, title: str, description: str) -> None:
        self.customer = customer
        self.product = product
        self.title = title
        self.description = description
        self.notes: list[str] = []
        self.communications: list[tuple[str, str, str]] = []

    @event("NoteAdded")
    def add_note(self, text: str) -> None:
        self.notes.append(text)

    @event("CommunicationRecorded")
    def record_communication(self, direction: str, channel: str, summary: str) -> None:
        self.communications.append((direction, channel, summary))


class LibraryDesk(Application[UUID]):
    """The library's `Application`: its repository, recorder and JSON transcoder."""

    snapshotting_intervals = {LibraryCase: 50}  # noqa: RUF012 - the library's class attribute

    def take_in(self, customer: str, product: str) -> UUID:
        case = LibraryCase(customer, product, "Mailbox full", "The mailbox reports it is full")
        self.save(case)
        return case.id

    def add_note(self, case_id: UUID, text: str) -> None:
        case: LibraryCase = self.repository.get(case_id)
        case.add_note(text)
        self.save(case)

    def record_communication(self, case_id: UUID, summary: str) -> None:
        case: LibraryCase = self.repository.get(case_id)
        case.record_communication("outbound", "email", summary)
        self.save(case)


@dataclass
class LibraryWorkload:
    """`CommandWorkload`'s cases and commands on the library's application."""

    desk: LibraryDesk
    case_ids: list[UUID] = field(default_factory=list)
    done: int = 0

    def take_in(self, n_cases: int, interval: int) -> None:
        for i in range(n_cases):
            case_id = self.desk.take_in(CUSTOMERS[i % len(CUSTOMERS)], PRODUCTS[i % len(PRODUCTS)])
            case: LibraryCase = self.desk.repository.get(case_id)
            for _ in range(i % interval):  # spread over the snapshot cycle, as `stagger`
                case.add_note(NOTES[case.version % len(NOTES)])
            self.desk.save(case)
            self.case_ids.append(case_id)

    def one(self) -> None:
        self.done += 1
        self.one_at(self.done - 1)

    def one_at(self, k: int) -> None:
        case_id = self.case_ids[k % len(self.case_ids)]
        if (k // len(self.case_ids)) % 2 == 0:
            self.desk.add_note(case_id, NOTES[k % len(NOTES)])
        else:
            self.desk.record_communication(case_id, SUMMARIES[k % len(SUMMARIES)])

    def run(self, n: int, clients: int = 1) -> float:
        return run_commands(self, n, clients)


class Commands(Protocol):
    done: int

    def one_at(self, k: int) -> None: ...


def run_commands(workload: Commands, n: int, clients: int) -> float:
    """Seconds for the next `n` commands of the round-robin, in `clients` threads;
    thread t takes the commands k with k mod clients == t, so its own cases."""
    first = workload.done
    workload.done += n
    if clients == 1:
        start = time.perf_counter()
        for k in range(first, first + n):
            workload.one_at(k)
        return time.perf_counter() - start

    def client(t: int) -> None:
        for k in range(first + t, first + n, clients):
            workload.one_at(k)

    return concurrently([partial(client, t) for t in range(clients)])


def concurrently(work: list[Callable[[], object]]) -> float:
    """Seconds from a common start until every piece of `work`, each in its own
    thread, has finished; the first error of any is raised."""
    gate = threading.Barrier(len(work) + 1)
    errors: list[BaseException] = []

    def worker(piece: Callable[[], object]) -> None:
        gate.wait()
        try:
            piece()
        except BaseException as e:  # noqa: BLE001 - raised in the caller
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(piece,)) for piece in work]
    for thread in threads:
        thread.start()
    gate.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return elapsed


def start_library(env: dict[str, str], n_cases: int, commands: int) -> LibraryWorkload:
    workload = LibraryWorkload(LibraryDesk(env))
    try:
        workload.take_in(n_cases, 50)
        workload.run(min(commands, n_cases))  # warm up, as ours
    except BaseException:
        workload.desk.close()
        raise
    return workload


def library_postgres_env(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": parts.username or "postgres",
        "POSTGRES_PASSWORD": parts.password or "",
    }


# Plain loops ----------------------------------------------------------------


@dataclass
class PlainRows:
    """Rows shaped like our events: round-robin ids, increasing versions."""

    ids: list[UUID]
    done: int = 0

    def next(self) -> tuple[UUID, int]:
        k = self.done
        self.done += 1
        return self.ids[k % len(self.ids)], k // len(self.ids) + 1


def postgres_plain_loop(
    conn: psycopg.Connection[tuple[object, ...]], rows: PlainRows, state: bytes, n: int
) -> float:
    start = time.perf_counter()
    for _ in range(n):
        row_id, version = rows.next()
        conn.execute(
            "INSERT INTO bench (id, version, state) VALUES (%s, %s, %s)",
            (row_id, version, state),
        )
        conn.commit()
    return time.perf_counter() - start


def sqlite_plain_loop(conn: sqlite3.Connection, rows: PlainRows, state: bytes, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        row_id, version = rows.next()
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO bench (id, version, state) VALUES (?, ?, ?)",
            (row_id.hex, version, state),
        )
        conn.execute("COMMIT")
    return time.perf_counter() - start


def open_sqlite_plain(path: Path, *, create: bool = True) -> sqlite3.Connection:
    # As eventsourcing.sqlite does: autocommit mode with explicit BEGIN, WAL,
    # and `synchronous` not touched (so FULL, the default). Used by one thread
    # at a time, not always the one that opened it.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60)
    conn.execute("PRAGMA journal_mode=WAL")
    if create:
        conn.execute(
            "CREATE TABLE bench (id TEXT, version INTEGER, state BLOB, PRIMARY KEY (id, version))"
        )
    return conn


def plain_in_clients(
    loop: Callable[[C, PlainRows, bytes, int], float],
    conns: list[C],
    state: bytes,
    ids_each: int,
) -> Callable[[int], float]:
    """The plain loop in one thread per connection, each on rows of its own ids;
    `n` rows in all."""
    rows = [PlainRows([uuid4() for _ in range(ids_each)]) for _ in conns]
    if len(conns) == 1:
        return lambda n: loop(conns[0], rows[0], state, n)

    def in_clients(n: int) -> float:
        each = n // len(conns)
        return concurrently(
            [partial(loop, c, r, state, each) for c, r in zip(conns, rows, strict=True)]
        )

    return in_clients


def sqlite_pragmas(run: Callable[[str], object]) -> str:
    journal = run("PRAGMA journal_mode")
    synchronous = run("PRAGMA synchronous")
    return f"journal_mode={journal}, synchronous={SYNCHRONOUS.get(int(str(synchronous)))}"


def eventsourcing_sqlite_pragmas(services: Services) -> str:
    datastore = services.log.recorder.datastore  # type: ignore[attr-defined]

    def run(statement: str) -> object:
        with datastore.transaction(commit=False) as cursor:
            cursor.execute(statement)
            return cursor.fetchone()[0]

    return sqlite_pragmas(run)


# PostgreSQL round trips (libpq's protocol trace) ----------------------------


def round_trips_in(trace: str) -> int:
    """Times the client sent and then waited for the server (F lines then B lines)."""
    trips, last = 0, ""
    for line in trace.splitlines():
        direction = line[:1]
        if direction == "B" and last == "F":
            trips += 1
        if direction in ("F", "B"):
            last = direction
    return trips


def round_trips_per_call(
    services: Services, action: Callable[[], object], calls: int
) -> float | None:
    """Trace every pooled connection while `action` runs `calls` times."""
    pool = getattr(services.log.recorder, "datastore", None)
    connections = list(getattr(getattr(pool, "pool", None), "_pool", ()))
    if not connections:
        return None
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        paths = [Path(tmp) / f"{i}.trace" for i in range(len(connections))]
        files: list[TextIO] = [stack.enter_context(p.open("w")) for p in paths]
        for conn, file in zip(connections, files, strict=True):
            conn.pgconn.trace(file.fileno())
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            for _ in range(calls):
                action()
        finally:
            for conn in connections:
                conn.pgconn.untrace()
        stack.close()
        return sum(round_trips_in(p.read_text(errors="replace")) for p in paths) / calls


# Throwaway PostgreSQL database ----------------------------------------------


@contextlib.contextmanager
def throwaway_database(admin_url: str, prefix: str = "cases_bench") -> Iterator[str]:
    name = f"{prefix}_{uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


# Measuring ------------------------------------------------------------------


@dataclass
class Result:
    store: str
    ours: list[float]  # events/s per repetition
    library: list[float]  # events/s per repetition
    plain: list[float]  # rows/s per repetition
    notes: list[str] = field(default_factory=list)


def measure(
    store: str,
    workload: CommandWorkload,
    library: LibraryWorkload,
    plain: Callable[[int], float],
    *,
    commands: int,
    repeat: int,
    clients: int,
) -> Result:
    result = Result(store, [], [], [])
    for r in range(repeat):
        ours = commands / workload.run(commands, clients)
        lib = commands / library.run(commands, clients)
        base = commands / plain(commands)
        result.ours.append(ours)
        result.library.append(lib)
        result.plain.append(base)
        print(
            f"  {store} run {r + 1}/{repeat}: ours {ours:7.0f} events/s, "
            f"library {lib:7.0f} events/s, plain loop {base:7.0f} rows/s",
            flush=True,
        )
    return result


def start_workload(
    settings: Settings, n_cases: int, commands: int, working_copies: int = 0
) -> CommandWorkload:
    clock = ManualClock(START)
    workload = CommandWorkload(bootstrap(settings, clock, working_copies), clock)
    try:
        workload.take_in(n_cases)
        workload.stagger(settings.snapshot_interval)
        workload.run(min(commands, n_cases))  # warm up: caches, prepared statements
    except BaseException:
        workload.services.close()
        raise
    return workload


def bench_settings(url: str, args: argparse.Namespace, **more: object) -> Settings:
    """The store's settings; sealed (ADR 0044) with a fresh master key and the
    schema migrated when `--sealed`."""
    if not args.sealed:
        return Settings(database_url=url, **more)  # type: ignore[arg-type]
    migrate(parse_database_url(url))
    key = MasterKey.generate().as_text()
    return Settings(database_url=url, master_key=key, **more)  # type: ignore[arg-type]


def bench_sqlite(args: argparse.Namespace) -> Result:
    with tempfile.TemporaryDirectory(prefix="cases-bench-") as tmp:
        settings = bench_settings(f"sqlite:///{tmp}/cases.db", args, data_dir=Path(tmp))
        workload = start_workload(settings, args.cases, args.commands, args.working_copies)
        library = start_library(
            {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"{tmp}/library.db"},
            args.cases,
            args.commands,
        )
        plain_conn = open_sqlite_plain(Path(tmp) / "plain.db")
        others = [
            open_sqlite_plain(Path(tmp) / "plain.db", create=False) for _ in range(1, args.clients)
        ]
        try:
            state = workload.sample_state()
            result = measure(
                "SQLite",
                workload,
                library,
                plain_in_clients(
                    sqlite_plain_loop, [plain_conn, *others], state, args.cases // args.clients
                ),
                commands=args.commands,
                repeat=args.repeat,
                clients=args.clients,
            )
            result.notes.append(
                f"SQLite settings: event store {eventsourcing_sqlite_pragmas(workload.services)}; "
                f"plain loop {sqlite_pragmas(lambda s: plain_conn.execute(s).fetchone()[0])}; "
                f"row state {len(state)} bytes"
            )
        finally:
            for conn in (plain_conn, *others):
                conn.close()
            library.desk.close()
            workload.services.close()
    return result


def bench_postgres(args: argparse.Namespace) -> Result:
    with throwaway_database(args.postgres_url) as url:
        workload = start_workload(
            bench_settings(url, args), args.cases, args.commands, args.working_copies
        )
        library = None
        try:
            library = start_library(library_postgres_env(url), args.cases, args.commands)
            with contextlib.ExitStack() as connections:
                conns = [
                    connections.enter_context(psycopg.connect(url)) for _ in range(args.clients)
                ]
                plain_conn = conns[0]
                plain_conn.execute(
                    "CREATE TABLE bench (id uuid, version int, state bytea, "
                    "PRIMARY KEY (id, version))"
                )
                plain_conn.commit()
                state = workload.sample_state()
                result = measure(
                    "PostgreSQL",
                    workload,
                    library,
                    plain_in_clients(postgres_plain_loop, conns, state, args.cases // args.clients),
                    commands=args.commands,
                    repeat=args.repeat,
                    clients=args.clients,
                )
                rows = PlainRows([uuid4() for _ in range(args.cases)])
                plain_trips = _plain_round_trips(plain_conn, rows, state)
            result.notes.append(f"PostgreSQL row state {len(state)} bytes")
            result.notes.extend(_our_round_trips(workload, plain_trips))
        finally:
            if library is not None:
                library.desk.close()
            workload.services.close()
    return result


def _plain_round_trips(
    conn: psycopg.Connection[tuple[object, ...]], rows: PlainRows, state: bytes
) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plain.trace"
        with path.open("w") as file:
            conn.pgconn.trace(file.fileno())
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            try:
                postgres_plain_loop(conn, rows, state, 100)
            finally:
                conn.pgconn.untrace()
        return round_trips_in(path.read_text(errors="replace")) / 100


def _our_round_trips(workload: CommandWorkload, plain_trips: float) -> list[str]:
    calls = 200
    per_command = round_trips_per_call(workload.services, workload.one, calls)
    k = iter(range(10**9))
    ids = workload.case_ids
    per_load = round_trips_per_call(
        workload.services, lambda: workload.services.desk.case(ids[next(k) % len(ids)]), calls
    )
    if per_command is None or per_load is None:
        return ["PostgreSQL round trips: not counted (pool connections not reachable)"]
    line = (
        f"PostgreSQL round trips (libpq trace, {calls} calls): {per_command:.1f} per command "
        f"= {per_load:.1f} to load the case + {per_command - per_load:.1f} to save; "
        f"plain loop {plain_trips:.1f} per row"
    )
    return [line]


# Report ---------------------------------------------------------------------


def print_table(results: list[Result], commands: int, repeat: int) -> None:
    print()
    print(f"Single-event commands on existing cases: {commands} commands, median of {repeat}")
    print()
    header = (
        f"| {'store':<10} | {'ours (events/s)':>15} | {'ms/command':>10} | "
        f"{'library (events/s)':>18} | {'plain loop (rows/s)':>19} | {'ms/row':>6} | "
        f"{'ours / library':>14} | {'ours / plain':>12} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c) + 0) for c in header.split("|")[1:-1]) + "|")
    for r in results:
        ours = statistics.median(r.ours)
        library = statistics.median(r.library)
        plain = statistics.median(r.plain)
        print(
            f"| {r.store:<10} | {ours:>15,.0f} | {1000 / ours:>10.2f} | "
            f"{library:>18,.0f} | {plain:>19,.0f} | {1000 / plain:>6.2f} | "
            f"{ours / library:>14.2f} | {ours / plain:>12.2f} |"
        )
    print()
    print(f"load average at the end (1, 5, 15 min): {os.getloadavg()}")
    print()
    for r in results:
        for note in r.notes:
            print(f"- {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=3000, help="commands per repetition")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions (medians quoted)")
    parser.add_argument("--cases", type=int, default=200, help="cases the commands go over")
    parser.add_argument("--postgres-url", default=ADMIN_URL, help="admin URL of the server")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--sealed", action="store_true", help="store personal fields sealed (ADR 0044)"
    )
    parser.add_argument(
        "--working-copies",
        type=int,
        default=0,
        help="keep this many aggregates between commands, as the API does (ADR 0023); "
        "the library stays out of the box",
    )
    parser.add_argument(
        "--clients",
        type=int,
        default=1,
        help="threads running each workload at once, each on its own cases",
    )
    args = parser.parse_args()
    if args.cases % args.clients:
        parser.error("--cases must be a multiple of --clients (each client has its own cases)")

    print(f"load average at the start (1, 5, 15 min): {os.getloadavg()}", flush=True)
    with Path(os.devnull).open("w") as devnull:
        configure_logging("INFO", devnull)
        results = [bench_sqlite(args)]
        if not args.skip_postgres:
            try:
                results.append(bench_postgres(args))
            except psycopg.OperationalError as e:
                print(f"PostgreSQL skipped: {str(e).strip().splitlines()[0]}", file=sys.stderr)
    print(f"personal fields {'sealed (--sealed)' if args.sealed else 'as they are'}")
    if args.clients > 1:
        print(f"{args.clients} clients at once, each on its own cases")
    if args.working_copies:
        print(f"ours keeps {args.working_copies} working copies between commands (ADR 0023)")
    print_table(results, args.commands, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
