"""Outbox throughput, and what delivery costs a collection run (issue 16, ADR 50).

Run: .venv/bin/python benchmarks/outbox.py [--accounts N] [--stores sqlite,postgres]
     [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

For each store, twice on a fresh store holding the same N accounts (the mix of
benchmarks/collection_run.py: 90 % have something due):

* without delivery: the collection run alone; then the outbox follower queues
  (renders) the messages its reminders and suspensions ask for, and one delivery
  worker sends them to a local SMTP server (aiosmtpd, in this process):
  messages rendered and delivered per second;
* with delivery: the same run while the outbox follower and the delivery worker
  run beside it (threads of this process, as `cases serve` runs them on SQLite),
  to show what they cost the run, and how long after it the last message lands.

Every account's notices go to one mailbox (`CASES_OUTBOX_BILLING_MAILBOX`).
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from functools import partial
from pathlib import Path

from aiosmtpd.controller import Controller

if not __package__:  # run as a script: import as from the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.collection_run import (
    RUN_AT,
    open_accounts,
    postgres_store,
    sqlite_store,
    timed,
)

from cases.bootstrap import bootstrap
from cases.clock import ManualClock
from cases.db.database import open_runner_db
from cases.db.schema import migrate
from cases.followers.outbox import delivery_workers, outbox_runners
from cases.followers.runner import RunnerLoop
from cases.followers.tracking import Tracking
from cases.log_config import configure_logging
from cases.outbox.messages import Status
from cases.outbox.store import OutboxStore
from cases.outbox.worker import run_deliveries
from cases.persistence.database_url import parse_database_url
from cases.settings import Settings


class Counting:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802, ARG002
        self.count += 1
        return "250 OK"


def settings_for(url: str, port: int) -> Settings:
    return Settings(
        database_url=url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        outbox_billing_mailbox="ekonomi@customer.example",
    )


def without_delivery(label: str, url: str, count: int, port: int, mail: Counting) -> None:
    migrate(parse_database_url(url))
    settings = settings_for(url, port)
    services = bootstrap(settings, ManualClock(RUN_AT))
    try:
        open_accounts(services, count)
        run_seconds, summary = timed(services)
        open_db = partial(open_runner_db, settings)
        started = time.perf_counter()
        queued = outbox_runners(settings, services.log, open_db)().catch_up()
        queue_seconds = time.perf_counter() - started
        make = delivery_workers(settings, services.log, open_db)
        if make is None:
            raise SystemExit("no transport configured")
        worker = make()
        before = mail.count
        started = time.perf_counter()
        delivered = worker.drain()
        deliver_seconds = time.perf_counter() - started
        worker.db.close()
    finally:
        services.close()
    if mail.count - before != delivered:
        raise SystemExit("the mail server did not receive every delivered message")
    print(
        f"{label:<9} without  run {run_seconds:6.1f} s ({count / run_seconds:5.0f} acc/s), "
        f"{summary.reminders} reminders; queued {queued} events in {queue_seconds:5.1f} s; "
        f"{delivered} delivered in {deliver_seconds:5.1f} s: "
        f"{delivered / (queue_seconds + deliver_seconds):5.0f} msg/s rendered+delivered "
        f"({delivered / deliver_seconds:5.0f}/s delivery alone)"
    )


def with_delivery(label: str, url: str, count: int, port: int) -> None:
    migrate(parse_database_url(url))
    settings = settings_for(url, port)
    services = bootstrap(settings, ManualClock(RUN_AT))
    stopping = threading.Event()
    open_db = partial(open_runner_db, settings)
    try:
        open_accounts(services, count)
        follower = RunnerLoop(outbox_runners(settings, services.log, open_db), poll_interval=0.1)
        make = delivery_workers(settings, services.log, open_db)
        if make is None:
            raise SystemExit("no transport configured")
        threads = [
            threading.Thread(target=follower.run, daemon=True),
            threading.Thread(target=run_deliveries, args=(make, stopping), daemon=True),
        ]
        for thread in threads:
            thread.start()
        started = time.perf_counter()
        run_seconds, summary = timed(services)
        db = open_db()
        try:
            while True:
                counts = OutboxStore(db).counts()
                head = services.log.head()
                if counts[Status.PENDING] == 0 and Tracking(db).position("outbox") >= head:
                    break
                time.sleep(0.2)
        finally:
            db.close()
        all_seconds = time.perf_counter() - started
        follower.stop()
        stopping.set()
        for thread in threads:
            thread.join(10)
    finally:
        services.close()
    print(
        f"{label:<9} with     run {run_seconds:6.1f} s ({count / run_seconds:5.0f} acc/s), "
        f"{summary.reminders} reminders; last message delivered {all_seconds:5.1f} s after "
        f"the run started ({counts[Status.DELIVERED]} delivered)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    configure_logging("WARNING")
    mail = Counting()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(mail, hostname="127.0.0.1", port=port)
    controller.start()
    stores = {"postgres": lambda: postgres_store(args.admin_url), "sqlite": sqlite_store}
    try:
        for name in args.stores.split(","):
            with stores[name]() as url:
                without_delivery(name, url, args.accounts, port, mail)
            with stores[name]() as url:
                with_delivery(name, url, args.accounts, port)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
