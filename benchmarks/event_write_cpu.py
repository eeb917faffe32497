"""The PostgreSQL server's CPU per event write, by the form of the write's statement.

Run: PYTHONPATH=src .venv/bin/python benchmarks/event_write_cpu.py
     [--writes 1000] [--rounds 5] [--events 2]

One command's write (ADR 0026, 0027) as the event log's recorder sends it: the lock
timeout, the table lock, then the command's rows as literals, in one query string,
in one of two forms (`cases.persistence.event_sql`): `insert_if_free` (the rows in
a common table expression, inserted only if none of their keys is taken: what each
command of a shared transaction needs) and `insert_plainly` (a plain INSERT ...
VALUES, for a command alone in its transaction), each without and with an
idempotency step (ADR 0031); and, for scale, the prepared read a working copy makes
before each command (the events after its version). Each form has its own
connection to a throwaway database migrated as the application's, so its own server
backend, whose CPU (user + system, from /proc/<pid>/stat: the server runs on this
machine) is read around `--writes` writes of `--events` events of 640 bytes, fresh
keys each. Rounds rotate the forms' order; medians are printed in µs a write.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

if not __package__:  # run as a script: import as from the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from benchmarks.commands import ADMIN_URL, throwaway_database
from eventsourcing.persistence import StoredEvent

from cases.db.schema import migrate
from cases.persistence.database_url import parse_database_url
from cases.persistence.event_sql import insert_if_free, insert_plainly, row_literal
from cases.persistence.idempotency_steps import StepToRecord
from cases.persistence.store import open_event_log
from cases.settings import Settings

TABLE = '"public"."cases_events"'
LOCK = f"SET LOCAL lock_timeout = '5s'; LOCK TABLE {TABLE} IN EXCLUSIVE MODE; "
TOPIC = "cases.domain.support_case:SupportCase.NoteAdded"
STATE = random.Random(20).randbytes(640)
TICKS = os.sysconf("SC_CLK_TCK")

Form = Callable[[psycopg.Connection[tuple[object, ...]], UUID, int], None]


def backend_cpu(conn: psycopg.Connection[tuple[object, ...]]) -> float:
    """CPU seconds of the connection's server backend so far."""
    fields = Path(f"/proc/{conn.info.backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _rows(aggregate_id: UUID, events: int) -> str:
    return ", ".join(
        row_literal(StoredEvent(aggregate_id, v, TOPIC, STATE)) for v in range(1, events + 1)
    )


def _step(aggregate_id: UUID) -> StepToRecord:
    key = aggregate_id.hex * 2
    return StepToRecord(key, f"change:{aggregate_id}", key, datetime.now(UTC))


def write(statement: Callable[[UUID, int], str]) -> Form:
    def run(conn: psycopg.Connection[tuple[object, ...]], aggregate_id: UUID, events: int) -> None:
        with psycopg.ClientCursor(conn) as cursor:
            cursor.execute(LOCK + statement(aggregate_id, events))
            while cursor.nextset():
                pass
            if not cursor.fetchall():
                raise RuntimeError("the write recorded nothing")

    return run


def events_since(conn: psycopg.Connection[tuple[object, ...]], _: UUID, __: int) -> None:
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT originator_id, originator_version, topic, state, notification_id "
            f"FROM {TABLE} WHERE originator_id = %s AND originator_version > %s "
            "ORDER BY originator_version",
            (READ_FROM, 1),
            prepare=True,
        )
        cursor.fetchall()


READ_FROM = uuid4()
FORMS: dict[str, Form] = {
    "if free": write(lambda a, n: insert_if_free(TABLE, _rows(a, n))),
    "alone": write(lambda a, n: insert_plainly(TABLE, _rows(a, n))),
    "if free, with a step": write(lambda a, n: insert_if_free(TABLE, _rows(a, n), _step(a))),
    "alone, with a step": write(lambda a, n: insert_plainly(TABLE, _rows(a, n), _step(a))),
    "the events-since read": events_since,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--events", type=int, default=2, help="events a write")
    parser.add_argument("--postgres-url", default=ADMIN_URL)
    args = parser.parse_args()
    print(f"load average at the start (1, 5, 15 min): {os.getloadavg()}", flush=True)
    taken: dict[str, list[float]] = {name: [] for name in FORMS}
    with throwaway_database(args.postgres_url, "event_write_cpu") as url:
        migrate(parse_database_url(url))
        open_event_log(Settings(database_url=url)).close()  # the library's tables
        conns = {name: psycopg.connect(url, autocommit=True) for name in FORMS}
        try:
            with conns["alone"].cursor() as cursor:  # the case the reads find, 25 events
                cursor.execute(insert_plainly(TABLE, _rows(READ_FROM, 25)))
            names = list(FORMS)
            for r in range(args.rounds):
                for name in names[r % len(names) :] + names[: r % len(names)]:
                    conn, form = conns[name], FORMS[name]
                    ids = [uuid4() for _ in range(args.writes)]
                    before = backend_cpu(conn)
                    for aggregate_id in ids:
                        form(conn, aggregate_id, args.events)
                    taken[name].append((backend_cpu(conn) - before) / args.writes * 1e6)
                print(
                    f"  round {r + 1}/{args.rounds}: "
                    + ", ".join(f"{n} {v[-1]:.0f}" for n, v in taken.items())
                    + " µs a write",
                    flush=True,
                )
        finally:
            for conn in conns.values():
                conn.close()
    print()
    print(f"| statement ({args.events} events a write) | server CPU, µs a write (median) |")
    print("|---|---:|")
    for name, values in taken.items():
        print(f"| {name} | {statistics.median(values):.0f} |")
    print()
    print(f"load average at the end (1, 5, 15 min): {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
