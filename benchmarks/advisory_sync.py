"""The advisory import from a local server playing Microsoft Graph.

Run: .venv/bin/python benchmarks/advisory_sync.py [--advisories N] [--changes C]
     [--page-size P] [--stores sqlite,postgres]

For each store: N advisories are imported, then changed C times (every
advisory gets a new version each round, a new `lastModifiedDateTime`), each
round synced incrementally: N x (C + 1) versions recorded in all. Then two
syncs with nothing new:

* incremental (from the feed's watermark): the target is one request and
  nothing recorded;
* full (`--full`, every issue read again): one request per page, nothing
  recorded.

The server is the tests' fake vendor (tests/support/vendor_server.py) on a
thread of this process, over real HTTP on 127.0.0.1; PostgreSQL runs in a
throwaway database, SQLite in a temporary file. Logging is kept to warnings.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import structlog

from cases.application.advisory_sync import AdvisorySync, SyncSummary
from cases.bootstrap import bootstrap
from cases.settings import Settings
from cases.vendor.wiring import service_health
from tests.support.builders import T0
from tests.support.postgres import throwaway_database
from tests.support.vendor_server import VendorServer, issue

STATUSES = ("investigating", "serviceDegradation", "restoringService", "extendedRecovery")


@contextmanager
def store(kind: str) -> Iterator[str]:
    if kind == "postgres":
        with throwaway_database() as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'events.db'}"


def versions(n: int, round_: int, last: bool) -> list[dict[str, object]]:
    status = "serviceRestored" if last and round_ else STATUSES[round_ % len(STATUSES)]
    base = T0 + timedelta(hours=round_)
    return [
        issue(
            f"EX{100_000 + i}",
            base + timedelta(milliseconds=i),
            status=status,
            resolved=last and round_ > 0,
        )
        for i in range(n)
    ]


def check(holds: bool, what: str) -> None:
    if not holds:
        raise SystemExit(f"unexpected: {what}")


def timed(importer: AdvisorySync, **options: bool) -> tuple[SyncSummary, float]:
    started = time.perf_counter()
    summary = importer.run(**options)
    return summary, time.perf_counter() - started


def bench(kind: str, advisories: int, changes: int, page_size: int) -> None:
    with store(kind) as url, VendorServer(page_size=page_size) as vendor:
        settings = Settings(database_url=url, **vendor.settings())
        services = bootstrap(settings)
        try:
            with service_health(settings) as health:
                health.page_size = page_size
                importer = AdvisorySync(services.runner, health)
                total_items, total_seconds = 0, 0.0
                for round_ in range(changes + 1):
                    vendor.issues = versions(advisories, round_, round_ == changes)
                    summary, seconds = timed(importer)
                    check(len(summary.recorded) == advisories, summary.lines()[0])
                    total_items += len(summary.recorded)
                    total_seconds += seconds
                    what = "import" if round_ == 0 else f"change {round_}"
                    print(
                        f"{kind} {what}: {advisories / seconds:,.0f} versions/s "
                        f"({summary.pages} pages, {summary.requests} requests, {seconds:.1f} s)"
                    )
                print(
                    f"{kind} all: {total_items:,} versions in {total_seconds:.1f} s, "
                    f"{total_items / total_seconds:,.0f} versions/s"
                )
                head = services.log.recorder.max_notification_id()
                for label, options in (("incremental", {}), ("full", {"full": True})):
                    summary, seconds = timed(importer, **options)
                    check(not summary.recorded, summary.lines()[0])
                    print(
                        f"{kind} re-sync, nothing new, {label}: {summary.requests} requests for "
                        f"{summary.pages} pages, {summary.seen:,} issues read, "
                        f"{len(summary.recorded)} recorded, {seconds:.2f} s"
                    )
                check(services.log.recorder.max_notification_id() == head, "a re-sync recorded")
        finally:
            services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--advisories", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=5)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--stores", default="sqlite,postgres")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    for kind in args.stores.split(","):
        bench(kind, args.advisories, args.changes, args.page_size)


if __name__ == "__main__":
    main()
