"""What an idle `cases projections run` costs (ADR 12, amendment "One watch of
the log's head").

Run: PYTHONPATH=src:. .venv/bin/python -m benchmarks.idle_runners [--seconds 60]
         [--rounds 2] [--trees "before=/tmp/before/src,after=src"]

For each tree and round (trees alternating), on a throwaway PostgreSQL database
seeded with a few cases, it starts `cases projections run --poll-interval 0.02`
(as the e2e fixture does) from that tree's sources, waits until it runs and has
caught up, then measures over --seconds with nothing written: the process's CPU
time (/proc: user + system), its PostgreSQL backends' CPU time, and the
database's committed transactions (pg_stat_database), each per second. The
server and the backends must be on this machine (their /proc is read).
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
from pathlib import Path

import psycopg

if not __package__:  # run as a script: import as from the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._harness import ADMIN_URL, seed_store, throwaway_database

from cases.db.schema import migrate
from cases.persistence.database_url import parse_database_url

TICKS = os.sysconf("SC_CLK_TCK")
WARM_UP = 5.0  # seconds after the runners start before the window opens


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def backends(admin: psycopg.Connection[tuple[object, ...]], name: str) -> list[int]:
    rows = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    ).fetchall()
    return [int(str(row[0])) for row in rows]


def commits(admin: psycopg.Connection[tuple[object, ...]], name: str) -> int:
    admin.execute("SELECT pg_stat_clear_snapshot()")
    row = admin.execute(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (name,)
    ).fetchone()
    return int(str(row[0])) if row else 0


def measure(src: str, seconds: float) -> dict[str, float]:
    """One round: a runner process from `src`, idle for `seconds`."""
    with (
        throwaway_database(ADMIN_URL, "cases_idle") as (url, name),
        tempfile.TemporaryDirectory() as tmp,
    ):
        migrate(parse_database_url(url))
        seed_store(url, Path(tmp), 20, 3, 1)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASES_")}
        env.update(
            CASES_DATABASE_URL=url,
            CASES_DATA_DIR=tmp,
            CASES_POSTGRES_POOL_SIZE="2",
            PYTHONPATH=f"{src}:{Path(src).parent}",
        )
        command = [
            sys.executable,
            "-c",
            "import sys; from cases.cli.main import main; sys.exit(main())",
        ]
        log = Path(tmp) / "runner.log"
        with log.open("w") as out:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter
                [*command, "projections", "run", "--poll-interval", "0.02"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 60
            while "Running " not in log.read_text():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(log.read_text()[-4000:])
                time.sleep(0.1)
            time.sleep(WARM_UP)
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                pids = backends(admin, name)
                before = (cpu_seconds(process.pid), sum(map(cpu_seconds, pids)))
                committed = commits(admin, name)
                started = time.monotonic()
                time.sleep(seconds)
                elapsed = time.monotonic() - started
                after = (cpu_seconds(process.pid), sum(map(cpu_seconds, pids)))
                committed = commits(admin, name) - committed
        finally:
            process.terminate()
            process.wait(30)
    return {
        "process_cpu_pct": 100 * (after[0] - before[0]) / elapsed,
        "backend_cpu_pct": 100 * (after[1] - before[1]) / elapsed,
        "backends": len(pids),
        "commits_per_s": committed / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--trees", default="after=src")
    args = parser.parse_args()
    trees = dict(pair.split("=", 1) for pair in args.trees.split(","))
    results: dict[str, list[dict[str, float]]] = {label: [] for label in trees}
    for round_ in range(args.rounds):
        for label, src in trees.items():
            figures = measure(str(Path(src).resolve()), args.seconds)
            results[label].append(figures)
            print(json.dumps({"round": round_, "tree": label, **figures}), flush=True)
    for label, rounds in results.items():
        medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
        print(json.dumps({"tree": label, "median": medians}), flush=True)
    print(json.dumps({"load_average": os.getloadavg()}))


if __name__ == "__main__":
    main()
