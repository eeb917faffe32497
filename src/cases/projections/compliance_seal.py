"""Sealed compliance figures (ADR 30): the service-level tables' figures as of a
seal moment, kept per cell, so a report as of a later moment reads the cells and
only the rows that facts recorded after the seal touched.

A *cell* is the cases received in one UTC month (`received_month`) with one
month of receipt in the service hours' time zone, one severity and one category.
Its counts are the report's counts (`Statements`, as named there, flattened to
`name.i` and `breaches.kind`); its durations, per measure (`MEASURES`), every
duration that counts, packed in order as 8-byte big-endian integers (so the
cells are a function of the rows: a rebuild seals the same bytes).

The seal is the start of a UTC month: the service-levels projection seals again
once it has seen a fact recorded `GRACE` after the next month's start, and at
once when a batch holds a fact recorded at or before the seal (recorded late, as
can happen only by clock skew between writers), so the cells always hold what
the rows said as of the seal. Rows' columns are written once, so a row's figures
as of the seal do not change afterwards either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cases.projections.compliance_sql import MEASURES, Dimension, ReportSql, bind
from cases.projections.compliance_statements import Found, Statements
from cases.projections.db import ProjectionDatabase, Row, as_moment
from cases.projections.projection import TableNames

GRACE = timedelta(hours=1)
SEALED_DIMENSIONS = (Dimension.MONTH, Dimension.SEVERITY, Dimension.CATEGORY)
# Bounds wider than any period: the cells hold every case received.
EVER = {
    "start": datetime(1900, 1, 1, tzinfo=UTC),
    "end": datetime(9999, 1, 1, tzinfo=UTC),
}
SEAL_TABLES = ("compliance_seal", "compliance_sealed_counts", "compliance_sealed_durations")
DURATION_BYTES = 8

Cell = tuple[str, str, str, str]  # received month (UTC), month, severity, category


def month_start(moment: datetime) -> datetime:
    """The start of the UTC month `moment` is in."""
    utc = moment.astimezone(UTC)
    return datetime(utc.year, utc.month, 1, tzinfo=UTC)


def next_month(moment: datetime) -> datetime:
    start = month_start(moment)
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def month_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


# Counts, flattened -------------------------------------------------------------


def flattened(group: dict[str, Any]) -> dict[str, int]:
    """A group's counts as `Statements` found them, one integer per figure."""
    flat: dict[str, int] = {}
    for name, value in group.items():
        if name.endswith("_quantiles"):
            continue
        if isinstance(value, tuple):
            flat.update({f"{name}.{i}": int(v) for i, v in enumerate(value)})
        elif isinstance(value, dict):
            flat.update({f"{name}.{kind}": int(v) for kind, v in value.items()})
        else:
            flat[name] = int(value)
    return flat


def unflattened(flat: dict[str, int]) -> dict[str, Any]:
    """The inverse of `flattened`, as `group_figures` reads a group."""
    group: dict[str, Any] = {}
    tuples: dict[str, dict[int, int]] = {}
    for name, value in flat.items():
        base, _, part = name.partition(".")
        if not part:
            group[base] = value
        elif base == "breaches":
            group.setdefault("breaches", {})[part] = value
        else:
            tuples.setdefault(base, {})[int(part)] = value
    for base, parts in tuples.items():
        group[base] = tuple(parts[i] for i in range(len(parts)))
    return group


def counted(
    db: ProjectionDatabase, sql: ReportSql, values: dict[str, object]
) -> dict[tuple[str, ...], dict[str, int]]:
    """Every group's counts (no percentiles) from `sql`'s statements."""
    width = sql.width
    found = Found.merged(
        width, [part(db) for part in Statements(sql, values, width).parts(split=False)]
    )
    return {key: flattened(group) for key, group in found.values.items()}


# The seal ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SealState:
    sealed_at: datetime | None
    latest_recorded_at: datetime


def seal_state(db: ProjectionDatabase, tables: TableNames) -> SealState | None:
    found = db.fetchone(
        f"SELECT sealed_at, latest_recorded_at FROM {tables('compliance_seal')}"  # noqa: S608
    )
    if found is None:
        return None
    sealed_at = None if found[0] is None else as_moment(found[0])
    return SealState(sealed_at, as_moment(found[1]))


def seal_after(
    db: ProjectionDatabase, tables: TableNames, recorded: Sequence[datetime]
) -> datetime | None:
    """After a batch of facts recorded at `recorded` was applied: seal again if
    the batch passed the next month's start by `GRACE`, or holds a fact recorded
    at or before the seal. Returns the moment sealed at, if it sealed."""
    if not recorded:
        return None
    state = seal_state(db, tables)
    latest = max(recorded) if state is None else max(state.latest_recorded_at, *recorded)
    due = month_start(latest - GRACE)
    sealed_at = None if state is None else state.sealed_at
    if sealed_at is None or due > sealed_at or min(recorded) <= sealed_at:
        moment = due if sealed_at is None else max(due, sealed_at)
        seal(db, tables, moment, latest)
        return moment
    db.execute(
        f"UPDATE {tables('compliance_seal')} SET latest_recorded_at = ?",  # noqa: S608
        [latest],
    )
    return None


def seal(
    db: ProjectionDatabase,
    tables: TableNames,
    moment: datetime,
    latest_recorded_at: datetime | None = None,
) -> None:
    """Replace the cells with the figures as of `moment` (inside the caller's
    transaction)."""
    counts, durations = tables("compliance_sealed_counts"), tables("compliance_sealed_durations")
    db.execute(f"DELETE FROM {counts}")  # noqa: S608
    db.execute(f"DELETE FROM {durations}")  # noqa: S608
    sql = ReportSql(
        SEALED_DIMENSIONS,
        postgres=db.is_postgres,
        tables=tables,
        by_received_month=True,
        quantiles=False,
    )
    values: dict[str, object] = {**EVER, "as_of": moment}
    db.executemany(
        f"INSERT INTO {counts} (received_month, month, severity, category, figure, count) "  # noqa: S608
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            [*cell, figure, count]
            for cell, figures in sorted(counted(db, sql, values).items())
            for figure, count in sorted(figures.items())
        ],
    )
    db.executemany(
        f"INSERT INTO {durations} (received_month, month, severity, category, measure, "  # noqa: S608
        "durations) VALUES (?, ?, ?, ?, ?, ?)",
        [[*cell, measure, packed] for cell, measure, packed in _packed(db, sql, values)],
    )
    table = tables("compliance_seal")
    db.execute(f"DELETE FROM {table}")  # noqa: S608
    db.execute(
        f"INSERT INTO {table} (id, sealed_at, latest_recorded_at) VALUES (1, ?, ?)",  # noqa: S608
        [moment, latest_recorded_at or moment],
    )


def _packed(
    db: ProjectionDatabase, sql: ReportSql, values: dict[str, object]
) -> Iterable[tuple[Cell, str, bytes]]:
    """Each cell's durations of each measure, packed."""
    for measure, (source, quantile) in MEASURES.items():
        text, params = bind(sql.durations(source, quantile, packed=db.is_postgres), values)
        rows = db.fetchall(text, params)
        if db.is_postgres:
            for row in rows:
                yield _cell(row), measure, bytes(row[4])
            continue
        by_cell: dict[Cell, list[int]] = {}
        for row in rows:
            by_cell.setdefault(_cell(row), []).append(int(row[4]))
        for cell, found in by_cell.items():
            yield cell, measure, pack(sorted(found))


def _cell(row: Row) -> Cell:
    return (str(row[0]), str(row[1]), str(row[2]), str(row[3]))


def pack(durations: Iterable[int]) -> bytes:
    return b"".join(d.to_bytes(DURATION_BYTES, "big", signed=True) for d in durations)
