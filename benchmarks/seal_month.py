"""One month's compliance seal made again, as the service-levels projection makes it
at the log's head, in a transaction rolled back: its wall time and this process's CPU.

Run: PYTHONPATH=$PWD/src:$PWD .venv/bin/python -m benchmarks.seal_month
     --database postgresql://postgres@127.0.0.1:5432/cust_bench [--seal 2027-08-01]
     [--runs 3] [--part all|cells|moments]

On a database whose service levels are sealed (the kept `cust_bench` of
`benchmarks.compliance_report`: a million cases in 2027), each run drops the seal at
`--seal` (the latest by default) and those after it, seals it again from the seal
before it (`add_seal`: the cells and, ADR 84, the changes by moment), and rolls back.
`--part cells` seals as while catching up (no changes by moment); `--part moments`
keeps only the changes by moment (`keep_moments`' work). The server's time is the
wall time less this process's CPU, about. Run it with another tree's `src` first on
the path to compare two trees' code on the same rows.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from datetime import UTC, datetime

import structlog

from cases.db.database import ProjectionDatabase
from cases.persistence.database_url import parse_database_url
from cases.projections.projection import LIVE, behind
from cases.reports import compliance_seal


def seal_once(db: ProjectionDatabase, moment: datetime, previous: datetime, part: str) -> float:
    """Seal at `moment` again (rolled back); returns this process's CPU seconds."""
    db.execute("BEGIN")
    try:
        compliance_seal.unseal(db, LIVE, moment)
        cpu = time.process_time()
        if part == "moments":
            no_jit = getattr(compliance_seal, "without_jit", None)  # trees before it: none
            if no_jit is not None:
                no_jit(db)
            compliance_seal._seal_all_moments(db, LIVE, moment, previous)
        else:
            with behind(more=part == "cells"):
                compliance_seal.add_seal(db, LIVE, moment, previous)
        return time.process_time() - cpu
    finally:
        db.execute("ROLLBACK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--seal", type=datetime.fromisoformat, help="default: the latest")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--part", choices=("all", "cells", "moments"), default="all")
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    db = ProjectionDatabase(parse_database_url(args.database))
    try:
        state = compliance_seal.seal_state(db, LIVE)
        if state is None or len(state.seals) < 2:
            parser.error("the database has fewer than two seals")
        seals = list(state.seals)
        moment = seals[-1] if args.seal is None else args.seal.replace(tzinfo=UTC)
        if moment not in seals[1:]:
            parser.error(f"no seal after the first at {moment:%Y-%m-%d}")
        previous = seals[seals.index(moment) - 1]
        walls, cpus = [], []
        for run in range(args.runs):
            started = time.perf_counter()
            cpus.append(seal_once(db, moment, previous, args.part))
            walls.append(time.perf_counter() - started)
            print(f"run {run + 1}: wall {walls[-1]:.1f} s, this process's CPU {cpus[-1]:.1f} s")
        print(
            f"seal of {moment:%Y-%m-%d} ({args.part}), median of {args.runs}: "
            f"wall {statistics.median(walls):.1f} s, "
            f"this process's CPU {statistics.median(cpus):.1f} s"
        )
    finally:
        db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
