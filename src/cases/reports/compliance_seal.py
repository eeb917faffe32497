"""Sealed compliance figures (ADR 30): the service-level tables' figures as of
month starts, kept per cell, so a report as of a later moment reads the cells and
only the rows that facts recorded after the last seal touched.

A *cell* is the cases received in one UTC month (`received_month`) with one
month of receipt in the service hours' time zone, one severity and one category
(and, in the layer of ADR 72, one vehicle); the customer layer's (ADR 79) is
the cases of one UTC month of receipt, local month of receipt and customer.
Its counts are the report's counts (`Statements`, as named there, flattened to
`name.i` and `breaches.kind`; those that did not change are left out); its
durations, per measure (`MEASURES`), every duration that came to count, packed
in order as 8-byte big-endian integers. The customer layer keeps a cell's counts
as one vector in the order of `FIGURES` and each measure's durations as a blob,
its cells packed a row per seal and months (`compliance_packed`, ADR 85).

Seals are month starts (UTC). The cells of a seal hold what changed from the
seal before it (read from the rows a fact recorded after that one touched), the
first seal's everything as of it; a report as of a moment after the latest seal
adds up the cells of every seal. The service-levels projection seals each month start once
it has seen a fact recorded `GRACE` after it, starting from the month start
before its first fact; a batch holding a fact recorded at or before a seal
(recorded late, as only clock skew between writers can make happen) drops that
seal and the later ones, which are sealed again at once. So the cells always say
what the rows said, and since a row's columns are written once, a row's figures
as of a seal do not change afterwards either. Each seal is a function of the
rows: a rebuild writes the same cells.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog

from cases.db.database import ProjectionDatabase, as_moment
from cases.db.shapes import insert
from cases.db.statement import NOTHING, identifier
from cases.db.statement import sql as compose
from cases.projections.projection import TableNames, behind, catching_up
from cases.reports.compliance_packed import pack, packed_rows, unpacked
from cases.reports.compliance_sql import MEASURES, Dimension, ReportSql
from cases.reports.compliance_statements import Found, Statements, without_jit

logger = structlog.get_logger("cases.projections")

GRACE = timedelta(hours=1)
SEALED_DIMENSIONS = (Dimension.MONTH, Dimension.SEVERITY, Dimension.CATEGORY)
VEHICLE_DIMENSIONS = (*SEALED_DIMENSIONS, Dimension.VEHICLE)
CUSTOMER_DIMENSIONS = (Dimension.MONTH, Dimension.CUSTOMER)
# Dimensions a layer serves only if the report is grouped by them too.
OWN_DIMENSIONS = (Dimension.VEHICLE, Dimension.CUSTOMER)
# A cell's counts in a vector (ADR 79): every figure `flattened` names, in this order.
FIGURES = (
    "cases",
    *(f"{name}.{i}" for name in ("fr_counts", "res_counts") for i in range(3)),
    "reopened",
    *(f"breaches.{kind}" for kind in ("first_response", "resolution", "next_update", "vendor")),
    *(
        f"{name}.{i}"
        for name in ("nu_counts", "escalation_counts", "vendor_counts")
        for i in range(3)
    ),
)
FIGURE_INDEX = {figure: i for i, figure in enumerate(FIGURES)}


@dataclass(frozen=True, slots=True)
class Layer:
    """One set of cells: keyed by the UTC month of receipt and `dimensions`. Grouped
    by vehicle (`moves`), a case's rows change group when it is escalated, so
    durations also leave a group (`removed`, ADR 72). A layer with `cells` keeps
    in that table each cell's counts as one vector (`FIGURES`) and each
    measure's durations one blob (ADR 79), instead of a row per figure in
    `counts` and per measure in `durations`; its cells packed a row per seal and
    months, by its last dimension (ADR 85)."""

    dimensions: tuple[Dimension, ...]
    counts: str = ""
    durations: str = ""
    cells: str = ""
    # The same changes at the moments they were recorded (ADR 84): per figure,
    # then per measure (a layer whose rows do not move, kept a row per figure).
    count_moments: str = ""
    duration_moments: str = ""
    cell_moments: str = ""  # a layer with `cells`: packed as its cells

    @property
    def keeps_moments(self) -> bool:
        return bool(self.count_moments or self.cell_moments)

    @property
    def tables(self) -> tuple[str, ...]:
        kept = (self.cells,) if self.cells else (self.counts, self.durations)
        moments = (self.count_moments, self.duration_moments) if self.count_moments else ()
        return (*kept, *moments, *((self.cell_moments,) if self.cell_moments else ()))

    @property
    def moves(self) -> bool:
        return Dimension.VEHICLE in self.dimensions

    @property
    def cell(self) -> tuple[str, ...]:
        return ("sealed_at", "received_month", *(d.value for d in self.dimensions))

    @property
    def count_columns(self) -> tuple[str, ...]:
        return (*self.cell, "figure", "count")

    @property
    def duration_columns(self) -> tuple[str, ...]:
        removed = ("removed",) if self.moves else ()
        return (*self.cell, "measure", *removed, "durations")

    def serves(self, group_by: Sequence[Dimension]) -> bool:
        return set(group_by) <= set(self.dimensions) and all(
            (d in self.dimensions) == (d in group_by) for d in OWN_DIMENSIONS
        )


LAYERS = (
    Layer(
        SEALED_DIMENSIONS,
        "compliance_sealed_counts",
        "compliance_sealed_durations",
        count_moments="compliance_sealed_count_moments",
        duration_moments="compliance_sealed_duration_moments",
    ),
    Layer(
        VEHICLE_DIMENSIONS,
        "compliance_sealed_vehicle_counts",
        "compliance_sealed_vehicle_durations",
        count_moments="compliance_sealed_vehicle_count_moments",
        duration_moments="compliance_sealed_vehicle_duration_moments",
    ),
    Layer(
        CUSTOMER_DIMENSIONS,
        cells="compliance_sealed_customer_cells",
        cell_moments="compliance_sealed_customer_cell_moments",
    ),
)
# Bounds wider than any period: the cells hold every case received.
EVER = {
    "start": datetime(1900, 1, 1, tzinfo=UTC),
    "end": datetime(9999, 1, 1, tzinfo=UTC),
}
SEAL_TABLES = (
    "compliance_seal",
    "compliance_seals",
    *(table for layer in LAYERS for table in layer.tables),
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
# The columns of a layer with `cells`, its cells packed a row per seal and months
# (ADR 79, 85), after its cells' names (`names`): their counts' vectors,
# each measure's numbers of durations and the durations.
CELL_COLUMNS = ("counts", *(column for m in MEASURES for column in (f"{m}_lengths", m)))
# ... and by moment (ADR 84): the cells' numbers of changes, each change's moment,
# figure (its place in `FIGURES`) and change; per measure the cells' numbers of
# durations, their moments and the durations.
CELL_MOMENTS = (
    "lengths",
    "moments",
    "figures",
    "changes",
    *(column for m in MEASURES for column in (f"{m}_lengths", f"{m}_moments", m)),
)
TUPLE_WIDTH = 3  # every tuple of counts `Statements` finds has three
Durations = npt.NDArray[np.int64]


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


def microseconds_since_epoch(moment: datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


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
    """The inverse of `flattened`, as `group_figures` reads a group (a figure
    left out counts 0)."""
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
        group[base] = tuple(parts.get(i, 0) for i in range(TUPLE_WIDTH))
    return group


def _vector_plan() -> tuple[
    list[tuple[str, int]], list[tuple[str, list[int]]], list[tuple[str, int]]
]:
    """Where each of `unflattened`'s names is in a vector of `FIGURES`."""
    scalars: list[tuple[str, int]] = []
    tuples: dict[str, list[int]] = {}
    breaches: list[tuple[str, int]] = []
    for at, figure in enumerate(FIGURES):
        base, _, part = figure.partition(".")
        if not part:
            scalars.append((base, at))
        elif base == "breaches":
            breaches.append((part, at))
        else:
            tuples.setdefault(base, []).append(at)
    return scalars, list(tuples.items()), breaches


_SCALARS, _TUPLES, _BREACHES = _vector_plan()


def unflattened_vector(vector: Sequence[int]) -> dict[str, Any]:
    """`unflattened` of a vector in the order of `FIGURES` (every figure)."""
    group: dict[str, Any] = {name: vector[at] for name, at in _SCALARS}
    for name, (a, b, c) in _TUPLES:
        group[name] = (vector[a], vector[b], vector[c])
    group["breaches"] = {kind: vector[at] for kind, at in _BREACHES}
    return group


def counted(
    db: ProjectionDatabase, sql: ReportSql, values: dict[str, object]
) -> dict[tuple[str, ...], dict[str, int]]:
    """Every group's counts (no percentiles) from `sql`'s statements (since a
    seal: each its change from `:sealed` to `:as_of`, of the rows touched after
    the seal)."""
    width = sql.width
    found = Found.merged(
        width, [part(db) for part in Statements(sql, values, width).parts(split=False)]
    )
    return {key: flattened(group) for key, group in found.values.items()}


def since_seal(
    db: ProjectionDatabase, sql: ReportSql, values: dict[str, object]
) -> dict[str, object]:
    """`values` with what the statements since a seal read: grouped by vehicle
    on PostgreSQL, the cases `moved` to another vehicle's group meanwhile."""
    if not (db.is_postgres and Dimension.VEHICLE in sql.group_by):
        return values
    return {**values, "moved": [row[0] for row in db.fetchall(sql.moved_cases(), values)]}


def durations_by_key(
    db: ProjectionDatabase, sql: ReportSql, values: dict[str, object], *, removed: bool = False
) -> Iterable[tuple[tuple[str, ...], str, Durations]]:
    """Each group's durations of each measure that count (since the seal: came
    to count), from the rows, sorted; with `removed` (since the seal, grouped by
    vehicle), those that left the group `none` instead."""
    width = sql.width
    for measure, (source, quantile) in MEASURES.items():
        if removed and not sql.moves(source):
            continue
        if removed:
            statement = sql.left_unescalated(source, quantile)
        else:
            statement = sql.durations(source, quantile, packed=db.is_postgres)
        if db.is_postgres:  # one packed, sorted bytea per group (NULL: none)
            for row in db.fetchall(statement, values, binary=True):
                if row[width] is not None:
                    yield tuple(str(v) for v in row[:width]), measure, unpacked(row[width])
            continue
        by_key: dict[tuple[str, ...], list[int]] = {}
        for row in db.fetchall(statement, values):
            by_key.setdefault(tuple(str(v) for v in row[:width]), []).append(int(row[width]))
        for key, found in by_key.items():
            yield key, measure, np.sort(np.array(found, dtype=np.int64))


# The seals ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SealState:
    seals: tuple[datetime, ...]  # in order
    latest_recorded_at: datetime
    # The seals whose changes since the seal before are kept by moment (ADR 84).
    by_moment: frozenset[datetime] = frozenset()

    def around(self, moment: datetime) -> tuple[datetime, datetime] | None:
        """The seals just before and just after `moment`, if it lies between two."""
        before = [seal for seal in self.seals if seal < moment]
        after = [seal for seal in self.seals if seal > moment]
        return (before[-1], after[0]) if before and after else None


def seal_state(db: ProjectionDatabase, tables: TableNames) -> SealState | None:
    found = db.fetchone(
        compose("SELECT latest_recorded_at FROM {seal}", seal=identifier(tables("compliance_seal")))
    )
    if found is None:
        return None
    seals = db.fetchall(
        compose(
            "SELECT sealed_at, moments FROM {seals} ORDER BY sealed_at",
            seals=identifier(tables("compliance_seals")),
        )
    )
    return SealState(
        tuple(as_moment(row[0]) for row in seals),
        as_moment(found[0]),
        frozenset(as_moment(row[0]) for row in seals if row[1]),
    )


def seal_after(
    db: ProjectionDatabase,
    tables: TableNames,
    recorded: Sequence[datetime],
    state: SealState | None,
) -> list[datetime]:
    """After a batch of facts recorded at `recorded` was applied: unseal from
    the earliest of them (a fact recorded at or before a seal changes it), then
    seal each month start the latest fact seen passed by `GRACE`. Returns the
    moments sealed at. `state`: the seals as `seal_state` read them in the
    batch's transaction, before its writes (ADR 86: a read after them would wait
    for every write sent in the pipeline)."""
    if not recorded:
        return []
    latest = max(recorded) if state is None else max(state.latest_recorded_at, *recorded)
    earliest = min(recorded)
    seals = unseal_for_late_fact(db, tables, [] if state is None else state.seals, earliest)
    moments = seals_due(seals, earliest, latest)
    by_moment = set() if state is None else set(state.by_moment)
    for moment in moments:
        started = time.perf_counter()
        if add_seal(db, tables, moment, seals[-1] if seals else None):
            by_moment.add(moment)
        seals.append(moment)
        logger.info(
            "compliance_sealed",
            sealed_at=moment.isoformat(),
            seconds=round(time.perf_counter() - started, 3),
        )
    note_latest(db, tables, latest)
    if state is not None and not catching_up():
        _keep_moments_at_head(db, tables, SealState(tuple(seals), latest, frozenset(by_moment)))
    return moments


def unseal_for_late_fact(
    db: ProjectionDatabase, tables: TableNames, seals: Sequence[datetime], earliest: datetime
) -> list[datetime]:
    """Drop the seals at or after `earliest`, the earliest moment a batch's facts
    were recorded at (a fact recorded at or before a seal changes it); returns the
    seals kept of `seals`. The seals are held meanwhile (`lock_seals`)."""
    if not (seals and seals[-1] >= earliest):
        return list(seals)
    lock_seals(db, tables)
    unseal(db, tables, earliest)
    logger.warning(
        "compliance_seals_dropped_for_late_fact",
        recorded_at=earliest.isoformat(),
        seals=[s.isoformat() for s in seals if s >= earliest],
    )
    return [s for s in seals if s < earliest]


def seals_due(seals: Sequence[datetime], earliest: datetime, latest: datetime) -> list[datetime]:
    """The month starts to seal after `seals` once a fact recorded at `latest` is
    seen: each that `latest` passed by `GRACE`. With no seal yet, from the month
    start before the earliest fact (`earliest`): the same on a rebuild."""
    due = month_start(latest - GRACE)
    if seals:
        return list(months_after(seals[-1], due))
    first = month_start(earliest - GRACE)
    return [first, *months_after(first, due)]


def lock_seals(db: ProjectionDatabase, tables: TableNames) -> None:
    """Hold the seals of `tables` until the caller's transaction ends (PostgreSQL):
    the service levels' sealer and a partition unsealing for a late fact take
    turns (ADR 90). The one runner needs none: it seals in its own batches."""
    if db.is_postgres:
        db.execute(
            compose("SELECT pg_advisory_xact_lock(hashtextextended({}, 0))"),
            [f"cases-seals:{tables('compliance_seal')}"],
        )


def _keep_moments_at_head(db: ProjectionDatabase, tables: TableNames, state: SealState) -> None:
    """At the log's head, keep the changes by moment of one seal made while
    catching up, if any (ADR 84): the rest, one a batch, in the batches after."""
    started = time.perf_counter()
    kept = keep_moments(db, tables, state)
    if kept is not None:
        logger.info(
            "compliance_moments_kept",
            sealed_at=kept.isoformat(),
            seconds=round(time.perf_counter() - started, 3),
        )


def reseal(
    db: ProjectionDatabase,
    tables: TableNames,
    moments: Sequence[datetime],
    latest_recorded_at: datetime,
    *,
    by_moment: frozenset[datetime] | None = None,
) -> None:
    """Replace every seal with seals at `moments`, in order (inside the caller's
    transaction). With `by_moment`, the changes by moment are kept for those of
    them only (a partitioned check makes the seals a sealer made, ADR 90); else
    as a batch would (`catching_up`)."""
    unseal(db, tables)
    previous = None
    for moment in moments:
        with nullcontext() if by_moment is None else behind(more=moment not in by_moment):
            add_seal(db, tables, moment, previous)
        previous = moment
    note_latest(db, tables, latest_recorded_at)


def months_after(seal: datetime, due: datetime) -> Iterable[datetime]:
    moment = next_month(seal)
    while moment <= due:
        yield moment
        moment = next_month(moment)


def unseal(db: ProjectionDatabase, tables: TableNames, since: datetime | None = None) -> None:
    """Drop the seals at or after `since` (every seal, without it), and their cells."""
    where = NOTHING if since is None else compose(" WHERE sealed_at >= {since}")
    for table in SEAL_TABLES[1:]:
        db.execute(
            compose("DELETE FROM {table}{where}", table=identifier(tables(table)), where=where),
            () if since is None else {"since": since},
        )


def note_latest(db: ProjectionDatabase, tables: TableNames, latest: datetime) -> None:
    """Keep `latest` as the latest moment a fact seen was recorded at."""
    db.execute(
        compose(
            "INSERT INTO {seal} (id, latest_recorded_at) VALUES (1, {}) "
            "ON CONFLICT (id) DO UPDATE SET latest_recorded_at = excluded.latest_recorded_at",
            seal=identifier(tables("compliance_seal")),
        ),
        [latest],
    )


def add_seal(
    db: ProjectionDatabase, tables: TableNames, moment: datetime, previous: datetime | None
) -> bool:
    """Seal at `moment`: the cells of what changed from the seal at `previous`
    (read from the rows touched after it) or, for the first seal, of everything;
    after the first, the same changes by moment too (ADR 84), except while the
    projection catches up (`keep_moments` adds them later). Returns whether it
    kept the changes by moment."""
    without_jit(db)
    for layer in LAYERS:
        _seal_layer(db, tables, layer, moment, previous)
    by_moment = False
    if previous is not None and not catching_up():
        _seal_all_moments(db, tables, moment, previous)
        by_moment = True
    db.execute(insert(tables("compliance_seals"), ("sealed_at", "moments")), [moment, by_moment])
    return by_moment


def keep_moments(
    db: ProjectionDatabase, tables: TableNames, state: SealState | None = None
) -> datetime | None:
    """Keep the changes by moment of the earliest seal after the first that has
    none (sealed while the projection caught up, or before migration 0025), inside
    the caller's transaction; returns its moment, None if every seal has them.
    `state`: the seals as the caller knows them (else read)."""
    state = state or seal_state(db, tables)
    if state is None:
        return None
    for previous, moment in itertools.pairwise(state.seals):
        if moment not in state.by_moment:
            without_jit(db)
            _seal_all_moments(db, tables, moment, previous)
            db.execute(
                compose(
                    "UPDATE {seals} SET moments = {} WHERE sealed_at = {}",
                    seals=identifier(tables("compliance_seals")),
                ),
                [True, moment],
            )
            return moment
    return None


def _seal_all_moments(
    db: ProjectionDatabase, tables: TableNames, moment: datetime, previous: datetime
) -> None:
    for layer in LAYERS:
        if layer.keeps_moments:
            _seal_moments(db, tables, layer, moment, previous)


def _layer_sql(
    db: ProjectionDatabase,
    tables: TableNames,
    layer: Layer,
    moment: datetime,
    previous: datetime | None,
    *,
    by_moment: bool = False,
) -> tuple[ReportSql, dict[str, object]]:
    """The statements that seal `layer` at `moment` (since the seal at `previous`),
    and their values."""
    sql = ReportSql(
        layer.dimensions,
        postgres=db.is_postgres,
        tables=tables,
        by_received_month=True,
        quantiles=False,
        since_seal=previous is not None,
        by_moment=by_moment,
    )
    values: dict[str, object] = {**EVER, "as_of": moment, "sealed": previous, "until": moment}
    if previous is not None:
        values = since_seal(db, sql, values)
    return sql, values


def _seal_layer(
    db: ProjectionDatabase,
    tables: TableNames,
    layer: Layer,
    moment: datetime,
    previous: datetime | None,
) -> None:
    sql, values = _layer_sql(db, tables, layer, moment, previous)
    changes = counted(db, sql, values)
    if layer.cells:
        found = durations_by_key(db, sql, values)
        _seal_cells(db, tables, layer, moment, changes=changes, found=found)
        return
    db.executemany(
        insert(tables(layer.counts), layer.count_columns),
        [
            [moment, *cell, figure, count]
            for cell, figures in sorted(changes.items())
            for figure, count in sorted(figures.items())
            if count
        ],
    )
    removed = (False, True) if layer.moves and previous is not None else (False,)
    db.executemany(
        insert(tables(layer.durations), layer.duration_columns),
        [
            [moment, *cell, measure, *([gone] if layer.moves else []), pack(found)]
            for gone in removed
            for cell, measure, found in durations_by_key(db, sql, values, removed=gone)
        ],
    )


def _seal_moments(
    db: ProjectionDatabase,
    tables: TableNames,
    layer: Layer,
    moment: datetime,
    previous: datetime,
) -> None:
    """The changes of the seal at `moment` since the one at `previous`, at the
    moments they were recorded (ADR 84): per cell and figure that changed, its
    moments and its change up to each; per cell and measure, the durations that
    came to count (grouped by vehicle: and that left the group `none`), in their
    moments' order, and those moments. A layer with `cells` keeps them packed as
    its cells (`_seal_cell_moments`)."""
    sql, values = _layer_sql(db, tables, layer, moment, previous, by_moment=True)
    changes = changes_by_moment(db, sql, values)
    if layer.cells:
        _seal_cell_moments(db, tables, layer, moment, changes=changes, sql=sql, values=values)
        return
    order = changes.ordered("cell", "figure", "moment")
    starts = order.starts("cell", "figure")
    running = _running(order.change, starts)
    moments, counts = _packed_columns(order.moment), _packed_columns(running)
    db.executemany(
        insert(tables(layer.count_moments), (*layer.cell, "figure", "moments", "counts")),
        sorted(
            [
                moment,
                *changes.cells[order.cell[a]],
                FIGURES[order.figure[a]],
                moments(a, b),
                counts(a, b),
            ]
            for a, b in _runs(starts, len(running))
        ),
    )
    removed = ("removed",) if layer.moves else ()
    db.executemany(
        insert(
            tables(layer.duration_moments),
            (*layer.cell, "measure", *removed, "moments", "durations"),
        ),
        [
            [moment, *cell, measure, *([left] if layer.moves else []), moments, durations]
            for left in ((False, True) if layer.moves else (False,))
            for cell, measure, moments, durations in _durations_by_moment(
                db, sql, values, left=left
            )
        ],
    )


def _seal_cell_moments(
    db: ProjectionDatabase,
    tables: TableNames,
    layer: Layer,
    moment: datetime,
    *,
    changes: ChangesByMoment,
    sql: ReportSql,
    values: dict[str, object],
) -> None:
    """A row per seal and months (ADR 79, 84, 85): of each cell that changed,
    each change's moment, its figure (its place in `FIGURES`) and the change, and
    per measure the durations that came to count and their moments."""
    order = changes.ordered("cell", "moment", "figure")
    starts = order.starts("cell")
    columns = [
        _packed_columns(order.moment),
        _packed_columns(order.figure),
        _packed_columns(order.change),
    ]
    by_cell = {
        changes.cells[order.cell[a]]: [column(a, b) for column in columns]
        for a, b in _runs(starts, len(order.cell))
    }
    blobs: dict[tuple[str, ...], dict[str, tuple[bytes, bytes]]] = {}
    for cell, measure, moments, durations in _durations_by_moment(db, sql, values, left=False):
        blobs.setdefault(cell, {})[measure] = (moments, durations)
    cells = {
        cell: [
            *by_cell.get(cell, (b"", b"", b"")),
            *(blob for m in MEASURES for blob in blobs.get(cell, {}).get(m, (b"", b""))),
        ]
        for cell in by_cell.keys() | blobs.keys()
    }
    db.executemany(
        insert(tables(layer.cell_moments), (*layer.cell[:-1], "names", *CELL_MOMENTS)),
        [[moment, *row] for row in packed_rows(cells, CELL_MOMENTS)],
    )


@dataclass(frozen=True, slots=True)
class ChangesByMoment:
    """Every change of a count at a moment: per change, its cell (an index into
    `cells`), figure (its place in `FIGURES`), moment (microseconds since the
    epoch) and the change; at most one change per cell, figure and moment, none
    zero."""

    cells: list[tuple[str, ...]]
    cell: npt.NDArray[np.int64]
    figure: npt.NDArray[np.int64]
    moment: npt.NDArray[np.int64]
    change: npt.NDArray[np.int64]

    def ordered(self, *by: str) -> ChangesByMoment:
        """The changes sorted by the columns `by`, the first foremost."""
        order = np.lexsort([getattr(self, name) for name in reversed(by)])
        return ChangesByMoment(
            self.cells,
            self.cell[order],
            self.figure[order],
            self.moment[order],
            self.change[order],
        )

    def starts(self, *by: str) -> npt.NDArray[np.int64]:
        """Where each run of changes equal in the columns `by` starts (sorted by them)."""
        new = np.zeros(len(self.cell), dtype=bool)
        new[:1] = True
        for name in by:
            column = getattr(self, name)
            new[1:] |= column[1:] != column[:-1]
        return np.flatnonzero(new)


def changes_by_moment(
    db: ProjectionDatabase, sql: ReportSql, values: dict[str, object]
) -> ChangesByMoment:
    """The changes `sql`'s statements by moment found (ADR 84), read as columns of
    integers, figures known by their names (`Counts`): no group's dict per row, a
    month's seal reading a row per moment and cell (hundreds of thousands)."""
    width = sql.width
    moment_of = _moment_of(db)
    ids: dict[tuple[object, ...], int] = {}
    found: list[tuple[npt.NDArray[np.int64], ...]] = []
    for counts in Statements(sql, values, width).counts():
        rows = db.fetchall(sql.figures(counts.source, counts.counts, []), values)
        if not rows:
            continue
        matrix = np.array([row[width:] for row in rows], dtype=np.int64)
        cell = np.array(
            [ids.setdefault(tuple(row[1:width]), len(ids)) for row in rows], dtype=np.int64
        )
        moment = np.array([moment_of(row[0]) for row in rows], dtype=np.int64)
        figure = np.array([FIGURE_INDEX[name] for name in counts.names], dtype=np.int64)
        at, column = np.nonzero(matrix)
        found.append((cell[at], figure[column], moment[at], matrix[at, column]))
    columns = [np.concatenate(parts) for parts in zip(*found, strict=True)]
    if not columns:
        columns = [np.zeros(0, dtype=np.int64)] * 4
    cells = [tuple(str(v) for v in key) for key in ids]
    merged = ChangesByMoment(cells, *columns).ordered("cell", "figure", "moment")
    # A breach is counted by two statements (the first of a clock's, and again):
    # one change per cell, figure and moment, their sum; none zero.
    starts = merged.starts("cell", "figure", "moment")
    change = np.add.reduceat(merged.change, starts) if len(starts) else merged.change
    kept = starts[change != 0]
    return ChangesByMoment(
        cells, merged.cell[kept], merged.figure[kept], merged.moment[kept], change[change != 0]
    )


def _runs(starts: npt.NDArray[np.int64], length: int) -> Iterable[tuple[int, int]]:
    """Each run's [start, end) of `length` values, its starts `starts`."""
    return itertools.pairwise([*starts.tolist(), length])


def _running(change: npt.NDArray[np.int64], starts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The running sums of `change` within each run beginning at `starts`."""
    total: npt.NDArray[np.int64] = np.cumsum(change)
    before = np.concatenate(([0], total[starts[1:] - 1])) if len(starts) else total[:0]
    running: npt.NDArray[np.int64] = total - np.repeat(before, np.diff(starts, append=len(change)))
    return running


def _columns(found: Iterable[tuple[int, ...]], width: int) -> npt.NDArray[np.int64]:
    """`found`, tuples of `width` integers, sorted and as `width` columns."""
    return np.array(sorted(found), dtype=np.int64).reshape(-1, width).T


def _moment_of(db: ProjectionDatabase) -> Callable[[Any], int]:
    """A moment as `ReportSql.moment` gives it, in microseconds since the epoch."""
    if db.is_postgres:
        return int
    return lambda text: microseconds_since_epoch(as_moment(str(text)))


def _packed_columns(column: npt.NDArray[np.int64]) -> Callable[[int, int], bytes]:
    """`column` packed at once; a function of its slice [a, b) packed."""
    packed = pack(column)
    return lambda a, b: packed[a * 8 : b * 8]


def _durations_by_moment(
    db: ProjectionDatabase, sql: ReportSql, values: dict[str, object], *, left: bool
) -> Iterable[tuple[tuple[str, ...], str, bytes, bytes]]:
    """Per cell and measure, packed: the moments durations came to count at (with
    `left`, grouped by vehicle: left the group `none` at), in order, and those
    durations (`ReportSql.durations` by moment)."""
    width = sql.width
    for measure, (source, quantile) in MEASURES.items():
        if left and not sql.moves(source):
            continue
        statement = sql.durations(source, quantile, packed=db.is_postgres, left=left)
        if db.is_postgres:
            for row in db.fetchall(statement, values, binary=True):
                yield tuple(str(v) for v in row[: width - 1]), measure, row[-2], row[-1]
            continue
        at = _moment_of(db)
        by_cell: dict[tuple[str, ...], list[tuple[int, int]]] = {}
        for row in db.fetchall(statement, values):
            cell = tuple(str(v) for v in row[1:width])
            by_cell.setdefault(cell, []).append((at(str(row[0])), int(row[width])))
        for cell, found in sorted(by_cell.items()):
            moments, durations = _columns(found, 2)
            yield cell, measure, pack(moments), pack(durations)


def _seal_cells(
    db: ProjectionDatabase,
    tables: TableNames,
    layer: Layer,
    moment: datetime,
    *,
    changes: dict[tuple[str, ...], dict[str, int]],
    found: Iterable[tuple[tuple[str, ...], str, Durations]],
) -> None:
    """A row per seal and months (ADR 85): the cells that changed, their counts'
    vectors and each measure's durations."""
    blobs: dict[tuple[str, ...], dict[str, bytes]] = {}
    for cell, measure, durations in found:
        blobs.setdefault(cell, {})[measure] = pack(durations)
    cells = {}
    for cell in changes.keys() | blobs.keys():
        vector = np.zeros(len(FIGURES), dtype=np.int64)
        for figure, count in changes.get(cell, {}).items():
            vector[FIGURE_INDEX[figure]] = count
        packed = blobs.get(cell, {})
        if vector.any() or packed:
            cells[cell] = [pack(vector), *(packed.get(m, b"") for m in MEASURES)]
    db.executemany(
        insert(tables(layer.cells), (*layer.cell[:-1], "names", *CELL_COLUMNS)),
        [[moment, *row] for row in packed_rows(cells, CELL_COLUMNS)],
    )
