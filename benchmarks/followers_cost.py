"""What the projection runner's followers cost per API command (issue 20, target 2).

Run: PYTHONPATH=src:. .venv/bin/python -m benchmarks.followers_cost [--commands 2000]
         [--burst 40] [--rounds 3] [--trees "before=/tmp/before/src,after=src"]

`api_load` measures the runner's CPU beside a loaded server, where other work on
the two cores moves it from round to round. This measures it alone: in a child
process per tree and round (trees alternating, each on a throwaway PostgreSQL
database), it seeds the store as `api_load` does (400 cases spread over the
snapshot cycle), catches every follower up, then records --commands commands of
`api_load`'s mix (half notes, half outbound communications, 10 % intakes) in
bursts of --burst, and after each burst steps every follower the runner process
runs (each read model and the outbox's follower) until it has applied the burst,
one after another on the main thread: the process CPU time of those steps, per
command, is the figure (the database's own CPU is not in it; the wall time is
printed beside). The audit log's tree builder and the advisory sync are left out.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from uuid import UUID

if not __package__:  # run as a script: import as from the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._harness import (
    ADMIN_URL,
    NOTES,
    PRODUCTS,
    SUMMARIES,
    seed_store,
    take_in,
    throwaway_database,
)

from cases.application.caller import Caller
from cases.bootstrap import bootstrap
from cases.clock import ManualClock
from cases.db.database import open_runner_db
from cases.db.schema import migrate
from cases.domain import case_commands as cmd
from cases.domain.case_values import Direction
from cases.domain.metadata import Actor, Role, Source
from cases.domain.support_terms import Channel
from cases.followers.in_process import InProcessProjections
from cases.followers.outbox import outbox_runners
from cases.log_config import configure_logging
from cases.persistence.database_url import parse_database_url
from cases.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def child(args: argparse.Namespace) -> int:
    """One measurement on `args.url`: print a JSON line of its figures."""

    configure_logging("WARNING")
    migrate(parse_database_url(args.url))
    with tempfile.TemporaryDirectory() as tmp:
        seed = seed_store(args.url, Path(tmp), args.cases, 20, 1)
        settings = Settings(database_url=args.url, data_dir=Path(tmp))  # type: ignore[arg-type]
        clock = ManualClock(datetime.now(UTC))
        services = bootstrap(settings, clock)
        open_db = partial(open_runner_db, settings)
        runners = InProcessProjections(
            services.log, open_db, outbox=outbox_runners(settings, services.log, open_db)
        )
        followers = [loop.make_runner() for loop in runners.loops.values()]  # type: ignore[attr-defined]
        try:
            for follower in followers:
                while follower.step().more:
                    pass
            agent = Caller.new(Actor("agent-anna", Role.HELPDESK_AGENT), Source.API)
            cases = [UUID(c) for c in seed.case_ids]

            def record(n: int, case_id: UUID) -> None:
                """The n-th command of `api_load`'s mix."""
                if n % 10 == 9:
                    customer = seed.customers[n % len(seed.customers)]
                    take_in(services.desk, agent, customer, PRODUCTS[0], clock.now())
                elif n % 2:
                    services.desk.handle(agent, case_id, cmd.AddNote(NOTES[n % len(NOTES)]))
                else:
                    summary = SUMMARIES[n % len(SUMMARIES)]
                    services.desk.handle(
                        agent,
                        case_id,
                        cmd.RecordCommunication(Direction.OUTBOUND, Channel.EMAIL, summary),
                    )

            cpu = wall = 0.0
            done = 0
            while done < args.commands:
                for _ in range(min(args.burst, args.commands - done)):
                    clock.advance(timedelta(milliseconds=50))
                    record(done, cases[done * 7919 % len(cases)])
                    done += 1
                started_cpu, started = time.process_time(), time.perf_counter()
                for follower in followers:
                    while follower.step().more:
                        pass
                cpu += time.process_time() - started_cpu
                wall += time.perf_counter() - started
        finally:
            for follower in followers:
                follower.db.close()
            services.close()
    print(json.dumps({"cpu_ms": 1000 * cpu / done, "wall_ms": 1000 * wall / done}))
    return 0


def parent(args: argparse.Namespace) -> int:
    trees = [item.split("=", 1) for item in args.trees.split(",")]
    figures: dict[str, list[dict[str, float]]] = {name: [] for name, _ in trees}
    for r in range(args.rounds):
        for name, src in trees:
            with throwaway_database(args.postgres_url, prefix="api_path_followers") as (url, _):
                env = {**os.environ, "PYTHONPATH": f"{Path(src).resolve()}:{ROOT}"}
                argv = [sys.executable, "-m", "benchmarks.followers_cost", "--child", url]
                argv += ["--commands", str(args.commands), "--burst", str(args.burst)]
                argv += ["--cases", str(args.cases)]
                out = subprocess.run(  # noqa: S603 - this interpreter, this script
                    argv, env=env, cwd=ROOT, check=True, capture_output=True, text=True
                ).stdout
                result = json.loads(out.strip().splitlines()[-1])
                figures[name].append(result)
                print(
                    f"round {r + 1} {name:<10} {result['cpu_ms']:.3f} ms CPU, "
                    f"{result['wall_ms']:.3f} ms wall per command",
                    flush=True,
                )
    print()
    print("| tree | CPU ms/command (rounds) | median | wall ms/command (median) |")
    print("|---|---|---:|---:|")
    for name, runs in figures.items():
        cpus = ", ".join(f"{x['cpu_ms']:.3f}" for x in runs)
        print(
            f"| {name} | {cpus} | {statistics.median(x['cpu_ms'] for x in runs):.3f} "
            f"| {statistics.median(x['wall_ms'] for x in runs):.3f} |"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--burst", type=int, default=40, help="commands between follower steps")
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trees", default=f"current={ROOT / 'src'}", help="NAME=SRC,...")
    parser.add_argument("--postgres-url", default=ADMIN_URL)
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.url = args.child
        return child(args)
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
