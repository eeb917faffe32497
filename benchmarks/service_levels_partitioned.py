"""A bound, not a feature: the service levels caught up by several processes, each
the cases of its own partition, with the month seals made beside them, against
the same run's read-and-decode ceiling (ADR 90).

Run from the repository root, on a kept database that holds a history (as
`projections_catch_up --database` leaves one):

    PYTHONPATH=src:. .venv/bin/python -m benchmarks.service_levels_partitioned \\
        --database postgresql://postgres@127.0.0.1:5432/sl1m \\
        [--rounds 2] [--shapes 1:all,2:apart,3:apart] [--batch 1000] [--check]

Partition k of n holds the cases whose id's last byte is k modulo n; the server
filters the log by it, so each process reads and decodes only its own events. A
case's rows depend on that case's events only, so the partitions together write
the same rows as one process. The month seals are the one part that is not a
function of one partition. A shape `n[:who]` says who seals:

- `n` nobody;
- `n:p0` partition 0 alone, from its own batches (the cost of sealing there, not
  correct seals);
- `n:all` every partition, each from its own batches (correct for n = 1 only:
  the shipped design);
- `n:apart` a process of its own beside the partitions (ADR 90's sealer): it
  seals a month start once the event at the least partition's position was
  recorded `GRACE` after it, and keeps one seal's changes by moment once all are
  at the head, as the one process's last batch does.

`--check` prints each table's count and digest after every run, the seals' and
cells' tables included, to compare with the shipped design's. A partition's own
sealing is switched off by replacing the projection module's `seal_state` and
`seal_after` in its process: this is why the script is a bound, and why nothing
in `src/` runs it.

Each shape runs in fresh processes after the tables and tracking rows are emptied.
It prints the events applied, the wall time from a common start until the last
process is done, each process's own time and CPU, the ceiling (one process
reading and decoding the service levels' events at the same batch, measured just
before) and their ratio, and the load average.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import Any

from benchmarks.projections_catch_up import maintenance, read_and_decode
from eventsourcing.persistence import Notification
from psycopg.sql import SQL, Literal

from cases.db.database import ProjectionDatabase
from cases.followers.runner import ProjectionRunner
from cases.followers.tracking import Tracking
from cases.log_config import configure_logging
from cases.persistence.database_url import parse_database_url
from cases.persistence.event_log import EventLog
from cases.persistence.store import open_event_log
from cases.projections.projection import LIVE, PositionedEvent, behind
from cases.reports import service_levels
from cases.reports.compliance_seal import (
    GRACE,
    SEAL_TABLES,
    _months_after,
    _note_latest,
    add_seal,
    keep_moments,
    month_start,
)
from cases.reports.service_levels import ServiceLevelsProjection
from cases.settings import Settings

SELECT = SQL(
    "SELECT * FROM cases_events WHERE notification_id >= %s AND notification_id <= %s"
    " AND topic = ANY(%s) AND get_byte(uuid_send(originator_id), 15) %% {n} = {k}"
    " ORDER BY notification_id LIMIT %s"
)
TABLES = (
    "service_level_cases",
    "service_level_updates",
    "service_level_escalations",
    "service_level_breaches",
    "service_level_deadlines",
    *SEAL_TABLES[1:],  # the seals and their cells: not the latest moment seen
)


def tracking_name(part: int) -> str:
    return f"service_levels_part_{part}"


def notification_of(row: dict[str, Any]) -> Notification:
    """A row of the events table as the library's recorder returns it."""
    return Notification(
        id=row["notification_id"],
        originator_id=row["originator_id"],
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=bytes(row["state"]),
    )


class PartitionRunner(ProjectionRunner):
    """A runner that reads only the events of partition `part` of `parts`."""

    parts = 1
    part = 0

    def read_batch(self, after: int, head: int) -> tuple[list[PositionedEvent], int]:
        limit = self.batch_limit(after, head)
        statement = SELECT.format(n=Literal(self.parts), k=Literal(self.part))
        recorder = self.log.recorder
        with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:  # type: ignore[attr-defined]
            # The planner takes the partition's filter for rare and reads in
            # parallel workers: 9.5 against 2 ms a batch of 1 000, 51 against 15
            # ms of 5 000 (EXPLAIN ANALYZE on sl1m).
            cursor.execute("SET max_parallel_workers_per_gather = 0")
            cursor.execute(statement, [after + 1, head, list(self.topics), limit], prepare=True)
            notifications = [notification_of(row) for row in cursor.fetchall()]
        reached = notifications[-1].id if len(notifications) == limit else head
        decoded = self.decoded.decode(notifications)
        events = [PositionedEvent(n.id, e) for n, e in zip(notifications, decoded, strict=True)]
        return events, reached


def no_seals() -> None:
    """This process's service levels seal nothing (see the module's docstring)."""
    service_levels.seal_state = lambda *_: None  # type: ignore[attr-defined]
    service_levels.seal_after = lambda *_: []  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Partition:
    url: str
    parts: int
    part: int
    sealing: bool
    batch: int


def partition(job: Partition, go: Event, out: Queue[str]) -> None:
    """Catch partition `job.part` up once `go` is set; put what it took on `out`."""
    configure_logging("WARNING")
    url, parts, part, batch = job.url, job.parts, job.part, job.batch
    if not job.sealing:
        no_seals()
    log = open_event_log(Settings(database_url=url))
    db = ProjectionDatabase(parse_database_url(url), durable_commits=False)  # as runners
    projection = ServiceLevelsProjection()
    runner = PartitionRunner(
        log,
        projection,
        db,
        batch_size=batch,
        catch_up_batch_size=batch,
        tracking_name=tracking_name(part),
    )
    runner.parts, runner.part = parts, part
    go.wait()
    started, before = time.perf_counter(), os.times()
    applied = runner.catch_up(maintenance(db, projection) if part == 0 else None)
    seconds, after = time.perf_counter() - started, os.times()
    cpu = (after.user - before.user) + (after.system - before.system)
    out.put(f"{part} {applied} {seconds} {cpu}")
    db.close()
    log.close()


def recorded_at(log: EventLog, topics: list[str], position: int, *, last: bool) -> datetime:
    """When the service levels' last event at or before `position` (with `last`),
    else their first event, was recorded."""
    order = "DESC" if last else "ASC"
    statement = (
        "SELECT * FROM cases_events WHERE notification_id <= %s AND topic = ANY(%s) "
        f"ORDER BY notification_id {order} LIMIT 1"
    )
    recorder = log.recorder
    with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute(statement, [position, topics])
        row = cursor.fetchone()
    notification = notification_of(row)
    moment: datetime = log.mapper.to_domain_event(notification).timestamp  # type: ignore[attr-defined]
    return moment


def sealer(url: str, parts: int, go: Event, out: Queue[str]) -> None:
    """Seal beside the partitions (ADR 90's sealer, as a bound): each month start
    once every partition has passed the event recorded `GRACE` after it, read as
    the moment of the last event at or before the least partition's position;
    once all are at the head, keep one seal's changes by moment (as the one
    process's last batch does)."""
    configure_logging("WARNING")
    log = open_event_log(Settings(database_url=url))
    db = ProjectionDatabase(parse_database_url(url), durable_commits=False)
    topics = list(ServiceLevelsProjection().topics())
    head = log.head()
    tracking = Tracking(db)
    seals: list[datetime] = []
    go.wait()
    started, before = time.perf_counter(), os.times()
    first: datetime | None = None
    while True:
        positions = [tracking.position(tracking_name(k)) for k in range(parts)]
        done = min(positions) >= head
        if min(positions) > 0:
            latest = recorded_at(log, topics, min(positions), last=True)
            if first is None:
                first = month_start(recorded_at(log, topics, head, last=False) - GRACE)
            due = month_start(latest - GRACE)
            moments = (
                list(_months_after(seals[-1], due))
                if seals
                else [first, *_months_after(first, due)]
            )
            for moment in moments:
                with behind(not done), db.transaction():
                    add_seal(db, LIVE, moment, seals[-1] if seals else None)
                seals.append(moment)
            with db.transaction():
                _note_latest(db, LIVE, latest)
        if done:
            with db.transaction():
                keep_moments(db, LIVE)
            break
        time.sleep(0.05)
    seconds, after = time.perf_counter() - started, os.times()
    cpu = (after.user - before.user) + (after.system - before.system)
    out.put(f"sealer {len(seals)} {seconds} {cpu}")
    db.close()
    log.close()


def empty(db: ProjectionDatabase, parts: int) -> None:
    with db.transaction():
        for table in ServiceLevelsProjection.tables:
            db.execute(f"TRUNCATE {table}")
        for part in range(parts):
            Tracking(db).forget(tracking_name(part))


def digests(db: ProjectionDatabase) -> str:
    found = []
    for table in TABLES:
        row = db.fetchone(
            f"SELECT count(*), md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {table} t"
        )
        count, digest = row if row is not None else (0, "")
        found.append(f"{table} {count} {str(digest)[:12]}")
    return "; ".join(found)


def one_shape(url: str, shape: str, batch: int, *, check: bool) -> None:
    parts_text, _, who_seals = shape.partition(":")
    parts = int(parts_text)
    log = open_event_log(Settings(database_url=url))
    db = ProjectionDatabase(parse_database_url(url), durable_commits=False)
    count, seconds = read_and_decode(log, ServiceLevelsProjection(), batch)
    ceiling = count / seconds
    empty(db, parts)
    context = mp.get_context("spawn")
    go, out = context.Event(), context.Queue()
    processes = [
        context.Process(
            target=partition,
            args=(
                Partition(url, parts, k, who_seals == "all" or (who_seals, k) == ("p0", 0), batch),
                go,
                out,
            ),
        )
        for k in range(parts)
    ]
    if who_seals == "apart":
        processes.append(context.Process(target=sealer, args=(url, parts, go, out)))
    try:
        for process in processes:
            process.start()
        time.sleep(3)  # every child has opened the log and its database
        started = time.perf_counter()
        go.set()
        results = sorted(out.get(timeout=900).split() for _ in processes)
        wall = time.perf_counter() - started
    finally:  # none left running when one fails or the run is interrupted
        for process in processes:
            if process.is_alive() and process.pid is not None:
                process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join()
    applied = sum(int(r[1]) for r in results if r[0] != "sealer")
    each = ", ".join(
        f"{'' if r[0] == 'sealer' else 'p'}{r[0]} {int(r[1]):,} in {float(r[2]):.1f} s "
        f"cpu {float(r[3]):.1f} s"
        for r in results
    )
    rate = applied / wall
    print(
        f"{parts} partition(s), seals {who_seals or 'none'}, batch {batch}: {applied:,} events in "
        f"{wall:.1f} s = {rate:,.0f}/s, ceiling {ceiling:,.0f}/s, ratio {rate / ceiling:.2f} "
        f"[{each}] load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    if check:
        print(f"  {digests(db)}", flush=True)
    empty(db, parts)
    db.close()
    log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="a kept database with a history")
    parser.add_argument("--shapes", default="1:all,2:apart,3:apart", help="n[:who seals]")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--check", action="store_true", help="print the tables' digests")
    args = parser.parse_args()
    configure_logging("WARNING")
    for _ in range(args.rounds):
        for shape in args.shapes.split(","):
            one_shape(args.database, shape, args.batch, check=args.check)


if __name__ == "__main__":
    main()
