"""A bound, not a feature: the service levels caught up by several processes, each
the cases of its own partition, with the month seals made beside them, against
the same run's read-and-decode ceiling (ADR 90).

Run from the repository root, on a kept database that holds a history (as
`projections_catch_up --database` leaves one):

    PYTHONPATH=src:. .venv/bin/python -m benchmarks.service_levels_partitioned \\
        --database postgresql://postgres@127.0.0.1:5432/sl1m \\
        [--rounds 2] [--shapes 1:all,2:apart,2:built] [--batch 1000] [--check]

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
- `n:built` (n >= 2) the partitions and the sealer as built in `src/`
  (`cases.followers.partitions` and `cases.followers.sealer`): the layout and the
  partitions' progress rows begun by `start_partitions` from position 0 (what a
  rebuild of an empty log leaves: the partitions' first batches say where the
  moments start), n processes each running a `PartitionRunner` of its partition,
  and one running the `Sealer`'s steps until every partition is done and then
  until a step has nothing more to do: every seal made, and every seal's changes
  by moment kept (ADR 84). `1:all`'s last batch keeps one seal's only, the rest
  being kept by its later batches at the head; so the built shape also prints
  when it was caught up as one process ends: every partition at the head, every
  seal made and one seal's changes by moment kept.

The other shapes' partitions are the script's own runners, reading through the
recorder's `select_partition` as the built ones do, under tracking rows of their
own (`service_levels_part_k`).

`--check` prints each table's count and digest after every run, the seals' and
cells' tables included, to compare with the shipped design's, once every seal's
changes by moment are kept (after the timing). A partition's own sealing is
switched off by replacing the projection module's `seal_state` and `seal_after`
in its process (but for `built`): this is why those shapes are a bound.

Each shape runs in fresh processes after the tables and tracking rows are emptied.
It prints the events applied, the wall time from a common start until the last
process (the sealer included) is done, each process's own time and CPU (the
sealer's count: the seals it made, or, built, its steps that sealed or kept a
seal's changes by moment), the ceiling (one process reading and decoding the
service levels' events at the same batch, measured just before) and their ratio,
and the load average.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import Any

from benchmarks.projections_catch_up import maintenance, read_and_decode
from eventsourcing.persistence import Notification

from cases.db.database import ProjectionDatabase
from cases.db.statement import sql
from cases.followers.partitions import PartitionRunner, start_partitions
from cases.followers.runner import ProjectionRunner
from cases.followers.sealer import Sealer
from cases.followers.tracking import Tracking
from cases.log_config import configure_logging
from cases.persistence.database_url import parse_database_url
from cases.persistence.event_log import EventLog
from cases.persistence.store import open_event_log
from cases.projections.layout import Partition
from cases.projections.projection import LIVE, behind
from cases.reports import service_levels
from cases.reports.compliance_seal import (
    SEAL_TABLES,
    add_seal,
    keep_moments,
    note_latest,
    seal_state,
    seals_due,
)
from cases.reports.service_levels import ServiceLevelsProjection
from cases.settings import Settings

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


class ShapeRunner(ProjectionRunner):
    """A runner of the whole service levels that reads only the events of
    partition `part` of `parts`, as the built partitions' runners read them."""

    parts = 1
    part = 0

    def notifications(self, after: int, head: int, limit: int) -> Sequence[Notification]:
        return self.log.recorder.select_partition(  # type: ignore[attr-defined, no-any-return]
            after + 1, head, limit, self.topics, part=self.part, parts=self.parts
        )


def no_seals() -> None:
    """This process's service levels seal nothing (see the module's docstring)."""
    service_levels.seal_state = lambda *_: None  # type: ignore[attr-defined]
    service_levels.seal_after = lambda *_: []  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Job:
    url: str
    parts: int
    part: int
    who_seals: str
    batch: int

    @property
    def sealing(self) -> bool:
        return self.who_seals == "all" or (self.who_seals, self.part) == ("p0", 0)


def partition(job: Job, go: Event, out: Queue[str]) -> None:
    """Catch partition `job.part` up once `go` is set; put what it took on `out`."""
    configure_logging("WARNING")
    url, parts, part, batch = job.url, job.parts, job.part, job.batch
    log = open_event_log(Settings(database_url=url))
    db = ProjectionDatabase(parse_database_url(url), durable_commits=False)  # as runners
    runner: ProjectionRunner
    if job.who_seals == "built":
        runner = PartitionRunner(
            log, db, Partition(part, parts), batch_size=batch, catch_up_batch_size=batch
        )
    else:
        if not job.sealing:
            no_seals()
        runner = ShapeRunner(
            log,
            ServiceLevelsProjection(),
            db,
            batch_size=batch,
            catch_up_batch_size=batch,
            tracking_name=tracking_name(part),
        )
        runner.parts, runner.part = parts, part
    go.wait()
    started, before = time.perf_counter(), os.times()
    applied = runner.catch_up(maintenance(db, runner.projection) if part == 0 else None)
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
    earliest: datetime | None = None
    while True:
        positions = [tracking.position(tracking_name(k)) for k in range(parts)]
        done = min(positions) >= head
        if min(positions) > 0:
            latest = recorded_at(log, topics, min(positions), last=True)
            if earliest is None:
                earliest = recorded_at(log, topics, head, last=False)
            for moment in seals_due(seals, earliest, latest):
                with behind(not done), db.transaction():
                    add_seal(db, LIVE, moment, seals[-1] if seals else None)
                seals.append(moment)
            with db.transaction():
                note_latest(db, LIVE, latest)
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


def built_sealer(url: str, go: Event, done: Event, out: Queue[str]) -> None:
    """Run the built `Sealer`'s steps until every partition is done (`done`, set
    by the parent) and a step at the head has nothing more to do: every seal
    made, every seal's changes by moment kept. It reports too when it first kept
    a seal's changes by moment: then every seal is made and one seal's changes
    kept, where one process's catch-up ends (its last batch keeps one; its later
    batches at the head the rest, ADR 84)."""
    configure_logging("WARNING")
    log = open_event_log(Settings(database_url=url))
    db = ProjectionDatabase(parse_database_url(url), durable_commits=False)
    the_sealer = Sealer(log, db)
    head = log.head()
    go.wait()
    started, before = time.perf_counter(), os.times()
    steps, kept_at = 0, 0.0
    while True:
        result = the_sealer.step()
        steps += result.applied
        if not kept_at and result.applied:
            state = seal_state(db, LIVE)
            if state is not None and state.by_moment:
                kept_at = time.perf_counter() - started
        if result.more:
            continue
        if result.position >= head:
            if done.is_set():
                break
            done.wait(the_sealer.pause)  # at the head: the partitions are reporting
    seconds, after = time.perf_counter() - started, os.times()
    cpu = (after.user - before.user) + (after.system - before.system)
    out.put(f"sealer {steps} {seconds} {cpu} {kept_at}")
    db.close()
    log.close()


def empty(db: ProjectionDatabase) -> None:
    """Empty the service levels' tables (the partitions' progress included) and
    remove every tracking row of theirs: one runner's, the built partitions'
    (`service_levels/k-of-n`) and this script's (`service_levels_part_k`)."""
    with db.transaction():
        for table in ServiceLevelsProjection.tables:
            db.execute(f"TRUNCATE {table}")
        db.execute(
            sql("DELETE FROM projection_tracking WHERE projection LIKE {} ESCAPE '\\'"),
            ("service\\_levels%",),
        )


def digests(db: ProjectionDatabase) -> str:
    found = []
    for table in TABLES:
        row = db.fetchone(
            f"SELECT count(*), md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {table} t"
        )
        count, digest = row if row is not None else (0, "")
        found.append(f"{table} {count} {str(digest)[:12]}")
    return "; ".join(found)


def collect(
    processes: list[BaseProcess], out: Queue[str], parts: int, done: Event
) -> list[list[str]]:
    """Every process's line from `out`, setting `done` once every partition's is
    in; a process that died without one fails the run at once."""
    results: list[list[str]] = []
    deadline = time.monotonic() + 900
    while len(results) < len(processes):
        try:
            results.append(out.get(timeout=0.5).split())
        except queue.Empty:
            failed = [p.name for p in processes if p.exitcode not in (None, 0)]
            if failed:
                raise RuntimeError(f"{', '.join(failed)} failed (see its traceback)") from None
            if time.monotonic() > deadline:
                raise TimeoutError("the run took more than 900 s") from None
            continue
        if sum(r[0] != "sealer" for r in results) == parts:
            done.set()
    return sorted(results)


def one_shape(url: str, shape: str, batch: int, *, check: bool) -> None:
    parts_text, _, who_seals = shape.partition(":")
    parts = int(parts_text)
    log = open_event_log(Settings(database_url=url))
    db = ProjectionDatabase(parse_database_url(url), durable_commits=False)
    count, seconds = read_and_decode(log, ServiceLevelsProjection(), batch)
    ceiling = count / seconds
    empty(db)
    if who_seals == "built":  # from position 0, as a rebuild of an empty log leaves it
        with db.transaction():
            start_partitions(db, parts, 0, datetime.now(UTC))
    context = mp.get_context("spawn")
    go, done, out = context.Event(), context.Event(), context.Queue()
    processes: list[BaseProcess] = [
        context.Process(
            target=partition,
            args=(Job(url, parts, k, who_seals, batch), go, out),
            name=f"partition {k}",
        )
        for k in range(parts)
    ]
    if who_seals == "apart":
        processes.append(context.Process(target=sealer, args=(url, parts, go, out), name="sealer"))
    if who_seals == "built":
        processes.append(
            context.Process(target=built_sealer, args=(url, go, done, out), name="sealer")
        )
    try:
        for process in processes:
            process.start()
        time.sleep(3)  # every child has opened the log and its database
        started = time.perf_counter()
        go.set()
        results = collect(processes, out, parts, done)
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
    if who_seals == "built":  # where one process's catch-up ends: every seal, one kept
        caught = max(float(r[4]) if r[0] == "sealer" else float(r[2]) for r in results)
        print(
            f"  caught up as one process ends (every seal made, one seal's changes by moment "
            f"kept) in {caught:.1f} s = {applied / caught:,.0f}/s, ratio "
            f"{applied / caught / ceiling:.2f}",
            flush=True,
        )
    if check:  # after every seal's changes by moment are kept (the built sealer keeps all)
        while True:
            with db.transaction():
                if keep_moments(db, LIVE) is None:
                    break
        print(f"  {digests(db)}", flush=True)
    empty(db)
    db.close()
    log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="a kept database with a history")
    parser.add_argument("--shapes", default="1:all,2:apart,2:built", help="n[:who seals]")
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
