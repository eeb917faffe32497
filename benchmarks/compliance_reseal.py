"""The service levels' later seals sealed again, in a transaction rolled back: the
server's CPU per statement kind, and whether the cells came out the same.

Run: PYTHONPATH=$PWD/src:$PWD .venv/bin/python -m benchmarks.compliance_reseal
     --database postgresql://postgres@127.0.0.1:5432/sl1m [--runs 1]

On a PostgreSQL database the service-levels projection has sealed (a kept one,
`sl1m`: nothing is committed), each run drops every seal after the first and
seals each again from the one before it (`add_seal`, as the projection does),
then rolls back. Around each statement it reads the backend's CPU
(`/proc/<pid>/schedstat`: the server runs on this machine) and this process's
(`time.process_time`); it prints them summed per layer and statement kind, with
the statements' counts, and whether every re-sealed table holds what it held
(an md5 over its rows). Run it with another tree's `src` first on the path to
compare two trees' code on the same rows.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cases.db.database import ProjectionDatabase
from cases.db.statement import identifier, sql
from cases.persistence.database_url import parse_database_url
from cases.projections.projection import LIVE, TableNames
from cases.reports import compliance_seal
from cases.reports.compliance_seal import (
    LAYERS,
    SEAL_TABLES,
    Layer,
    add_seal,
    seal_state,
    unseal,
)

READ_TABLES = ("cases", "updates", "escalations", "breaches")


@dataclass
class Tally:
    statements: int = 0
    server: float = 0.0
    client: float = 0.0


@dataclass
class Run:
    by_kind: dict[tuple[str, str], Tally] = field(default_factory=lambda: defaultdict(Tally))
    layer: str = "-"


def backend_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[0]) / 1e9


def kind_of(text: str) -> str:
    """What a statement does, from its text: which table it reads or writes."""
    if text.lstrip().upper().startswith(("INSERT", "DELETE")):
        return "write"
    if "vehicle_first" in text and "DISTINCT e.case_id" in text and "grouped_vehicle" not in text:
        return "moved cases"
    found = re.search(rf'service_level_({"|".join(READ_TABLES)})"? "?t\b', text)
    read = found.group(1) if found else "other"  # the table read as `t`
    return f"{read} {'durations' if 'int8send' in text else 'counts'}"


def layer_name(layer: Layer) -> str:
    return "+".join(d.value for d in layer.dimensions)


@contextmanager
def counted_statements(db: ProjectionDatabase, run: Run) -> Iterator[None]:
    """Every statement `db` runs meanwhile tallied into `run`, by layer and kind."""
    pid = int(db.fetchall("SELECT pg_backend_pid()")[0][0])
    originals: dict[str, Callable[..., Any]] = {}

    def wrapped(name: str) -> Callable[..., Any]:
        original = getattr(db, name)
        originals[name] = original

        def call(statement: Any, *args: Any, **kwargs: Any) -> Any:
            server, client = backend_seconds(pid), time.process_time()
            result = original(statement, *args, **kwargs)
            tally = run.by_kind[(run.layer, kind_of(db.text(statement)))]
            tally.statements += 1
            tally.server += backend_seconds(pid) - server
            tally.client += time.process_time() - client
            return result

        return call

    seal_layer = compliance_seal._seal_layer

    def in_layer(
        db: ProjectionDatabase,
        tables: TableNames,
        layer: Layer,
        moment: datetime,
        previous: datetime | None,
    ) -> None:
        run.layer = layer_name(layer)
        try:
            seal_layer(db, tables, layer, moment, previous)
        finally:
            run.layer = "-"

    for name in ("fetchall", "execute", "executemany"):
        setattr(db, name, wrapped(name))
    compliance_seal._seal_layer = in_layer
    try:
        yield
    finally:
        compliance_seal._seal_layer = seal_layer
        for name, original in originals.items():
            setattr(db, name, original)


def digests(db: ProjectionDatabase) -> dict[str, str]:
    """An md5 over each seal table's rows, in order."""
    return {
        table: str(
            db.fetchall(
                sql(
                    "SELECT md5(COALESCE(string_agg(CAST(t AS text), '|' "
                    "ORDER BY CAST(t AS text)), '')) FROM {table} t",
                    table=identifier(LIVE(table)),
                )
            )[0][0]
        )
        for table in SEAL_TABLES[1:]
    }


def reseal_once(db: ProjectionDatabase, kept: dict[str, str]) -> tuple[Run, bool]:
    state = seal_state(db, LIVE)
    if state is None or len(state.seals) < 2:
        raise SystemExit("the database holds fewer than two seals")
    run = Run()
    with db.postgres.transaction(force_rollback=True):
        unseal(db, LIVE, state.seals[1])
        with counted_statements(db, run):
            for previous, moment in zip(state.seals, state.seals[1:], strict=False):
                add_seal(db, LIVE, moment, previous)
        return run, digests(db) == kept


def report(run: Run, same: bool) -> None:
    print(f"{'layer':<34} {'kind':<22} {'stmts':>6} {'server s':>9} {'client s':>9}")
    for (layer, kind), tally in sorted(run.by_kind.items()):
        print(
            f"{layer:<34} {kind:<22} {tally.statements:>6} "
            f"{tally.server:>9.3f} {tally.client:>9.3f}"
        )
    for layer in sorted({layer for layer, _ in run.by_kind}):
        tallies = [t for (name, _), t in run.by_kind.items() if name == layer]
        print(
            f"{layer:<34} {'(all)':<22} {sum(t.statements for t in tallies):>6} "
            f"{sum(t.server for t in tallies):>9.3f} {sum(t.client for t in tallies):>9.3f}"
        )
    total = list(run.by_kind.values())
    print(
        f"total: {sum(t.statements for t in total)} statements, server "
        f"{sum(t.server for t in total):.3f} s, client {sum(t.client for t in total):.3f} s; "
        f"cells the same: {same}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    db = ProjectionDatabase(parse_database_url(args.database))
    try:
        kept = digests(db)
        print(f"layers: {', '.join(layer_name(layer) for layer in LAYERS)}; pid {os.getpid()}")
        for _ in range(args.runs):
            report(*reseal_once(db, kept))
    finally:
        db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
