"""Instructions per command: `commands_cpu.py`'s workloads counted by valgrind, exactly.

Run: PYTHONPATH=src .venv/bin/python benchmarks/commands_instructions.py
     [--store sqlite] [--workloads ours,copies,library] [--commands 300]

Each workload is set up in a child process as `commands_cpu.py` sets it up (40
cases spread over the snapshot cycle, warmed), which then runs M commands, under
`valgrind --tool=cachegrind --cache-sim=no`; the script runs it with M = 0 and
M = `--commands` and prints (I(M) - I(0)) / M. The count is of user-space
instructions (Python, SQLite's C, libpq), not the kernel's (system calls, the
commit's flush) nor the PostgreSQL server's, and it does not depend on the
machine's load: two runs of the same code differ by about 2% (random ids, hash
seeds, page splits). Slow: about 50 times native speed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

if not __package__:  # run as a script: import as from the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import commands_cpu as cc

from cases.log_config import configure_logging

ROOT = Path(__file__).resolve().parents[1]
NAMES = {"ours": "ours", "copies": "ours, working copies", "library": "library"}


def run_child(store: str, name: str, commands: int) -> None:
    args = argparse.Namespace(
        cases=40, commands=40, working_copies=1000, postgres_url=cc.bench.ADMIN_URL
    )
    with Path(os.devnull).open("w") as devnull:
        configure_logging("INFO", devnull)
        with cc.workloads(store, args, (name,)) as made:
            made[name].run(commands)


def instructions(store: str, name: str, commands: int) -> int:
    child = [sys.executable, str(Path(__file__).resolve()), "--child", store, name, str(commands)]
    valgrind = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
    ]
    done = subprocess.run(  # noqa: S603 - valgrind on this interpreter and script
        [*valgrind, *child],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | {"PYTHONPATH": str(ROOT / "src")},
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output: {done.stderr[-500:]}")
    return int(found.group(1).replace(",", ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument(
        "--workloads", default="ours,copies,library", help="of ours, copies, library"
    )
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        store, name, commands = args.child
        run_child(store, name, int(commands))
        return 0
    print(f"load average at the start (1, 5, 15 min): {os.getloadavg()}", flush=True)
    print("| workload | instructions / command |")
    print("|---|---:|")
    for key in args.workloads.split(","):
        name = NAMES[key]
        start = instructions(args.store, name, 0)
        end = instructions(args.store, name, args.commands)
        print(f"| {name} | {(end - start) // args.commands:,} |", flush=True)
    print(f"load average at the end (1, 5, 15 min): {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
