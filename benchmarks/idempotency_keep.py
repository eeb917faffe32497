"""What keeping one answer under an Idempotency-Key costs (ADR 31, amendment of 2026-12-05).

Run: PYTHONPATH=src .venv/bin/python benchmarks/idempotency_keep.py [--keeps 3000]
     [--database URL]

Every command sent with an Idempotency-Key ends by keeping its answer under the key
(`IdempotencyStore.keep`, on the API's request connections, autocommit). This times
that call alone on PostgreSQL: client CPU and wall microseconds a keep, over fresh
keys (the sweep of expired answers held off, as it runs once a minute). Without
`--database` it uses a throwaway database. Run two trees alternately (PYTHONPATH)
to compare them on a shared machine; quote medians.
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime

import psycopg

from cases.api.idempotency import IdempotencyStore
from cases.api.read_pool import ReadPool
from cases.clock import ManualClock
from cases.db.database import ProjectionDatabase
from cases.db.schema import migrate
from cases.persistence.database_url import parse_database_url

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def time_keeps(url: str, keeps: int) -> tuple[float, float]:
    """CPU and wall microseconds a keep, over `keeps` fresh keys."""
    parsed = parse_database_url(url)
    migrate(parsed)
    pool = ReadPool(lambda: ProjectionDatabase(parsed))
    store = IdempotencyStore(pool, ManualClock(datetime(2026, 3, 2, tzinfo=UTC)))
    store._swept_at = float("inf")  # the once-a-minute sweep is not what is timed
    run = uuid.uuid4().hex[:8]
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(keeps):
        store.keep(
            "owner",
            f"{run}-{i}",
            request_hash="request",
            status=201,
            headers=[("location", "/cases/1")],
            body=b"x" * 300,
        )
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    while (db := pool.take()) is not None:
        db.close()
    return 1e6 * cpu / keeps, 1e6 * wall / keeps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keeps", type=int, default=3000)
    parser.add_argument("--database", help="an existing PostgreSQL database (URL)")
    args = parser.parse_args()
    if args.database:
        cpu, wall = time_keeps(args.database, args.keeps)
    else:
        name = f"cases_bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        try:
            cpu, wall = time_keeps(ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", args.keeps)
        finally:
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    print(f"keep: {cpu:.0f} us CPU, {wall:.0f} us wall a keep ({args.keeps} keeps)")


if __name__ == "__main__":
    main()
