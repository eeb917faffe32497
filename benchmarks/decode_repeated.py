"""Decoding stored events with and without repeated values kept (ADR 0087).

Run from the repository root, on a database that holds a history (the one
`projections_catch_up.py --database URL` generated and kept):

    .venv/bin/python -m benchmarks.decode_repeated --database postgresql://.../kept
        [--projection service_levels] [--events 100000] [--rounds 5] [--after 0]

It reads the first `--events` notifications of the projection's topics after
position `--after` once, then decodes them with the event log's mapper
(`to_domain_event`) in two ways, alternated for `--rounds` rounds in one process
with the collector as a runner sets it (`settle_after_start`):

- as stored: the value objects `cases.persistence.registry.REPEATED` names are
  decoded once per distinct data, and the same data gives the same object again;
- every one decoded: the same mapper with a transcoder that keeps none
  (`cases_transcoder(sealer, repeated=frozenset())`).

It prints the median microseconds an event of each over the rounds, per topic
(each topic's events decoded together), in all, and for all the events decoded
in the log's order, as a runner meets them; and their ratio (every-one /
as-stored). It checks first that both give equal events.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from typing import Any

from benchmarks.projections_catch_up import open_log
from eventsourcing.persistence import Mapper, Notification

from cases.followers.catalog import projection_named
from cases.heap import settle_after_start
from cases.persistence.registry import cases_transcoder
from cases.persistence.sealing_mapper import SealingMapper

LOG_ORDER = "in the log's order"


def read(log: Any, topics: list[str], events: int, after: int) -> list[Notification]:
    notifications: list[Notification] = []
    while len(notifications) < events:
        batch = log.recorder.select_notifications(
            start=after + 1, limit=min(1000, events - len(notifications)), topics=topics
        )
        if not batch:
            break
        notifications += batch
        after = batch[-1].id
    return notifications


def seconds(mapper: Mapper[Any], notifications: list[Notification]) -> float:
    decode = mapper.to_domain_event
    started = time.perf_counter()
    for notification in notifications:
        decode(notification)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--projection", default="service_levels")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--after", type=int, default=0, help="read from after this position")
    args = parser.parse_args()
    log = open_log(args.database)
    try:
        notifications = read(
            log, projection_named(args.projection).topics(), args.events, args.after
        )
        as_stored = log.mapper
        every_one: Mapper[Any] = (
            SealingMapper(cases_transcoder(log.sealer, repeated=frozenset()), log.sealer)
            if log.sealer is not None
            else Mapper(cases_transcoder(repeated=frozenset()))
        )
        for notification in notifications[:2000]:
            if as_stored.to_domain_event(notification) != every_one.to_domain_event(notification):
                raise SystemExit(f"decoded differently: notification {notification.id}")
        by_topic: dict[str, list[Notification]] = defaultdict(list)
        for notification in notifications:
            by_topic[notification.topic.rsplit(".", 1)[-1]].append(notification)
        settle_after_start()
        times: dict[tuple[str, str], list[float]] = defaultdict(list)
        for _ in range(args.rounds):
            for way, mapper in (("every one", every_one), ("as stored", as_stored)):
                times[(way, LOG_ORDER)].append(seconds(mapper, notifications))
                for topic, items in by_topic.items():
                    times[(way, topic)].append(seconds(mapper, items))
        print(
            f"{args.projection}: {len(notifications):,} events, {args.rounds} rounds "
            f"(medians, us an event)\n"
        )
        print("| topic | events | every one decoded | repeated kept | ratio |")
        print("|---|---:|---:|---:|---:|")
        totals = {"every one": 0.0, "as stored": 0.0}
        for topic, items in sorted(by_topic.items(), key=lambda kv: -len(kv[1])):
            medians = {way: statistics.median(times[(way, topic)]) for way in totals}
            for way, median in medians.items():
                totals[way] += median
            print(
                f"| {topic} | {len(items):,} | {medians['every one'] / len(items) * 1e6:.1f} "
                f"| {medians['as stored'] / len(items) * 1e6:.1f} "
                f"| {medians['every one'] / medians['as stored']:.2f} |"
            )
        count = len(notifications)
        print(
            f"| all | {count:,} | {totals['every one'] / count * 1e6:.1f} "
            f"| {totals['as stored'] / count * 1e6:.1f} "
            f"| {totals['every one'] / totals['as stored']:.2f} |"
        )
        in_order = {way: statistics.median(times[(way, LOG_ORDER)]) for way in totals}
        print(
            f"| all, in the log's order | {count:,} | {in_order['every one'] / count * 1e6:.1f} "
            f"| {in_order['as stored'] / count * 1e6:.1f} "
            f"| {in_order['every one'] / in_order['as stored']:.2f} |"
        )
    finally:
        log.close()


if __name__ == "__main__":
    main()
