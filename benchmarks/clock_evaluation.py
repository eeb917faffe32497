"""The scheduled service-level check over many open cases, on PostgreSQL and SQLite.

Run: .venv/bin/python benchmarks/clock_evaluation.py [--cases N] [--repeats R]
     [--stores postgres,sqlite] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

For each store it receives N open cases (default 100 000) under the demo
partner's terms, spread over the ten business days before the run and over the
three severities, a third of them already answered (their next-update clock
runs). Cases are saved 1 000 to a transaction. Then, as of one moment:

* first run: every case is evaluated (candidates = all N, what the projection
  would name if every case had something due); most have a first-response,
  next-update or resolution deadline behind them, and each such breach is
  recorded, at its deadline, in the case's own command;
* repeated run (R times, median), same moment, same N candidates: nothing is
  due any more, each case is only read (the idempotent path);
* projection-selected run: the service-levels projection is caught up and asked
  for the cases with a deadline passed (`ServiceLevelsView.cases_due`), the way
  `cases clocks evaluate` runs: after the first run it names none, so the run
  costs one query.

Rates are cases per second of wall time. PostgreSQL runs in a throwaway
database; SQLite in a temporary file. Logging is kept to warnings.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
from psycopg import sql

from cases.application.caller import Caller
from cases.application.clock_run import ClockRunSummary, run_clock_evaluation
from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.db.database import ProjectionDatabase
from cases.db.schema import migrate
from cases.domain import case_commands as cmd
from cases.domain.case_values import CaseCategory, Contact, Direction
from cases.domain.metadata import Actor, Role, Source
from cases.domain.support_case import SupportCase
from cases.domain.support_terms import Channel, Severity
from cases.followers.catalog import projection_named
from cases.followers.runner import ProjectionRunner
from cases.log_config import configure_logging
from cases.persistence.database_url import parse_database_url
from cases.reports.service_levels import ServiceLevelsView
from cases.scenario.support import partner_terms
from cases.settings import Settings

RUN_AT = datetime(2026, 6, 12, 14, 0, tzinfo=UTC)  # a Friday afternoon in Stockholm
SPREAD = timedelta(days=14)
CHUNK = 1_000
SEVERITIES = (Severity.CRITICAL, Severity.MODERATE, Severity.MODERATE, Severity.MINIMAL)


@contextmanager
def postgres_store(admin_url: str) -> Iterator[str]:
    name = f"cases_bench_{uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def sqlite_store() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


def receive_cases(services: Services, clock: ManualClock, count: int) -> list[UUID]:
    """`count` open cases received over the two weeks before the run."""
    rng = random.Random(7)
    agent = Caller.new(Actor("bench-agent", Role.HELPDESK_AGENT), Source.IMPORT)
    services.desk.publish_terms(agent, partner_terms("Microsoft"), clock.now())
    terms = services.desk.terms_in_force(RUN_AT - SPREAD)
    contact = Contact("Karin Lund", "karin@example.com", None)
    ids: list[UUID] = []
    pending: list[SupportCase] = []
    for n in range(count):
        received_at = RUN_AT - SPREAD * rng.random()
        ctx = agent.context(received_at)
        case = SupportCase.receive(
            ctx,
            cmd.TakeIn(
                customer_id=f"customer-{n % 5_000:05}",
                contact=contact,
                channel=Channel.EMAIL,
                product="Exchange Online",
                category=CaseCategory.TECHNICAL,
                severity=SEVERITIES[n % len(SEVERITIES)],
                title="Mail to external recipients is delayed",
                description="Outbound mail queues for up to an hour.",
                received_at=received_at,
            ),
            case_id=uuid4(),
            terms=terms,
        )
        if n % 3 == 0:
            answered = received_at + timedelta(minutes=rng.randint(5, 240))
            if answered < RUN_AT:
                case.record_communication(
                    agent.context(answered),
                    cmd.RecordCommunication(Direction.OUTBOUND, Channel.EMAIL, "On it"),
                )
        ids.append(case.id)
        pending.append(case)
        if len(pending) == CHUNK:
            services.log.save(*pending)
            pending.clear()
    if pending:
        services.log.save(*pending)
    clock.set(RUN_AT + timedelta(minutes=1))
    return ids


def timed_run(services: Services, candidates: list[UUID]) -> tuple[float, ClockRunSummary]:
    caller = Caller.new(Actor("clock-evaluation", Role.SYSTEM), Source.SCHEDULER)
    started = time.perf_counter()
    summary = run_clock_evaluation(services.desk, caller, RUN_AT, candidates)
    return time.perf_counter() - started, summary


def projection_selected(services: Services, url: str) -> tuple[float, float, int]:
    """Catch the projection up (seconds), then one selected run: (catch-up s,
    selection-and-run s, candidates)."""
    db = ProjectionDatabase(parse_database_url(url))
    try:
        runner = ProjectionRunner(services.log, projection_named("service_levels"), db)
        started = time.perf_counter()
        runner.catch_up()
        caught_up = time.perf_counter() - started
        started = time.perf_counter()
        candidates = list(ServiceLevelsView(db).cases_due(RUN_AT))
        _, summary = timed_run(services, candidates)
        selected = time.perf_counter() - started
    finally:
        db.close()
    if summary.breaches:
        sys.exit("the projection-selected run found breaches the first run missed")
    return caught_up, selected, len(candidates)


def bench(label: str, url: str, count: int, repeats: int) -> None:
    migrate(parse_database_url(url))
    clock = ManualClock(RUN_AT - SPREAD - timedelta(days=1))
    services = bootstrap(Settings(database_url=url), clock)
    try:
        started = time.perf_counter()
        ids = receive_cases(services, clock, count)
        setup = time.perf_counter() - started
        first_s, first = timed_run(services, ids)
        repeats_s = []
        for _ in range(repeats):
            seconds, again = timed_run(services, ids)
            if again.breaches or again.evaluated != count:
                sys.exit(f"{label}: the repeated run recorded breaches")
            repeats_s.append(seconds)
        catch_up_s, selected_s, selected = projection_selected(services, url)
    finally:
        services.close()
    if first.failures or first.evaluated != count:
        sys.exit(f"{label}: the first run failed on {len(first.failures)} cases")
    repeat_s = statistics.median(repeats_s)
    breached_cases = len({b.case_id for b in first.breaches})
    print(
        f"{label:<9} {count:>8,} {count / setup:>10,.0f} {count / first_s:>10,.0f} "
        f"{breached_cases:>9,} {len(first.breaches):>9,} {count / repeat_s:>11,.0f} "
        f"{catch_up_s:>10.1f} {selected:>9} {selected_s * 1000:>10.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stores", default="postgres,sqlite")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    configure_logging("WARNING")
    print(f"clock evaluation as of {RUN_AT.isoformat()}; repeated run: median of {args.repeats}")
    print(
        f"{'store':<9} {'cases':>8} {'saved/s':>10} {'first/s':>10} {'breached':>9} "
        f"{'breaches':>9} {'repeat/s':>11} {'catchup s':>10} {'selected':>9} {'sel. ms':>10}"
    )
    stores = {"postgres": lambda: postgres_store(args.admin_url), "sqlite": sqlite_store}
    for name in args.stores.split(","):
        with stores[name]() as url:
            bench(name, url, args.cases, args.repeats)


if __name__ == "__main__":
    main()
