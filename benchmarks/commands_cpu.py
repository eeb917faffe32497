"""CPU per command: `commands.py`'s workloads measured in CPU time, interleaved in one process.

Run: .venv/bin/python benchmarks/commands_cpu.py [--rounds 7] [--commands 300] [--cases 100]
     [--working-copies 1000] [--stores sqlite,postgres]

Three workloads are set up in one process, each in its own store, exactly as
`commands.py` sets them up (cases taken in, spread over the snapshot cycle,
warmed): **ours loading the case** for each command (`commands.py` without
options), **ours with working copies** (`commands.py --working-copies N`, how the
API server runs commands, ADR 0023), and **the library out of the box**
(eventsourcing's `Application`, `Aggregate` with `@event`, its recorder and
JSON transcoder). Then, in each round, each runs `--commands` commands, in an
order rotated from round to round, and the script reads:

* the process's CPU time (`time.process_time()`, user + system of every thread:
  the Python, the drivers, SQLite's own work, the system calls, not the waits);
* on PostgreSQL, also the CPU time of the server's backends serving that
  workload's database (read from /proc with psutil: the server runs on this
  machine), so that "client + server" is all the CPU a command costs;
* the wall time, for reference only (on a loaded machine it measures the load).

Medians over the rounds are printed, in ms per command, with ratios to the
library. CPU time moves far less with the machine's load than wall time (it
leaves out the waits for the cores and the disk), but not nothing: on a loaded
two-core VM single rounds still vary by about a third (shared caches, steal), so
compare workloads within one run, by their medians. On a quiet machine a
command's wall time is its CPU plus its waits (the commit's flush, the round
trips); `commands.py`'s plain loop measures a bare flush.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

if not __package__:  # run as a script: import as from the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil
import psycopg
from benchmarks import commands as bench

from cases.log_config import configure_logging

WORKLOADS = ("ours", "ours, working copies", "library")


@dataclass
class Taken:
    """One workload's figures, a list per measure, one entry per round (ms/command)."""

    cpu: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)


@dataclass
class Workload:
    run: Callable[[int], float]
    server_cpu: Callable[[], float]  # seconds of CPU of the server's backends so far


def no_server() -> float:
    return 0.0


def backends_cpu(url: str) -> Callable[[], float]:
    """CPU seconds of the server processes connected to `url`'s database."""
    dbname = url.rsplit("/", 1)[-1]
    seen: dict[int, float] = {}  # backends gone since keep their last figure

    def read() -> float:
        with psycopg.connect(bench.ADMIN_URL, autocommit=True) as admin:
            rows = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (dbname,)
            ).fetchall()
        for (pid,) in rows:
            with contextlib.suppress(psutil.Error):
                times = psutil.Process(pid).cpu_times()
                seen[pid] = times.user + times.system
        return sum(seen.values())

    return read


@contextlib.contextmanager
def workloads(
    store: str, args: argparse.Namespace, names: tuple[str, ...] = WORKLOADS
) -> Iterator[dict[str, Workload]]:
    options = argparse.Namespace(sealed=False)
    with contextlib.ExitStack() as stack:
        made: dict[str, Workload] = {}
        for name in names:
            if store == "sqlite":
                tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="cases-cpu-"))
                url = f"sqlite:///{tmp}/cases.db"
                settings = bench.bench_settings(url, options, data_dir=Path(tmp))
                env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"{tmp}/l.db"}
                server = no_server
            else:
                url = stack.enter_context(
                    bench.throwaway_database(args.postgres_url, "commands_cpu")
                )
                settings = bench.bench_settings(url, options)
                env = bench.library_postgres_env(url)
                server = backends_cpu(url)
            if name == "library":
                library = bench.start_library(env, args.cases, args.commands)
                stack.callback(library.desk.close)
                made[name] = Workload(library.run, server)
            else:
                copies = args.working_copies if "working copies" in name else 0
                ours = bench.start_workload(settings, args.cases, args.commands, copies)
                stack.callback(ours.services.close)
                made[name] = Workload(ours.run, server)
        yield made


def measure(store: str, args: argparse.Namespace) -> dict[str, Taken]:
    taken = {name: Taken() for name in WORKLOADS}
    with workloads(store, args) as made:
        names = list(made)
        for r in range(args.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                workload = made[name]
                server_before = workload.server_cpu()
                cpu_before = time.process_time()
                wall = workload.run(args.commands)
                cpu = time.process_time() - cpu_before
                server = workload.server_cpu() - server_before
                per = 1000 / args.commands
                taken[name].cpu.append(cpu * per)
                taken[name].server.append(server * per)
                taken[name].wall.append(wall * per)
            print(
                f"  {store} round {r + 1}/{args.rounds}: "
                + ", ".join(f"{n} {taken[n].cpu[-1]:.3f}" for n in names)
                + " CPU ms/command",
                flush=True,
            )
    return taken


def print_table(store: str, taken: dict[str, Taken]) -> None:
    med = {
        n: {k: statistics.median(getattr(t, k)) for k in ("cpu", "server", "wall")}
        for n, t in taken.items()
    }
    lib = med["library"]
    print()
    print(f"{store}: ms per command, medians")
    print()
    print(
        "| workload | CPU (this process) | server CPU | CPU in all | wall "
        "| library / it, CPU | library / it, CPU in all |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, m in med.items():
        total = m["cpu"] + m["server"]
        print(
            f"| {name} | {m['cpu']:.3f} | {m['server']:.3f} | {total:.3f} | {m['wall']:.2f} "
            f"| {lib['cpu'] / m['cpu']:.2f} | {(lib['cpu'] + lib['server']) / total:.2f} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--commands", type=int, default=300, help="commands per workload a round")
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--working-copies", type=int, default=1000)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default=bench.ADMIN_URL)
    args = parser.parse_args()
    print(f"load average at the start (1, 5, 15 min): {os.getloadavg()}", flush=True)
    results = {}
    with Path(os.devnull).open("w") as devnull:
        configure_logging("INFO", devnull)
        for store in args.stores.split(","):
            results[store] = measure(store, args)
    for store, taken in results.items():
        print_table(store, taken)
    print()
    print(f"load average at the end (1, 5, 15 min): {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
