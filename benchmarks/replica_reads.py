"""Queries per second with a streaming replica against the primary alone, same run.

Run: .venv/bin/python benchmarks/replica_reads.py [--cases 2000] [--customers 40]
         [--clients 8] [--workers 2] [--duration 10] [--rounds 3]

Needs a test PostgreSQL that offers replication (`tests/support/replica.py` says
what it needs; as root, the replica runs as the `postgres` user). The script makes
a streaming replica of it (`pg_basebackup -R`: the whole cluster), a throwaway
database on the primary seeded with --cases cases over --customers customers
(`benchmarks/_harness.py`), `cases projections run`, and two `cases serve
--workers N`: one reading everything from the primary, one with
CASES_READ_DATABASE_URL on the replica (ADR 0064). Once the replica has replayed
the seed, each round measures, against each server in turn, --clients client
processes (one keep-alive connection each, no think time) for --duration seconds:

* queue:  GET /cases?customer_id=...&status=new (a page of 50 from the case queue);
* report: GET /reports/compliance for the seeded month, grouped by customer.

It prints queries/s per round and the medians, and the ratio replica/primary.
Both servers and both databases share the machine's cores: on one machine a
replica adds no CPU, so this measures the cost of the routing, not the capacity a
second machine would add. Every process and database is gone on the way out.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

from benchmarks import _harness as harness
from psycopg import sql

from cases.application.caller import Caller
from cases.bootstrap import bootstrap
from cases.clock import ManualClock
from cases.db.schema import migrate
from cases.domain.metadata import Actor, Role, Source
from cases.log_config import configure_logging
from cases.persistence.database_url import parse_database_url
from cases.settings import Settings
from tests.support.postgres import ADMIN_URL
from tests.support.replica import admin_connection, replication_unavailable, streaming_replica

SETUP = Actor("bench-setup", Role.SYSTEM)


def _client(port: int, paths: list[str], token: str, seconds: float) -> int:
    """Requests answered in `seconds`, cycling through `paths` (any but 200 stops it)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    done, i = 0, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        connection.request("GET", paths[i % len(paths)], headers=headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{paths[i % len(paths)]}: {response.status} {body[:300]!r}")
        done += 1
        i += 1
    connection.close()
    return done


def _rate(
    pool: ProcessPoolExecutor,
    port: int,
    paths: list[str],
    token: str,
    *,
    clients: int,
    seconds: float,
) -> float:
    futures = [
        pool.submit(_client, port, paths[i:] + paths[:i], token, seconds) for i in range(clients)
    ]
    return sum(f.result() for f in futures) / seconds


def _auditor_token(url: str, data_dir: Path) -> str:
    services = bootstrap(
        Settings(database_url=url, data_dir=data_dir), ManualClock(datetime.now(UTC))
    )
    try:
        caller = Caller.new(SETUP, Source.CLI)
        return services.principals.create(caller, name="Bench auditor", role=Role.AUDITOR).token
    finally:
        services.close()


@contextmanager
def _throwaway_database() -> Iterator[str]:
    """A new database on the test server, dropped after (its admin connections
    retried: the shared server runs out of connections at times)."""
    name = f"cases_replica_bench_{uuid4().hex[:12]}"
    with admin_connection() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{name}"))
    finally:
        with admin_connection() as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def run(args: argparse.Namespace) -> int:
    reason = replication_unavailable()
    if reason is not None:
        print(f"error: no streaming replica: {reason}", file=sys.stderr)
        return 2
    children = harness.Children()
    with ExitStack() as stack:
        stack.callback(children.stop_all)
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="replica-bench-")))
        started = time.monotonic()
        replica = stack.enter_context(streaming_replica())
        print(f"replica up in {time.monotonic() - started:.0f} s", flush=True)
        url = stack.enter_context(_throwaway_database())
        migrate(parse_database_url(url))
        configure_logging("WARNING")
        seed = harness.seed_store(url, work, args.cases, args.customers, 1)
        auditor = _auditor_token(url, work)
        env = {
            **os.environ,
            "CASES_DATABASE_URL": url,
            "CASES_DATA_DIR": str(work),
            "CASES_LOG_LEVEL": "WARNING",
        }
        runner = harness.start_projections(children, env, work / "projections.log")
        ports = {"primary": harness.free_port(), "replica": harness.free_port()}
        servers = {
            "primary": harness.start_server(
                children, env, work / "primary.log", ports["primary"], args.workers
            ),
            "replica": harness.start_server(
                children,
                {**env, "CASES_READ_DATABASE_URL": replica.url_of(url)},
                work / "replica.log",
                ports["replica"],
                args.workers,
            ),
        }
        probe = f"http://127.0.0.1:{ports['primary']}/cases/{seed.case_ids[-1]}?min_position={seed.position}"
        harness.wait_until(
            lambda: harness.http_get(probe, seed.tokens[0], timeout=30) == 200,
            "projections catch up",
            600,
            lambda: runner.poll() is None,
        )
        time.sleep(2)  # the other read models' last batches
        if not replica.caught_up(600):
            raise RuntimeError("the replica did not catch up")
        month = datetime.now(UTC) - timedelta(hours=1)
        start, end = month.date().replace(day=1), (month + timedelta(days=32)).date().replace(day=1)
        phases: dict[str, tuple[list[str], str]] = {
            "queue": (
                [f"/cases?customer_id={c}&status=new" for c in seed.customers],
                seed.tokens[0],
            ),
            "report": ([f"/reports/compliance?from={start}&to={end}&group_by=customer"], auditor),
        }
        rates: dict[tuple[str, str], list[float]] = {}
        with ProcessPoolExecutor(args.clients) as pool:
            for paths, token in phases.values():  # warm both servers' connections
                for target in servers:
                    _rate(pool, ports[target], paths, token, clients=args.clients, seconds=2)
            for round_ in range(args.rounds):
                for phase, (paths, token) in phases.items():
                    for target in servers:
                        rate = _rate(
                            pool,
                            ports[target],
                            paths,
                            token,
                            clients=args.clients,
                            seconds=args.duration,
                        )
                        rates.setdefault((phase, target), []).append(rate)
                        print(
                            f"round {round_ + 1} {phase:6} {target:7} {rate:8.1f} queries/s",
                            flush=True,
                        )
        print(f"\nload average: {os.getloadavg()[0]:.2f} (1 min) at the end")
        for phase in phases:
            primary = statistics.median(rates[(phase, "primary")])
            on_replica = statistics.median(rates[(phase, "replica")])
            print(
                f"{phase:6} median: primary {primary:8.1f}/s  replica {on_replica:8.1f}/s  "
                f"replica/primary {on_replica / primary:.2f}"
            )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=40)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    job: Callable[[], int] = lambda: run(args)  # noqa: E731
    return harness.run_interruptibly(job)


if __name__ == "__main__":
    sys.exit(main())
