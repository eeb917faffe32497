"""Catch-up rate of each projection over a million events, against the ceiling.

Run from the repository root (it imports the history generator from tests/):

    .venv/bin/python -m benchmarks.projections_catch_up [--events 1000000]
        [--history mixed|support] [--billing-accounts 1500]
        [--batch-sizes 1000,5000] [--stores sqlite,postgres] [--profile case_queue]
        [--database postgresql://.../kept] [--without-read-ahead]

For each store (a temporary SQLite file; a throwaway PostgreSQL database,
dropped afterwards even on error) the script records a generated history of
`--events` events in bulk (`BulkWriter`: domain commands in memory, one
`log.save` per 5 000 events): by default support cases and `--billing-accounts`
billing accounts on one timeline (`MixedHistory`), or support cases only. It
applies the read-model migrations, and then, for each batch size and each
projection in the catalog (one the history holds no event of is skipped):

- the ceiling: reading and decoding the events the projection subscribes to
  (`select_notifications` with its topics, `mapper.to_domain_event`), in the
  same batches, with no projection at all;
- the projection: its tables and tracking row emptied, one runner catching up
  from position 0 (one transaction per batch, its commits not waiting for the
  disk, as a runner's connection, ADR 28).

Where the PostgreSQL server runs with autovacuum off (as the shared one here
does), the script VACUUM ANALYZEs the projection's tables every 100 000 log
positions during the timed catch-up; without it the case queue's batch lookup
(`case_id IN (...)`) is planned as a sequential scan over a table full of dead
tuples, and each repeated catch-up into a truncated table gets slower.

Both halves run with the collector as `cases projections run` sets it once
started (`settle_after_start`, ADR 25): with CPython's defaults a young collection
every 700 allocations took a quarter of the decoding's time, which the runner
never pays.

Rates are events the projection handles per second of wall time; ratio =
projection rate / ceiling. Beside them, the CPU time each half spent per event,
in this process and (PostgreSQL on this machine) in the server's backends, and
the ratio of those: on a shared, loaded machine wall time mostly measures the
wait for a core, CPU time what the work costs. `--profile NAME` runs one more catch-up of that
projection under cProfile and prints what dominates (the runner's thread only:
the read-ahead's decoding is off it). `--without-read-ahead` runs each
catch-up once more without the runner's read-ahead and prints it beside.

PostgreSQL: the server named by CASES_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import psycopg
from psycopg import sql

from cases.db.database import ProjectionDatabase
from cases.db.schema import migrate
from cases.followers.catalog import PROJECTIONS, projection_named
from cases.followers.runner import ProjectionRunner
from cases.followers.tracking import Tracking
from cases.heap import settle_after_start
from cases.log_config import configure_logging
from cases.persistence.database_url import parse_database_url
from cases.persistence.event_log import EventLog
from cases.persistence.store import store_env
from cases.projections.projection import Projection
from cases.settings import Settings
from tests.support.history import BulkWriter, SupportHistory
from tests.support.mixed_history import MixedHistory

ADMIN_URL = os.environ.get(
    "CASES_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MAINTENANCE_EVERY = 100_000  # log positions between VACUUM ANALYZEs (see maintenance)
TARGET = 20_000  # events/s for the case queue on PostgreSQL (issue 20)
TARGET_RATIO = 0.6  # of its ceiling, for every projection on PostgreSQL (issue 20)
CHUNK = 5_000  # events per log.save while generating (see BulkWriter on larger)


@dataclass(frozen=True, slots=True)
class Rate:
    store: str
    projection: str
    batch_size: int
    events: int
    ceiling_s: float
    projection_s: float
    ceiling_cpu: Cpu
    projection_cpu: Cpu

    @property
    def ceiling(self) -> float:
        return self.events / self.ceiling_s

    @property
    def rate(self) -> float:
        return self.events / self.projection_s

    @property
    def cpu_ratio(self) -> str:
        """The ceiling's CPU time (client and server) over the projection's: the
        ratio as a machine with cores to spare would give it."""
        ceiling, projection = self.ceiling_cpu, self.projection_cpu
        if ceiling.server is None or projection.server is None:
            return f"{ceiling.client / projection.client:.2f} (client only)"
        return f"{(ceiling.client + ceiling.server) / (projection.client + projection.server):.2f}"


@dataclass(frozen=True, slots=True)
class Cpu:
    """CPU seconds spent: this process's, and the database server's backends'
    (PostgreSQL on this machine, read from /proc; None where it cannot be read).
    Unlike wall time, these hardly move with the load of a shared machine."""

    client: float
    server: float | None

    def __sub__(self, other: Cpu) -> Cpu:
        server = None if self.server is None or other.server is None else self.server - other.server
        return Cpu(self.client - other.client, server)

    def per_event_us(self, events: int) -> str:
        server = "-" if self.server is None else f"{1e6 * self.server / events:.1f}"
        return f"{1e6 * self.client / events:.1f}+{server}"


def cpu_now(db: ProjectionDatabase) -> Cpu:
    """This process's CPU time, and the CPU time of every backend serving this
    database (the log's pool and the projection's connection) so far."""
    server: float | None = None
    if db.is_postgres:
        pids = [pid for (pid,) in db.fetchall(sql_text_backends())]
        try:
            server = sum(backend_cpu(pid) for pid in pids)
        except OSError:  # a server on another machine, or another user's /proc
            server = None
    return Cpu(time.process_time(), server)


def sql_text_backends() -> str:
    return "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"


def backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Stores ---------------------------------------------------------------------


@contextlib.contextmanager
def throwaway_database(admin_url: str) -> Iterator[str]:
    name = f"cases_bench_{uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextlib.contextmanager
def fresh_store(store: str, admin_url: str, kept: str | None = None) -> Iterator[str]:
    if kept is not None:
        yield kept
    elif store == "sqlite":
        with tempfile.TemporaryDirectory(prefix="cases-bench-") as tmp:
            yield f"sqlite:///{tmp}/cases.db"
    else:
        with throwaway_database(admin_url) as url:
            yield url


def open_log(url: str) -> EventLog:
    return EventLog(store_env(parse_database_url(url), Settings(database_url=url)))


def generate(log: EventLog, events: int, args: argparse.Namespace) -> tuple[int, int, float]:
    """Record about `events` events (support only, or support and billing on one
    timeline); return (events, cases, seconds)."""
    support = SupportHistory(
        seed=1,
        customers=5000,
        cases_per_day=110,
        agents=40,
        direct_bill_from=timedelta(days=365),
    )
    writer = BulkWriter(log, chunk=CHUNK)
    started = time.perf_counter()
    step = max(events // 10, 1)
    if args.history == "mixed":
        shown = [0]

        def show(recorded: int) -> None:
            if recorded - shown[0] >= step:
                shown[0] = recorded
                progress(recorded, support.cases, started)

        MixedHistory(writer, support, accounts=args.billing_accounts).record(events, show)
    while writer.recorded < events:
        support.record(writer, min(step, events - writer.recorded))
        progress(writer.recorded, support.cases, started)
    return writer.recorded, support.cases, time.perf_counter() - started


def progress(events: int, cases: int, started: float) -> None:
    elapsed = time.perf_counter() - started
    print(f"    {events:>9,} events, {cases:>7,} cases, {elapsed:6.1f} s", flush=True)


def vacuum_all(url: str) -> None:
    """Fresh statistics after the bulk load, as autovacuum would leave them."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


# Measuring ------------------------------------------------------------------


def read_and_decode(log: EventLog, projection: Projection, batch_size: int) -> tuple[int, float]:
    """The ceiling: the runner's reads and decoding, and nothing else."""
    recorder, mapper, topics = log.recorder, log.mapper, projection.topics()
    head = recorder.max_notification_id() or 0
    started = time.perf_counter()
    after, count = 0, 0
    while after < head:
        notifications = recorder.select_notifications(
            start=after + 1, limit=batch_size, stop=head, topics=topics
        )
        count += len([mapper.to_domain_event(n) for n in notifications])
        after = notifications[-1].id if len(notifications) == batch_size else head
    return count, time.perf_counter() - started


def reset(db: ProjectionDatabase, projection: Projection) -> None:
    with db.transaction():
        for table in projection.tables:
            db.execute(f"TRUNCATE {table}" if db.is_postgres else f"DELETE FROM {table}")
        Tracking(db).forget(projection.name)


def autovacuum_is_off(db: ProjectionDatabase) -> bool:
    row = db.fetchone("SHOW autovacuum") if db.is_postgres else None
    return row is not None and row[0] == "off"


def maintenance(db: ProjectionDatabase, projection: Projection) -> Callable[[int, int], None]:
    """Stand in for autovacuum where the server has it off: VACUUM ANALYZE the
    projection's tables every `MAINTENANCE_EVERY` log positions, inside the
    timed catch-up (autovacuum's work costs the same machine)."""
    done = [0]

    def after_batch(position: int, _head: int) -> None:
        if position - done[0] >= MAINTENANCE_EVERY:
            for table in projection.tables:
                db.execute(f"VACUUM ANALYZE {table}")
            done[0] = position

    return after_batch


def catch_up(
    log: EventLog,
    db: ProjectionDatabase,
    projection: Projection,
    batch_size: int,
    *,
    vacuum: bool = False,
    read_ahead: bool | None = None,
) -> tuple[int, float]:
    """One catch-up from 0, with the runner's read-ahead unless `read_ahead` is
    False (ADR 71 amendment)."""
    reset(db, projection)
    # Every batch of `batch_size`, also far behind (a projection catching up alone
    # takes `catch_up_batch(1000)` = 5 000 there, ADR 89: measure it with
    # --batch-sizes 5000).
    runner = ProjectionRunner(
        log,
        projection,
        db,
        batch_size=batch_size,
        catch_up_batch_size=batch_size,
        read_ahead=True if read_ahead is None else read_ahead,
    )
    started = time.perf_counter()
    applied = runner.catch_up(maintenance(db, projection) if vacuum else None)
    return applied, time.perf_counter() - started


def profile(
    log: EventLog, db: ProjectionDatabase, name: str, batch_size: int, *, vacuum: bool
) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    applied, seconds = catch_up(log, db, projection_named(name), batch_size, vacuum=vacuum)
    profiler.disable()
    print(f"\n  cProfile of {name}, batch {batch_size}: {applied:,} events in {seconds:.1f} s")
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(18)
    stats.sort_stats("cumulative").print_stats(25)
    print(out.getvalue())


def without(
    log: EventLog, db: ProjectionDatabase, projection: Projection, rate: Rate, *, vacuum: bool
) -> None:
    """For information, beside the measured rate: the same catch-up without the
    read-ahead, just after it (the same share of the machine, roughly)."""
    before = cpu_now(db)
    applied, seconds = catch_up(
        log, db, projection, rate.batch_size, vacuum=vacuum, read_ahead=False
    )
    cpu = cpu_now(db) - before
    print(
        f"  batch {rate.batch_size:>5} {projection.name:<20} without read-ahead: "
        f"{applied / seconds:>8,.0f}/s  ratio {applied / seconds / rate.ceiling:.2f}  "
        f"CPU us/event {cpu.per_event_us(applied)}  (with: {rate.rate:,.0f}/s, "
        f"ratio {rate.rate / rate.ceiling:.2f}, CPU {rate.projection_cpu.per_event_us(applied)})",
        flush=True,
    )


def measure_store(store: str, args: argparse.Namespace) -> list[Rate]:
    rates: list[Rate] = []
    with fresh_store(store, args.postgres_url, args.database) as url:
        log = open_log(url)
        try:
            recorded = log.head()
            if recorded:
                print(f"\n{store}: the kept database holds {recorded:,} events", flush=True)
            else:
                print(f"\n{store}: generating {args.events:,} events", flush=True)
                events, cases, seconds = generate(log, args.events, args)
                print(
                    f"  generated {events:,} events ({cases:,} cases) in {seconds:.1f} s "
                    f"= {events / seconds:,.0f} events/s",
                    flush=True,
                )
            migrate(parse_database_url(url))
            if store == "postgres" and not recorded:
                vacuum_all(url)
            db = ProjectionDatabase(parse_database_url(url), durable_commits=False)  # as runners
            vacuum = autovacuum_is_off(db)
            # The collector as `cases projections run` sets it once started (ADR 25):
            # what survived frozen, young collections ten times rarer.
            settle_after_start()
            if vacuum:
                print(f"  autovacuum is off: VACUUM ANALYZE every {MAINTENANCE_EVERY:,} positions")
            try:
                for batch_size in args.batch_sizes:
                    for name in args.projections:
                        projection = projection_named(name)
                        before = cpu_now(db)
                        count, ceiling_s = read_and_decode(log, projection, batch_size)
                        ceiling_cpu = cpu_now(db) - before
                        if count == 0:
                            print(f"  {name}: the history holds none of its events; skipped")
                            continue
                        before = cpu_now(db)
                        applied, projection_s = catch_up(
                            log, db, projection, batch_size, vacuum=vacuum
                        )
                        projection_cpu = cpu_now(db) - before
                        if applied != count:
                            raise RuntimeError(f"{name} applied {applied}, read {count}")
                        rate = Rate(
                            store,
                            name,
                            batch_size,
                            count,
                            ceiling_s,
                            projection_s,
                            ceiling_cpu,
                            projection_cpu,
                        )
                        rates.append(rate)
                        if args.without_read_ahead:
                            without(log, db, projection, rate, vacuum=vacuum)
                        print(
                            f"  batch {batch_size:>5} {name:<20} {count:>9,} events: "
                            f"{rate.rate:>8,.0f}/s  ceiling {rate.ceiling:>8,.0f}/s  "
                            f"ratio {rate.rate / rate.ceiling:.2f}  CPU us/event (client+server) "
                            f"ceiling {ceiling_cpu.per_event_us(count)} "
                            f"projection {projection_cpu.per_event_us(count)} "
                            f"CPU ratio {rate.cpu_ratio}",
                            flush=True,
                        )
                if args.profile:
                    profile(log, db, args.profile, args.batch_sizes[0], vacuum=vacuum)
            finally:
                db.close()
        finally:
            log.close()
    return rates


def print_table(rates: list[Rate]) -> None:
    print(
        "\n| store | projection | batch | events | events/s | ceiling/s | ratio "
        "| CPU us/event, ceiling | projection | CPU ratio |"
    )
    print("|-------|------------|------:|-------:|---------:|----------:|------:|---:|---:|---:|")
    for r in rates:
        print(
            f"| {r.store} | {r.projection} | {r.batch_size} | {r.events:,} | "
            f"{r.rate:,.0f} | {r.ceiling:,.0f} | {r.rate / r.ceiling:.2f} | "
            f"{r.ceiling_cpu.per_event_us(r.events)} | "
            f"{r.projection_cpu.per_event_us(r.events)} | {r.cpu_ratio} |"
        )
    for r in rates:
        if r.store != "postgres":
            continue
        verdict = "met" if r.rate / r.ceiling >= TARGET_RATIO else "MISSED"
        print(f"{r.projection}, batch {r.batch_size}: ratio {r.rate / r.ceiling:.2f} -> {verdict}")
        if r.projection == "case_queue":
            verdict = "met" if r.rate >= TARGET else "MISSED"
            print(f"case queue on PostgreSQL, batch {r.batch_size}: {r.rate:,.0f}/s -> {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--history",
        choices=("mixed", "support"),
        default="mixed",
        help="support cases and billing accounts on one timeline, or support cases only",
    )
    parser.add_argument("--billing-accounts", type=int, default=1500)
    parser.add_argument("--batch-sizes", default="1000,5000")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--projections", default=",".join(PROJECTIONS))
    parser.add_argument("--profile", default=None, help="a projection to profile afterwards")
    parser.add_argument(
        "--without-read-ahead",
        action="store_true",
        help="after each catch-up, one more without the runner's read-ahead, for information",
    )
    parser.add_argument("--postgres-url", default=ADMIN_URL, help="admin URL of the server")
    parser.add_argument(
        "--database",
        default=None,
        help="a kept database (URL) to use instead of a throwaway one: the history is "
        "generated into it when its log is empty, and reused as it is otherwise "
        "(one store only; same-run comparisons of two trees)",
    )
    args = parser.parse_args()
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    args.projections = args.projections.split(",")
    with Path(os.devnull).open("w") as devnull:
        configure_logging("WARNING", devnull)
        rates: list[Rate] = []
        for store in args.stores.split(","):
            rates += measure_store(store, args)
    print_table(rates)
    return 0


if __name__ == "__main__":
    sys.exit(main())
