"""`cases audit verify` over a generated log, against reading the same rows alone.

Run from the repository root (it imports the history generator from tests/):

    .venv/bin/python -m benchmarks.audit_verify [--events 1000000]
        [--store postgres|sqlite] [--rounds 3] [--batch-size 10000]
        [--builder-events 100000] [--workers 1,2] [--database NAME]

The script records `--events` support-case events in bulk (`BulkWriter`) on a
throwaway store (a PostgreSQL database dropped afterwards, or a temporary
SQLite file), applies the migrations, times the tree builder over the first
`--builder-events` events as it was (notifications, executemany) and as it is
(stored rows, COPY on PostgreSQL), `--rounds` times each, alternating, then
builds the audit log's tree with a
checkpoint every 10 000 events (timed: the tree builder's append rate), then,
`--rounds` times in alternation:

- reading: every row in position order as `verify` reads them
  (`persistence.event_rows.row_batches`: tuples, no notification objects),
  and nothing else;
- verifying: `LogVerifier.verify()`, everything `cases audit verify` does, once
  for each worker count of `--workers` (1: one process; more: a process pool
  over position ranges, ADR 0043), in that order, then the other way round.

It prints the medians (events/s) and their ratio, the client's CPU time per
event (this process and the verify workers; not the server's), and the median time to issue a
checkpoint of the whole tree (one event appended, then `CheckpointIssuer.issue`
from the frontier; 9 times).

PostgreSQL: the server named by CASES_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres). With `--database NAME` the
database is kept (and its key in the temporary directory's NAME folder): the
first run records and builds, later runs find the tree built and go straight to
the rounds (`--rounds 0`: record and build only). Drop it by hand when done.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import psycopg
from eventsourcing.persistence import StoredEvent
from psycopg import sql as psql

from cases.audit_log.keys import verifier_from, write_key
from cases.audit_log.tree_store import TreeStore
from cases.audit_log.verify import LogVerifier
from cases.db.database import ProjectionDatabase, open_projection_db
from cases.db.schema import migrate
from cases.db.shapes import insert
from cases.db.statement import identifier, sql
from cases.followers.tree_builder import TreeBuilder, tree_builders
from cases.log_config import configure_logging
from cases.persistence.database_url import parse_database_url
from cases.persistence.event_log import EventLog
from cases.persistence.event_rows import StoredRow, row_batches, select_rows
from cases.persistence.event_sql import as_uuid
from cases.persistence.store import open_event_log
from cases.settings import Settings
from tests.support.history import BulkWriter, SupportHistory

ADMIN_URL = os.environ.get(
    "CASES_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CHUNK = 5_000


@contextlib.contextmanager
def fresh_store(store: str) -> Iterator[tuple[str, Path]]:
    with tempfile.TemporaryDirectory(prefix="cases-bench-") as tmp:
        if store == "sqlite":
            yield f"sqlite:///{tmp}/cases.db", Path(tmp)
            return
        name = f"cases_bench_{uuid4().hex[:10]}"
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(psql.SQL("CREATE DATABASE {}").format(psql.Identifier(name)))
        try:
            yield urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{name}")), Path(tmp)
        finally:
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(
                    psql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        psql.Identifier(name)
                    )
                )


@contextlib.contextmanager
def kept_store(name: str) -> Iterator[tuple[str, Path]]:
    """A PostgreSQL database named `name`, created if absent and never dropped."""
    folder = Path(tempfile.gettempdir()) / name
    folder.mkdir(exist_ok=True)
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found is None:
            admin.execute(psql.SQL("CREATE DATABASE {}").format(psql.Identifier(name)))
    yield urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{name}")), folder


def timed(label: str, started: float) -> float:
    elapsed = time.perf_counter() - started
    print(f"  {label}: {elapsed:.1f} s", flush=True)
    return elapsed


def time_issuing(builder: TreeBuilder, log: EventLog, db: ProjectionDatabase) -> list[float]:
    """Seconds to issue a checkpoint of the whole tree, 9 times (one event more each)."""
    if builder.issuer is None:
        raise SystemExit("no signing key")
    _, _, _, topic, state = select_rows(log, 1, 1)[0]
    times = []
    for _ in range(9):
        log.recorder.insert_events([StoredEvent(uuid4(), 1, topic, state)])
        builder.catch_up()
        with db.transaction():
            head = TreeStore(db).head(lock=True)
            started = time.perf_counter()
            builder.issuer.issue(builder.store, head, builder.clock.now())
            times.append(time.perf_counter() - started)
    return times


class _NotificationsBuilder(TreeBuilder):
    """The builder as it was before COPY: reads the library's notifications."""

    def rows(self, after: int, head: int) -> list[StoredRow]:
        notifications = self.log.recorder.select_notifications(
            start=after + 1, limit=self.batch_size, stop=head
        )
        return [
            (n.id, as_uuid(n.originator_id), n.originator_version, n.topic, bytes(n.state))
            for n in notifications
        ]


class _ExecutemanyDatabase:
    """The projection database with its bulk insert as it was before COPY."""

    def __init__(self, db: ProjectionDatabase) -> None:
        self.db = db

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)

    def insert_rows(
        self, table: str, columns: tuple[str, ...], rows: Sequence[tuple[object, ...]]
    ) -> None:
        self.db.executemany(insert(table, columns), rows)


def _reset_tree(db: ProjectionDatabase) -> None:
    with db.transaction():
        for table in ("audit_log_leaves", "audit_log_nodes", "audit_log_checkpoints"):
            db.execute(sql("DELETE FROM {t}", t=identifier(table)))
        db.execute("UPDATE audit_log_tree SET size = 0, position = 0, frontier = ''")


def compare_builders(
    make: Callable[[], TreeBuilder], db: ProjectionDatabase, events: int, rounds: int
) -> None:
    """The builder's append rate over the first `events` events, before (notifications,
    executemany) and now (stored rows, COPY on PostgreSQL), alternating; the tree is
    emptied after each."""
    rates: dict[str, list[float]] = {"before": [], "now": []}
    for _ in range(rounds):
        for label, measured in rates.items():
            current = make()
            builder = (
                _NotificationsBuilder(
                    current.log,
                    cast(ProjectionDatabase, _ExecutemanyDatabase(db)),
                    issuer=current.issuer,
                    batch_size=current.batch_size,
                )
                if label == "before"
                else current
            )
            started = time.perf_counter()
            appended = 0
            while appended < events:
                appended += builder.step().applied
            measured.append(appended / (time.perf_counter() - started))
            _reset_tree(db)
        print(
            f"  builder over {events:,}: before {rates['before'][-1]:,.0f} events/s, "
            f"now {rates['now'][-1]:,.0f} events/s",
            flush=True,
        )
    before, now = statistics.median(rates["before"]), statistics.median(rates["now"])
    print(f"  builder medians: before {before:,.0f}, now {now:,.0f} events/s ({now / before:.1f}x)")


def prepare(
    log: EventLog, db: ProjectionDatabase, settings: Settings, options: argparse.Namespace
) -> TreeBuilder:
    """Record the history and build its tree, unless a kept database holds them."""
    make = tree_builders(settings, log, lambda: db, create_key=False, batch_size=options.batch_size)
    if TreeStore(db).head().size > 0:
        print(f"  kept database: the tree holds {TreeStore(db).head().size:,} events", flush=True)
        return make()
    started = time.perf_counter()
    history = SupportHistory(seed=1, customers=5000, cases_per_day=110, agents=40)
    history.record(BulkWriter(log, chunk=CHUNK), options.events)
    timed(f"recorded {history.events:,} events", started)
    vacuum(settings, options.store)
    if options.builder_events > 0:  # 0: time only the build below
        compare_builders(
            make, db, min(options.builder_events, history.events), max(options.rounds, 1)
        )
    builder = make()
    started = time.perf_counter()
    appended = builder.catch_up()
    built = timed(f"tree built over {appended:,} events", started)
    print(f"  tree builder: {appended / built:,.0f} events/s", flush=True)
    vacuum(settings, options.store)
    return builder


def vacuum(settings: Settings, store: str) -> None:
    if store == "postgres":
        with psycopg.connect(settings.effective_database_url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")


def cpu_seconds() -> float:
    """CPU time of this process and of its children that ended (verify's workers)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def load() -> str:
    return " ".join(f"{figure:.2f}" for figure in os.getloadavg())


def run(options: argparse.Namespace) -> None:
    configure_logging("WARNING")
    workers: list[int] = [int(w) for w in options.workers.split(",")]
    print(f"load average at the start: {load()}", flush=True)
    opened = kept_store(options.database) if options.database else fresh_store(options.store)
    with opened as (url, folder):
        key = folder / "audit-log.key"
        settings = Settings(
            database_url=url,
            data_dir=folder,
            audit_log_key_file=key,
            audit_log_checkpoint_events=10_000,
            audit_log_checkpoint_seconds=86_400,
        )
        if not key.exists():
            write_key(key, settings.audit_log_origin)
        migrate(parse_database_url(url))
        log = open_event_log(settings)
        db = open_projection_db(settings)
        try:
            builder = prepare(log, db, settings, options)
            if options.rounds == 0:
                return
            issue_times = time_issuing(builder, log, db)
            verifiers = {
                count: LogVerifier(
                    log,
                    TreeStore(db),
                    verifier_from(settings),
                    settings.audit_log_origin,
                    batch_size=options.batch_size,
                    workers=count,
                    settings=settings,
                )
                for count in workers
            }
            reads: list[float] = []
            verifies: dict[int, list[float]] = {count: [] for count in workers}
            cpu: dict[int, list[float]] = {count: [] for count in workers}
            for round_ in range(options.rounds):
                started = time.perf_counter()
                count = sum(len(batch) for batch in row_batches(log, options.batch_size))
                reads.append(count / (time.perf_counter() - started))
                line = f"  round {round_ + 1}: read {reads[-1]:,.0f} events/s"
                order = list(verifiers.items())
                for workers_, verifier in order if round_ % 2 == 0 else order[::-1]:
                    started, used = time.perf_counter(), cpu_seconds()
                    result = verifier.verify()
                    verifies[workers_].append(result.events / (time.perf_counter() - started))
                    cpu[workers_].append((cpu_seconds() - used) / result.events * 1e6)
                    if not result.ok:
                        raise SystemExit(f"the generated log does not verify: {result.finding}")
                    line += (
                        f", verify ({workers_} workers) {verifies[workers_][-1]:,.0f}"
                        f" ({cpu[workers_][-1]:.1f} CPU us/event)"
                    )
                print(f"{line} events/s ({result.checkpoints} checkpoints)", flush=True)
        finally:
            db.close()
            log.close()
    read = statistics.median(reads)
    print(
        f"store {options.store}, {count:,} events, batch {options.batch_size}, "
        f"{options.rounds} rounds (medians):"
    )
    print(f"  read alone              {read:>10,.0f} events/s")
    for workers_, rates in verifies.items():
        rate = statistics.median(rates)
        ratios = ", ".join(f"{v / r:.2f}" for v, r in zip(rates, reads, strict=True))
        print(
            f"  verify, {workers_} workers      {rate:>10,.0f} events/s   "
            f"ratio {rate / read:.2f} (rounds {ratios}); "
            f"client CPU {statistics.median(cpu[workers_]):.1f} us/event"
        )
    print(f"  issue a checkpoint at {count:,}: {statistics.median(issue_times) * 1000:.2f} ms")
    print(f"load average at the end: {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--store", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--builder-events", type=int, default=100_000)
    parser.add_argument(
        "--workers", default="1,2", help="worker counts to verify with, each round, in order"
    )
    parser.add_argument(
        "--database", help="keep this PostgreSQL database (created and recorded once)"
    )
    options = parser.parse_args()
    if options.database and options.store != "postgres":
        parser.error("--database keeps a PostgreSQL database only")
    run(options)


if __name__ == "__main__":
    main()
