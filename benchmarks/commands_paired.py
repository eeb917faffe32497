"""Two trees' SQLite commands on working copies and plain loops, alternated in small chunks.

Run: .venv/bin/python benchmarks/commands_paired.py BEFORE_TREE AFTER_TREE
     [--rounds 20] [--chunk 600]

Each tree (a checkout: its `src` and `benchmarks`) runs in a child process of its
own, set up as `commands.py --working-copies 1000 --cases 200` sets up ours (warmed
by 3 000 commands) with its plain loop beside it (the sqlite3 module, one
transaction a row, WAL, `synchronous` FULL). The parent then asks each child in
turn, order alternating by round, for `--chunk` commands and then as many plain
rows, and reads each chunk's wall and CPU time. Both trees and both workloads so
meet the same load within seconds of each other, which `commands.py` run once per
tree cannot promise on a shared machine; the flush still waits on the shared disk,
so compare within a round. Prints medians per tree (ms a command, its CPU, ms a
plain row, ours/plain as rates) and the median of after/before per round.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO


def child(tree: str) -> None:
    """Set up the workloads of `tree`, then answer `ours N` / `plain N` with
    'wall cpu' seconds, one line each, until stdin closes."""
    sys.path.insert(0, tree)
    from benchmarks import commands as bench  # noqa: PLC0415 - the tree's own

    from cases.log_config import configure_logging  # noqa: PLC0415 - the tree's own

    with Path(os.devnull).open("w") as devnull, tempfile.TemporaryDirectory() as tmp:
        configure_logging("INFO", devnull)
        options = argparse.Namespace(sealed=False)
        settings = bench.bench_settings(f"sqlite:///{tmp}/cases.db", options, data_dir=Path(tmp))
        ours = bench.start_workload(settings, 200, 3000, 1000)
        ours.run(3000)
        conn = bench.open_sqlite_plain(Path(tmp) / "plain.db")
        plain = bench.plain_in_clients(bench.sqlite_plain_loop, [conn], ours.sample_state(), 200)
        plain(600)
        print("ready", flush=True)
        for line in sys.stdin:
            what, n = line.split()
            cpu = time.process_time()
            wall = ours.run(int(n)) if what == "ours" else plain(int(n))
            print(f"{wall} {time.process_time() - cpu}", flush=True)
        conn.close()
        ours.services.close()


def ask(stdin: IO[str], stdout: IO[str], what: str, n: int) -> tuple[float, float]:
    stdin.write(f"{what} {n}\n")
    stdin.flush()
    wall, cpu = map(float, stdout.readline().split())
    return wall * 1000 / n, cpu * 1000 / n


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--chunk", type=int, default=600, help="commands (and rows) a turn")
    args = parser.parse_args()
    children: dict[str, subprocess.Popen[str]] = {}
    pipes: dict[str, tuple[IO[str], IO[str]]] = {}
    for name in ("before", "after"):
        tree = str(Path(getattr(args, name)).resolve())
        env = os.environ | {"PYTHONPATH": f"{tree}/src:{tree}"}
        children[name] = subprocess.Popen(  # noqa: S603 - this interpreter and script
            [sys.executable, str(Path(__file__).resolve()), "--child", tree],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        stdin, stdout = children[name].stdin, children[name].stdout
        if stdin is None or stdout is None:
            raise RuntimeError("no pipes to the child")
        pipes[name] = (stdin, stdout)
    taken: dict[str, dict[str, list[float]]] = {}
    for name, (_, stdout) in pipes.items():
        if stdout.readline().strip() != "ready":
            raise RuntimeError(f"the {name} child did not start")
        taken[name] = {"ours": [], "cpu": [], "plain": []}
    print(f"load average at the start (1, 5, 15 min): {os.getloadavg()}", flush=True)
    names = list(children)
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            wall, cpu = ask(*pipes[name], "ours", args.chunk)
            taken[name]["ours"].append(wall)
            taken[name]["cpu"].append(cpu)
            taken[name]["plain"].append(ask(*pipes[name], "plain", args.chunk)[0])
    for name, proc in children.items():
        pipes[name][0].close()
        proc.wait()
    print(f"load average at the end (1, 5, 15 min): {os.getloadavg()}")
    print("| tree | ms a command | its CPU | ms a plain row | ours / plain |")
    print("|---|---:|---:|---:|---:|")
    for name in names:
        med = {k: statistics.median(v) for k, v in taken[name].items()}
        ratio = med["plain"] / med["ours"]
        print(
            f"| {name} | {med['ours']:.3f} | {med['cpu']:.3f} | {med['plain']:.3f} | {ratio:.3f} |"
        )
    paired = [a / b for a, b in zip(taken["after"]["ours"], taken["before"]["ours"], strict=True)]
    print(
        f"after / before, ms a command in the same round: median {statistics.median(paired):.3f}, "
        f"lower in {sum(x < 1 for x in paired)} of {len(paired)} rounds"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
