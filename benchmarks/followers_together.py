"""Every projection caught up together in one process, as `cases projections run`'s
loop runs them, at several catch-up batches (ADR 89).

Run from the repository root, on a kept database that holds a history (as
`projections_catch_up --database` leaves one):

    PYTHONPATH=src:. .venv/bin/python -m benchmarks.followers_together \\
        --database postgresql://postgres@127.0.0.1:5432/sl1m \\
        [--catch-up-batches 1000,5000,1000,5000]

For each catch-up batch in turn (one child process each, so each peak RSS is its
own), the six read models' tables and tracking rows are emptied and the database
VACUUM ANALYZEd; then `InProcessProjections` (batch 1 000) runs the six on threads
until every one is at the log's head. It prints the wall time, the process's CPU
time, its peak RSS and when each projection reached the head.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from functools import partial

import psycopg
from benchmarks.projections_catch_up import reset

from cases.db.database import ProjectionDatabase, open_runner_db
from cases.followers.catalog import projection_named
from cases.followers.in_process import InProcessProjections
from cases.heap import settle_after_start
from cases.log_config import configure_logging
from cases.persistence.database_url import parse_database_url
from cases.persistence.store import open_event_log
from cases.settings import Settings

NAMES = (
    "case_queue",
    "case_timeline",
    "escalation_register",
    "account_standing",
    "receivables",
    "service_levels",
)
BATCH = 1000


def one_run(url: str, catch_up: int) -> dict[str, object]:
    """Catch the six up together from 0 with `catch_up`; what it took."""
    configure_logging("WARNING")
    settings = Settings(database_url=url)
    log = open_event_log(settings)
    db = ProjectionDatabase(parse_database_url(url))
    try:
        head = log.head()
        for name in NAMES:
            reset(db, projection_named(name))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        settle_after_start()
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        runners = InProcessProjections(
            log,
            partial(open_runner_db, settings),
            NAMES,
            batch_size=BATCH,
            catch_up_batch_size=catch_up,
            poll_interval=0.05,
        )
        runners.start()
        reached: dict[str, float] = {}
        try:
            while len(reached) < len(NAMES):
                time.sleep(0.1)
                for name, position in runners.positions().items():
                    if name in NAMES and name not in reached and position >= head:
                        reached[name] = round(time.perf_counter() - started, 1)
            wall = time.perf_counter() - started
        finally:
            runners.stop()
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        db.close()
        log.close()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "catch_up": catch_up,
        "wall": round(wall, 1),
        "cpu": round(cpu, 1),
        "rss_mb": round(after.ru_maxrss / 1024),
        "reached": reached,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="a kept database with a history")
    parser.add_argument("--catch-up-batches", default="1000,5000,1000,5000")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(one_run(args.database, args.child)))
        return
    for catch_up in (int(size) for size in args.catch_up_batches.split(",")):
        command = [sys.executable, "-m", "benchmarks.followers_together"]
        child = subprocess.run(  # noqa: S603 - this script, by the interpreter running it
            [*command, "--database", args.database, "--child", str(catch_up)],
            check=True,
            capture_output=True,
            text=True,
        )
        run = json.loads(child.stdout.strip().splitlines()[-1])
        order = sorted(run["reached"].items(), key=lambda item: item[1])
        print(
            f"catch-up batch {catch_up:>6}: all six at the head in {run['wall']} s, "
            f"process CPU {run['cpu']} s, peak RSS {run['rss_mb']} MB; "
            + ", ".join(f"{name} {seconds}" for name, seconds in order),
            flush=True,
        )


if __name__ == "__main__":
    main()
