"""Collection-run throughput on PostgreSQL and SQLite.

Run: .venv/bin/python benchmarks/collection_run.py [--accounts N] [--repeats R]
     [--stores postgres,sqlite] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

For each store it opens N accounts (one subscription and one 1 000 EUR invoice
each, listed in the account directory), then runs collection twice as of the
same moment:

* the first run has work on 90 % of the accounts: 40 % are 31 days overdue
  (stages -7, +1, +7, +14 and +30: a reminder and a suspension), 30 % are 10
  days overdue, 20 % fall due in 5 days, 10 % have paid;
* the repeated run (R times, median) finds nothing to do and writes nothing.

PostgreSQL runs in a throwaway database created and dropped here; SQLite in a
temporary file. Logging is kept to warnings so it does not weigh on the figures.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import psycopg
from psycopg import sql

from cases.application.caller import Caller
from cases.application.collection_run import CollectionSummary, run_collection
from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.domain import billing_commands as bcmd
from cases.domain.billing_account import BillingAccount
from cases.domain.billing_values import BillingPeriod, InvoiceLine, InvoicePeriod
from cases.domain.collection_policy import CollectionStage, CollectionTerms, StageAction
from cases.domain.metadata import Actor, Role, Source
from cases.domain.money import Money, UnitPrice
from cases.log_config import configure_logging
from cases.settings import Settings

RUN_AT = datetime(2026, 6, 1, 5, 0, tzinfo=UTC)
TODAY = RUN_AT.date()
# Days past due on the run's day, by share of accounts; None: paid in full.
MIX: list[tuple[int | None, int]] = [(31, 4), (10, 3), (-5, 2), (None, 1)]


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


def policy() -> CollectionTerms:
    return CollectionTerms(
        stages=(
            CollectionStage(-7, StageAction.UPCOMING_PAYMENT_REMINDER),
            CollectionStage(1, StageAction.OVERDUE_REMINDER),
            CollectionStage(7, StageAction.OVERDUE_REMINDER),
            CollectionStage(14, StageAction.FINAL_WARNING),
            CollectionStage(30, StageAction.SUSPEND_ACCESS),
        )
    )


def open_accounts(services: Services, count: int) -> None:
    """Open `count` accounts, each saved with its directory entry in one write."""
    caller = Caller.new(Actor("bench-import", Role.BILLING_ADMIN), Source.IMPORT)
    services.billing.publish_collection_policy(caller, policy())
    shares = [days for days, weight in MIX for _ in range(weight)]
    eur = Money.of(1000, "EUR")
    for n in range(count):
        days = shares[n % len(shares)]
        due = TODAY - timedelta(days=days if days is not None else 20)
        issued = due - timedelta(days=30)
        ctx = caller.context(services.clock.now())
        account = BillingAccount.open(
            ctx,
            bcmd.OpenAccount(
                customer_id=f"customer-{n:06}",
                currency="EUR",
                net_days=30,
                billing_period=BillingPeriod.MONTHLY,
            ),
        )
        account.add_subscription(
            ctx, bcmd.AddSubscription(subscription_id="m365", product="Microsoft 365", quantity=10)
        )
        account.issue_invoice(
            ctx,
            bcmd.IssueInvoice(
                number="INV-1",
                period=InvoicePeriod(issued, issued + timedelta(days=29)),
                lines=(InvoiceLine("Microsoft 365 E3", Decimal(10), UnitPrice.of(100, "EUR")),),
                issued_on=issued,
            ),
        )
        if days is None:
            account.receive_payment(
                ctx, bcmd.ReceivePayment(reference="B-1", amount=eur, received_on=issued)
            )
        services.log.save(
            account,
            services.billing.directory.listing(account.id, account.customer_id, ctx.recorded_at),
        )


def timed(services: Services) -> tuple[float, CollectionSummary]:
    caller = Caller.new(Actor("collection-run", Role.SYSTEM), Source.SCHEDULER)
    started = time.perf_counter()
    summary = run_collection(services.billing, caller, RUN_AT)
    return time.perf_counter() - started, summary


def bench(label: str, url: str, count: int, repeats: int) -> dict[str, float]:
    clock = ManualClock(RUN_AT)
    services = bootstrap(Settings(database_url=url), clock)
    try:
        started = time.perf_counter()
        open_accounts(services, count)
        setup = time.perf_counter() - started
        first_seconds, first = timed(services)
        repeat_runs = [timed(services) for _ in range(repeats)]
    finally:
        services.close()
    if first.evaluated != count or any(s.acted_on or s.evaluated != count for _, s in repeat_runs):
        raise SystemExit(f"{label}: a run missed accounts or the repeat found work to do")
    repeat_seconds = statistics.median(seconds for seconds, _ in repeat_runs)
    print(
        f"{label:<10} {count:>7} {count / setup:>10,.0f} {count / first_seconds:>12,.0f} "
        f"{count / repeat_seconds:>13,.0f} {first_seconds / repeat_seconds:>7.1f}x "
        f"{len(first.acted_on):>8} {first.reminders:>6} {first.suspensions:>6}"
    )
    return {"first": count / first_seconds, "repeat": count / repeat_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stores", default="postgres,sqlite")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    configure_logging("WARNING")
    print(
        f"collection run as of {RUN_AT.isoformat()}; first run once, "
        f"repeated run median of {args.repeats}"
    )
    print(
        f"{'store':<10} {'accounts':>7} {'opened/s':>10} {'first acc/s':>12} "
        f"{'repeat acc/s':>13} {'ratio':>8} {'acted on':>8} {'remind':>6} {'susp.':>6}"
    )
    stores = {"postgres": lambda: postgres_store(args.admin_url), "sqlite": sqlite_store}
    for name in args.stores.split(","):
        with stores[name]() as url:
            bench(name, url, args.accounts, args.repeats)


if __name__ == "__main__":
    main()
