"""Commands with personal fields sealed against the same commands without, in one run.

Run: PYTHONPATH=src .venv/bin/python -m benchmarks.sealing_cost [--commands 300]
     [--repeat 5] [--cases 50] [--working-copies N] [--skip-postgres]

Two stores of each kind are set up alike (`benchmarks.commands`' workload: cases
taken in and spread over the snapshot cycle, then notes and communication
summaries round-robin over them, each a load, a decision and a save): one
without a master key, one with (every note, summary, contact, title and
description sealed with AES-256-GCM under its case's key, ADR 0044). Rounds
alternate plain, sealed, plain, sealed... in one process (each round starting
with the other one), so a busy machine slows both alike; each round's ratio is
sealed / plain commands per second of the two neighbouring rounds, and the
median ratio is the figure (issue 15's target: sealed no more than 10 % slower,
a ratio >= 0.90). With `--working-copies N` both keep up to N cases decided
in memory between commands, as the API does (ADR 0023): each command then asks
only for newer events.

Each round also prints this process's CPU time per command (`time.process_time`)
and its ratio, plain / sealed: on a virtual machine whose CPU is taken away at
times (steal), wall-clock rounds swing by ±20 %, and the CPU the process was
given is the steadier figure. On SQLite it holds all the work; on PostgreSQL it
leaves out the server's (the same for both, but for the sealed intake's key).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

from benchmarks.commands import (
    ADMIN_URL,
    CommandWorkload,
    bench_settings,
    start_workload,
    throwaway_database,
)

from cases.log_config import configure_logging


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="cases-bench-") as tmp:
        yield f"sqlite:///{tmp}/cases.db"


Urls = Callable[[], AbstractContextManager[str]]


def compare(store: str, urls: Urls, args: argparse.Namespace) -> tuple[list[float], list[float]]:
    """Per round, sealed / plain commands per second, and plain / sealed CPU per command."""
    with ExitStack() as stack:
        workloads: dict[bool, CommandWorkload] = {}
        for sealed in (False, True):
            url = stack.enter_context(urls())
            settings = bench_settings(
                url, argparse.Namespace(sealed=sealed), data_dir=Path(tempfile.gettempdir())
            )
            workloads[sealed] = start_workload(
                settings, args.cases, args.commands, args.working_copies
            )
            stack.callback(workloads[sealed].services.close)
        ratios, cpu_ratios = [], []
        for r in range(args.repeat):
            # Odd rounds run sealed first: neither store always follows the other's
            # writes (its checkpoints and page cache), as api_load's rotation does.
            rates, cpu = {}, {}
            for sealed in (True, False) if r % 2 else (False, True):
                started = time.process_time()
                rates[sealed] = args.commands / workloads[sealed].run(args.commands)
                cpu[sealed] = (time.process_time() - started) / args.commands
            plain, sealed_rate = rates[False], rates[True]
            ratios.append(sealed_rate / plain)
            cpu_ratios.append(cpu[False] / cpu[True])
            first = "sealed" if r % 2 else "plain"
            print(
                f"  {store} round {r + 1}/{args.repeat} ({first} first): plain {plain:6.1f} "
                f"commands/s, sealed {sealed_rate:6.1f} commands/s, ratio {ratios[-1]:.2f}; "
                f"this process's CPU per command plain {cpu[False] * 1e6:5.0f} µs, sealed "
                f"{cpu[True] * 1e6:5.0f} µs, ratio {cpu_ratios[-1]:.2f}",
                flush=True,
            )
        return ratios, cpu_ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=300, help="commands per round")
    parser.add_argument("--repeat", type=int, default=5, help="rounds of each")
    parser.add_argument("--cases", type=int, default=50, help="cases the commands go over")
    parser.add_argument(
        "--working-copies", type=int, default=0, help="cases kept decided between commands"
    )
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    with Path(os.devnull).open("w") as devnull:
        configure_logging("INFO", devnull)
        stores: list[tuple[str, Urls]] = [("SQLite", sqlite_url)]
        if not args.skip_postgres:
            stores.append(("PostgreSQL", lambda: throwaway_database(ADMIN_URL)))
        for name, urls in stores:
            ratios, cpu_ratios = compare(name, urls, args)
            print(
                f"{name}: median sealed/plain {statistics.median(ratios):.2f} "
                f"(rounds {', '.join(f'{r:.2f}' for r in ratios)}); by this process's CPU "
                f"per command {statistics.median(cpu_ratios):.2f} "
                f"(rounds {', '.join(f'{r:.2f}' for r in cpu_ratios)}); "
                f"load average {os.getloadavg()[0]:.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
