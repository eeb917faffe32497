"""The statements of one compliance report, and what each found per group.

A report is a few *parts*, each a statement on one table (on SQLite, plus one per
duration column, for its quantiles), each filling its own `Found`; the parts are
independent, so on PostgreSQL they may run at once on several connections sharing
one snapshot (`snapshot`), and their `Found`s are merged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from psycopg import sql as pgsql

from cases.db.database import ProjectionDatabase, Row
from cases.db.statement import Sql, constant, sql
from cases.domain.service_clocks import ClockKind
from cases.reports.compliance_sql import (
    BREACHES_AGAIN,
    CASES,
    ESCALATIONS,
    MEASURES,
    UPDATES,
    Percentile,
    ReportSql,
    Source,
    breach_count,
    clock_counts,
    count_of,
)

# PostgreSQL's memory per sort: its default. More makes each of thousands of
# groups' ordered-set aggregates slower to start (by customer: 1.4 s of server
# CPU at 256MB, 0.45 s at 4MB over a million cases); a year's sort spills to
# disk either way at a small cost.
WORK_MEM = "4MB"
COUNT = sql("COUNT(*)")

Helpers = Callable[[], AbstractContextManager[ProjectionDatabase]]
"""Lends a connection to the report's database for the length of a `with`."""


def _int(value: object) -> int:
    return 0 if value is None else int(str(value))


def _duration(value: object) -> timedelta | None:
    return None if value is None else timedelta(microseconds=_int(value))


def _pair(array: object) -> tuple[timedelta | None, timedelta | None]:
    """[median, p90] from PostgreSQL (NULL when no value counted)."""
    if array is None:
        return None, None
    median, p90 = list(array)  # type: ignore[call-overload]
    return _duration(median), _duration(p90)


class Found:
    """What statements found, per group key: named counts, quantiles, breaches."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.values: dict[tuple[str, ...], dict[str, Any]] = {}

    def take(self, row: Row) -> tuple[dict[str, Any], list[Any]]:
        key = tuple(str(v) for v in row[: self.width])
        return self.values.setdefault(key, {}), list(row[self.width :])

    @classmethod
    def merged(cls, width: int, parts: Sequence[Found]) -> Found:
        whole = cls(width)
        for part in parts:
            for key, found in part.values.items():
                group = whole.values.setdefault(key, {})
                for name, value in found.items():
                    if name == "breaches":
                        add_breaches(group, **value)
                    else:
                        group[name] = value
        return whole


def add_breaches(group: dict[str, Any], **by_kind: int) -> None:
    counts: dict[str, int] = group.setdefault("breaches", {})
    for kind, count in by_kind.items():
        counts[kind] = counts.get(kind, 0) + count


Part = Callable[[ProjectionDatabase], Found]


@dataclass(frozen=True, slots=True)
class Statements:
    sql: ReportSql
    values: dict[str, object]
    width: int

    def parts(self, *, split: bool) -> list[Part]:
        """The report's parts; with `split`, the cases table's two duration columns
        are read by two parts (to run at once)."""
        cases = ("fr",) if split else ("fr", "res")
        parts: list[Part] = [
            partial(self.cases, quantiles=cases),
            partial(self.clock_table, source=UPDATES, prefix="nu"),
            self.escalations,
        ]
        if split:
            parts.append(partial(self.quantiles_only, source=CASES, prefix="res"))
        return parts

    def rows(self, db: ProjectionDatabase, statement: Sql) -> list[Row]:
        return db.fetchall(statement, self.values)

    def figures(
        self,
        db: ProjectionDatabase,
        found: Found,
        source: Source,
        counts: Sequence[Sql],
        quantiles: dict[str, Percentile],
    ) -> Iterator[tuple[dict[str, Any], list[int]]]:
        """Each group and its counts; the quantiles go into the group as
        `<name>_quantiles`."""
        postgres = self.sql.postgres
        if not self.sql.with_quantiles:
            quantiles = {}
        for row in self.rows(db, self.sql.figures(source, counts, list(quantiles.values()))):
            group, rest = found.take(row)
            if postgres:
                arrays = rest[len(counts) :]
                for name, array in zip(quantiles, arrays, strict=True):
                    group[f"{name}_quantiles"] = _pair(array)
            yield group, [_int(v) for v in rest[: len(counts)]]
        if not postgres:
            for name, quantile in quantiles.items():
                for row in self.rows(db, self.sql.quantiles(source, quantile)):
                    group, (median, p90) = found.take(row)
                    group[f"{name}_quantiles"] = (_duration(median), _duration(p90))

    # The parts ---------------------------------------------------------------------

    def cases(self, db: ProjectionDatabase, quantiles: tuple[str, ...]) -> Found:
        found = Found(self.width)
        counts = [
            COUNT,
            *clock_counts("fr"),
            *clock_counts("res"),
            count_of(sql("t.reopened_recorded_at <= {as_of}")),
            breach_count("fr"),
            breach_count("res"),
        ]
        wanted = {name: MEASURES[name][1] for name in quantiles}
        for group, counted in self.figures(db, found, CASES, counts, wanted):
            group["cases"] = counted[0]
            group["fr_counts"] = tuple(counted[1:4])
            group["res_counts"] = tuple(counted[4:7])
            group["reopened"] = counted[7]
            add_breaches(group, first_response=counted[8], resolution=counted[9])
        self.breaches_again(db, found)
        return found

    def quantiles_only(self, db: ProjectionDatabase, source: Source, prefix: str) -> Found:
        found = Found(self.width)
        for _ in self.figures(db, found, source, [], {prefix: MEASURES[prefix][1]}):
            pass
        return found

    def clock_table(self, db: ProjectionDatabase, source: Source, prefix: str) -> Found:
        found = Found(self.width)
        quantiles = {prefix: MEASURES[prefix][1]}
        counts = [*clock_counts(prefix), breach_count(prefix)]
        for group, counted in self.figures(db, found, source, counts, quantiles):
            group[f"{prefix}_counts"] = tuple(counted[:3])
            add_breaches(group, next_update=counted[3])
        return found

    def escalations(self, db: ProjectionDatabase) -> Found:
        found = Found(self.width)
        counts = [
            COUNT,
            self.sql.escalated_cases(),
            count_of(sql("t.to_escalate_us IS NOT NULL")),
            *clock_counts("vendor"),
            breach_count("vendor"),
        ]
        quantiles = {name: MEASURES[name][1] for name in ("to_escalate", "vendor")}
        for group, counted in self.figures(db, found, ESCALATIONS, counts, quantiles):
            group["escalation_counts"] = tuple(counted[:3])
            group["vendor_counts"] = tuple(counted[3:6])
            add_breaches(group, vendor=counted[6])
        return found

    def breaches_again(self, db: ProjectionDatabase, found: Found) -> None:
        """Breaches beyond the first of their clock (a resolution clock breached
        again after a reopen): few, through a partial index."""
        kinds = list(ClockKind)
        counts = [count_of(sql("t.clock = {kind}", kind=constant(k.value))) for k in kinds]
        for row in self.rows(db, self.sql.figures(BREACHES_AGAIN, counts, [])):
            group, rest = found.take(row)
            add_breaches(group, **{k.value: _int(v) for k, v in zip(kinds, rest, strict=True)})


@contextmanager
def snapshot(
    db: ProjectionDatabase, exported: str | None = None, *, export: bool = False
) -> Iterator[str]:
    """A read-only transaction in which every statement reads the same committed
    state: on PostgreSQL a repeatable-read one, on `exported` (another
    transaction's snapshot) if given; yields, with `export`, its snapshot's id for
    other connections to share (else "")."""
    if not db.is_postgres:
        db.execute("BEGIN")
        try:
            yield ""
        finally:
            db.execute("COMMIT")
        return
    connection = db.postgres
    with connection.transaction():
        db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        if exported is not None:
            connection.execute(
                pgsql.SQL("SET TRANSACTION SNAPSHOT {}").format(pgsql.Literal(exported))
            )
        db.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        db.execute("SET LOCAL jit = off")
        found = db.fetchone("SELECT pg_export_snapshot()") if export else None
        yield str(found[0]) if found else ""
