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


def more_connections(db: ProjectionDatabase) -> Helpers:
    """Helpers that each open another connection to `db`'s database, closed after."""

    @contextmanager
    def connect() -> Iterator[ProjectionDatabase]:
        extra = ProjectionDatabase(db.url)
        try:
            yield extra
        finally:
            extra.close()

    return connect


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
class Counts:
    """One statement's counts on `source`, each with the figure it counts, named
    as a sealed cell's figures are (`compliance_seal.FIGURES`): a scalar by its
    name, a member of a tuple `name.i`, a breach `breaches.<clock>` (summed over
    the statements that count it)."""

    source: Source
    named: tuple[tuple[str, Sql], ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.named)

    @property
    def counts(self) -> list[Sql]:
        return [count for _, count in self.named]


def _members(name: str, counts: Sequence[Sql]) -> tuple[tuple[str, Sql], ...]:
    """`counts` as the members of the tuple `name`."""
    return tuple((f"{name}.{i}", count) for i, count in enumerate(counts))


def fill(group: dict[str, Any], names: Sequence[str], counted: Sequence[int]) -> None:
    """`counted`, named by `names` (`Counts`), into `group` as `group_figures`
    reads it: tuples as tuples, breaches added to those already there."""
    members: dict[str, list[int]] = {}
    for name, value in zip(names, counted, strict=True):
        base, _, member = name.partition(".")
        if base == "breaches":
            add_breaches(group, **{member: value})
        elif member:
            members.setdefault(base, []).append(value)
        else:
            group[base] = value
    for base, values in members.items():
        group[base] = tuple(values)


@dataclass(frozen=True, slots=True)
class Statements:
    sql: ReportSql
    values: dict[str, object]
    width: int

    def parts(self, *, split: bool) -> list[Part]:
        """The report's parts; with `split`, the cases table's two duration columns
        are read by two parts (to run at once)."""
        cases = ("fr",) if split else ("fr", "res")
        parts: list[Part] = [partial(self.cases, quantiles=cases), self.updates, self.escalations]
        if split:
            parts.append(partial(self.quantiles_only, source=CASES, prefix="res"))
        return parts

    def rows(self, db: ProjectionDatabase, statement: Sql) -> list[Row]:
        return db.fetchall(statement, self.values)

    # What each statement counts ------------------------------------------------------

    def counts(self) -> list[Counts]:
        """Every statement's counts: together, every figure of a group."""
        return [self.case_counts(), self.update_counts(), self.escalation_counts(), AGAIN]

    def case_counts(self) -> Counts:
        return Counts(
            CASES,
            (
                ("cases", COUNT),
                *_members("fr_counts", clock_counts("fr")),
                *_members("res_counts", clock_counts("res")),
                ("reopened", count_of(sql("t.reopened_recorded_at <= {as_of}"))),
                ("breaches.first_response", breach_count("fr")),
                ("breaches.resolution", breach_count("res")),
            ),
        )

    def update_counts(self) -> Counts:
        return Counts(
            UPDATES,
            (
                *_members("nu_counts", clock_counts("nu")),
                ("breaches.next_update", breach_count("nu")),
            ),
        )

    def escalation_counts(self) -> Counts:
        return Counts(
            ESCALATIONS,
            (
                *_members(
                    "escalation_counts",
                    [
                        COUNT,
                        self.sql.escalated_cases(),
                        count_of(sql("t.to_escalate_us IS NOT NULL")),
                    ],
                ),
                *_members("vendor_counts", clock_counts("vendor")),
                ("breaches.vendor", breach_count("vendor")),
            ),
        )

    # Reading a statement ----------------------------------------------------------

    def figures(
        self,
        db: ProjectionDatabase,
        found: Found,
        counts: Counts,
        quantiles: dict[str, Percentile],
    ) -> None:
        """Each group's counts into its `found` group (`fill`); the quantiles as
        `<name>_quantiles`."""
        postgres = self.sql.postgres
        if not self.sql.with_quantiles:
            quantiles = {}
        names = counts.names
        statement = self.sql.figures(counts.source, counts.counts, list(quantiles.values()))
        for row in self.rows(db, statement):
            group, rest = found.take(row)
            if postgres:
                arrays = rest[len(names) :]
                for name, array in zip(quantiles, arrays, strict=True):
                    group[f"{name}_quantiles"] = _pair(array)
            fill(group, names, [_int(v) for v in rest[: len(names)]])
        if not postgres:
            for name, quantile in quantiles.items():
                for row in self.rows(db, self.sql.quantiles(counts.source, quantile)):
                    group, (median, p90) = found.take(row)
                    group[f"{name}_quantiles"] = (_duration(median), _duration(p90))

    # The parts ---------------------------------------------------------------------

    def cases(self, db: ProjectionDatabase, quantiles: tuple[str, ...]) -> Found:
        found = Found(self.width)
        wanted = {name: MEASURES[name][1] for name in quantiles}
        self.figures(db, found, self.case_counts(), wanted)
        # Breaches beyond the first of their clock (a resolution clock breached
        # again after a reopen): few, through a partial index.
        self.figures(db, found, AGAIN, {})
        return found

    def quantiles_only(self, db: ProjectionDatabase, source: Source, prefix: str) -> Found:
        found = Found(self.width)
        self.figures(db, found, Counts(source), {prefix: MEASURES[prefix][1]})
        return found

    def updates(self, db: ProjectionDatabase) -> Found:
        found = Found(self.width)
        self.figures(db, found, self.update_counts(), {"nu": MEASURES["nu"][1]})
        return found

    def escalations(self, db: ProjectionDatabase) -> Found:
        found = Found(self.width)
        quantiles = {name: MEASURES[name][1] for name in ("to_escalate", "vendor")}
        self.figures(db, found, self.escalation_counts(), quantiles)
        return found


# Breaches beyond the first of their clock, by clock.
AGAIN = Counts(
    BREACHES_AGAIN,
    tuple(
        (f"breaches.{kind.value}", count_of(sql("t.clock = {kind}", kind=constant(kind.value))))
        for kind in ClockKind
    ),
)


def without_jit(db: ProjectionDatabase) -> None:
    """For the rest of the transaction, on PostgreSQL, no JIT compilation: these
    statements' costs are above its thresholds, and it compiles their many
    conditions for longer than they run (a seal's statements by vehicle: 1.3 of
    3.1 s)."""
    if db.is_postgres:
        db.execute("SET LOCAL jit = off")


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
        without_jit(db)
        found = db.fetchone("SELECT pg_export_snapshot()") if export else None
        yield str(found[0]) if found else ""
