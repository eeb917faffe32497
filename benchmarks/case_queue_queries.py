"""Case-queue queries over a million cases: median and p99 milliseconds.

Run from the repository root:

    .venv/bin/python -m benchmarks.case_queue_queries [--cases 1000000]
        [--queries 500] [--stores sqlite,postgres]

For each store (a temporary SQLite file; a throwaway PostgreSQL database,
dropped afterwards even on error) the script applies the read-model
migrations and fills `case_queue` directly (COPY on PostgreSQL, executemany
on SQLite) with `--cases` rows drawn from realistic distributions: 5 000
customers (a few busy, most quiet), received over three years, statuses
skewed to closed (recent cases are the open ones), three severities, sixty
agents. PostgreSQL then gets VACUUM ANALYZE (the state autovacuum leaves);
SQLite gets no ANALYZE, as the service never runs one.

Each query goes through `CaseQueueView.page` (the SQL and the row conversion
the API pays for), `--queries` times with random arguments, after a warm-up:

1. customer + status "closed", received newest first, first page of 50;
2. customer + status "in_progress", the same;
3. page 2 of (1), with the keyset `after` of page 1's last row;
4. status + severity, last update newest first, first page of 50.

The plans' index names are printed once per query (EXPLAIN), to show which
index serves it.

PostgreSQL: the server named by CASES_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from benchmarks.projections_catch_up import fresh_store

from cases.db.database import ProjectionDatabase
from cases.db.schema import migrate
from cases.db.shapes import insert
from cases.db.statement import Sql, sql
from cases.domain.case_values import CaseStatus
from cases.persistence.database_url import parse_database_url
from cases.projections.case_queue import COLUMNS, CaseFilter, CaseQueueView

ADMIN_URL = os.environ.get(
    "CASES_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SPAN = timedelta(days=3 * 365)
CUSTOMERS = 5000
AGENTS = tuple(f"agent-{n:02d}" for n in range(60))
PRODUCTS = ("Exchange Online", "Microsoft Teams", "SharePoint Online", "Azure", "Intune")
SEVERITIES = ("critical", "moderate", "minimal")
CATEGORIES = ("technical", "billing", "subscription", "commercial")
S = CaseStatus
# Status by age: the last fortnight is mostly open, older cases mostly closed.
STATUS_BY_AGE = (
    (timedelta(days=14), (S.NEW, S.IN_PROGRESS, S.WAITING_ON_CUSTOMER, S.ESCALATED, S.RESOLVED, S.CLOSED), (15, 40, 15, 10, 15, 5)),  # noqa: E501
    (timedelta(days=60), (S.IN_PROGRESS, S.WAITING_ON_CUSTOMER, S.ESCALATED, S.RESOLVED, S.CLOSED), (10, 5, 5, 20, 60)),  # noqa: E501
    (SPAN, (S.RESOLVED, S.CLOSED), (2, 98)),
)  # fmt: skip


# Rows -----------------------------------------------------------------------


def case_rows(count: int, seed: int = 3) -> Iterator[tuple[object, ...]]:
    """`count` case-queue rows, in COLUMNS order."""
    rng = random.Random(seed)
    weights = list(itertools.accumulate(1 / (n + 1) ** 0.8 for n in range(CUSTOMERS)))
    customers = [f"customer-{n:04d}" for n in range(CUSTOMERS)]
    for position in range(1, count + 1):
        received = NOW - SPAN * rng.random()
        age = NOW - received
        status = next(
            rng.choices(statuses, weights=w)[0]
            for limit, statuses, w in STATUS_BY_AGE
            if age <= limit
        )
        updated = min(NOW, received + timedelta(hours=rng.expovariate(1 / 72)))
        done = status in (S.RESOLVED, S.CLOSED)
        escalated = rng.random() < 0.12
        row = {
            "case_id": UUID(int=rng.getrandbits(128), version=4),
            "customer_id": rng.choices(customers, cum_weights=weights)[0],
            "title": "Users cannot sign in since this morning",
            "product": rng.choice(PRODUCTS),
            "channel": rng.choice(("phone", "email", "portal", "chat")),
            "category": rng.choices(CATEGORIES, weights=(55, 15, 15, 15))[0],
            "severity": rng.choices(SEVERITIES, weights=(10, 50, 40))[0],
            "status": status.value,
            "assignee": None if rng.random() < 0.05 else rng.choice(AGENTS),
            "received_at": received,
            "first_response_at": received + timedelta(minutes=rng.uniform(5, 240)),
            "last_update_at": updated,
            "resolved_at": updated if done else None,
            "closed_at": updated if status is S.CLOSED else None,
            "waiting_on_customer": status is S.WAITING_ON_CUSTOMER,
            "work_started": status is not S.NEW,
            "escalation_count": 1 if escalated else 0,
            "escalation_open": status is S.ESCALATED,
            "escalation_target": "vendor" if escalated else None,
            "escalation_vehicle": "advanced_support_for_partners" if escalated else None,
            "vendor_reference": f"{rng.randrange(10**15, 10**16)}" if escalated else None,
            "matched_advisory": None,
            "terms_version": 1,
            "reopen_count": 0,
            "billing_account_id": None,
            "version": rng.randint(2, 30),
            "position": position,
        }
        yield tuple(row[c] for c in COLUMNS)


def fill(db: ProjectionDatabase, count: int) -> float:
    """Insert `count` rows; return the seconds it took."""
    started = time.perf_counter()
    rows = case_rows(count)
    if db.is_postgres:
        with (
            db.postgres.cursor() as cursor,
            cursor.copy(f"COPY case_queue ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        db.execute("VACUUM ANALYZE case_queue")
    else:
        while chunk := list(itertools.islice(rows, 50_000)):
            with db.transaction():
                db.executemany(insert("case_queue", COLUMNS), chunk)
    return time.perf_counter() - started


# Queries --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timing:
    store: str
    query: str
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p99(self) -> float:
        return statistics.quantiles(self.samples, n=100)[98]


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return (time.perf_counter() - started) * 1000, result


def as_after(row: dict[str, Any], column: str) -> tuple[datetime, UUID]:
    moment, case_id = row[column], row["case_id"]
    if not isinstance(moment, datetime):
        moment = datetime.fromisoformat(str(moment))
    return moment, case_id if isinstance(case_id, UUID) else UUID(str(case_id))


def customer_queries(rng: random.Random, count: int) -> list[str]:
    """Customers as the desk looks them up: the busy ones more often."""
    weights = list(itertools.accumulate(1 / (n + 1) ** 0.8 for n in range(CUSTOMERS)))
    customers = [f"customer-{n:04d}" for n in range(CUSTOMERS)]
    return [rng.choices(customers, cum_weights=weights)[0] for _ in range(count)]


def measure(store: str, db: ProjectionDatabase, queries: int) -> list[Timing]:
    view = CaseQueueView(db)
    rng = random.Random(11)
    timings: dict[str, list[float]] = {}

    def record(name: str, ms: float) -> None:
        timings.setdefault(name, []).append(ms)

    customers = customer_queries(rng, queries)
    for customer in customers[:20]:  # warm-up: caches, prepared statements
        view.page(CaseFilter(customer_id=customer, status="closed"))
    for customer in customers:
        where = CaseFilter(customer_id=customer, status="closed")
        ms, page = timed(lambda where=where: view.page(where, sort="received"))
        record("customer+closed, received desc, page 1", ms)
        if len(page) == 50:
            after = as_after(page[-1], "received_at")
            ms, _ = timed(lambda where=where, after=after: view.page(where, after=after))
            record("customer+closed, received desc, page 2 (keyset)", ms)
        where = CaseFilter(customer_id=customer, status="in_progress")
        ms, _ = timed(lambda where=where: view.page(where, sort="received"))
        record("customer+in_progress, received desc, page 1", ms)
    for _ in range(queries):
        where = CaseFilter(
            status=rng.choice([s.value for s in CaseStatus]), severity=rng.choice(SEVERITIES)
        )
        ms, _ = timed(lambda where=where: view.page(where, sort="last_update"))
        record("status+severity, last update desc, page 1", ms)
    return [Timing(store, name, samples) for name, samples in timings.items()]


# Plans ----------------------------------------------------------------------


def captured_sql(db: ProjectionDatabase, call: Callable[[], Any]) -> tuple[Sql, list[object]]:
    """The statement (and parameters) `call` sends through `db.fetchall`."""
    seen: list[tuple[Sql, list[object]]] = []
    original = db.fetchall

    def recording(statement: Sql, params: Any = ()) -> Any:
        seen.append((statement, list(params)))
        return original(statement, params)

    db.fetchall = recording  # type: ignore[method-assign]
    try:
        call()
    finally:
        del db.fetchall
    return seen[-1]


def plan_indexes(db: ProjectionDatabase, statement: Sql, params: list[object]) -> str:
    if db.is_postgres:
        (plan,) = db.fetchall(
            sql("EXPLAIN (FORMAT JSON) {statement}", statement=statement), params
        )[0]
        text = json.dumps(plan)
        nodes = re.findall(r'"Node Type": "([^"]+)"', text)
        names = re.findall(r'"Index Name": "([^"]+)"', text)
        return f"{', '.join(dict.fromkeys(names)) or 'no index'}  [{' > '.join(nodes)}]"
    explained = db.fetchall(sql("EXPLAIN QUERY PLAN {statement}", statement=statement), params)
    details = [str(row[-1]) for row in explained]
    return "; ".join(details)


def print_plans(db: ProjectionDatabase) -> None:
    view = CaseQueueView(db)
    busy = CaseFilter(customer_id="customer-0000", status="closed")
    first = view.page(busy)
    queries: dict[str, Callable[[], Any]] = {
        "customer+closed, page 1": lambda: view.page(busy),
        "customer+closed, page 2": lambda: view.page(
            busy, after=as_after(first[-1], "received_at")
        ),
        "customer+in_progress": lambda: view.page(
            CaseFilter(customer_id="customer-0042", status="in_progress")
        ),
        "status+severity by last update": lambda: view.page(
            CaseFilter(status="escalated", severity="critical"), sort="last_update"
        ),
    }
    for name, call in queries.items():
        statement, params = captured_sql(db, call)
        print(f"    plan {name:<32} {plan_indexes(db, statement, params)}")


# Run ------------------------------------------------------------------------


def measure_store(store: str, args: argparse.Namespace) -> list[Timing]:
    with fresh_store(store, args.postgres_url) as url:
        migrate(parse_database_url(url))
        db = ProjectionDatabase(parse_database_url(url))
        try:
            print(f"\n{store}: filling case_queue with {args.cases:,} rows", flush=True)
            seconds = fill(db, args.cases)
            print(f"  filled in {seconds:.1f} s", flush=True)
            print_plans(db)
            timings = measure(store, db, args.queries)
            for t in timings:
                print(
                    f"  {t.query:<50} median {t.median:7.2f} ms  p99 {t.p99:7.2f} ms "
                    f"({len(t.samples)} queries)",
                    flush=True,
                )
            return timings
        finally:
            db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default=ADMIN_URL, help="admin URL of the server")
    args = parser.parse_args()
    timings: list[Timing] = []
    for store in args.stores.split(","):
        timings += measure_store(store, args)
    print("\n| store | query | median ms | p99 ms |")
    print("|-------|-------|----------:|-------:|")
    for t in timings:
        print(f"| {t.store} | {t.query} | {t.median:.2f} | {t.p99:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
