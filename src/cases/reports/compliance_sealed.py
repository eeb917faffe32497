"""A compliance report from the sealed cells (ADR 30, ADR 63), where they serve it.

They serve a report grouped by month, severity, category and vehicle (ADR 72),
or by customer alone or with month (ADR 79), as of a moment at or after the latest
seal or exactly at an earlier one,
whose period holds at least one whole UTC month. For the whole UTC months of the
period, its figures are the cells of every seal up to that seal
(`compliance_seal`), plus, after the latest seal, what the facts recorded since
changed: the touched rows' counts as of the report's moment less their counts as
of the seal, and the durations that count now but did not then (grouped by
vehicle, less those that left the group `none`). The rest of the period, before its
first whole month and after its last, is read from the rows as the unsealed
report reads them. Percentiles are nearest rank over every duration of the
group, selected (not sorted) with numpy: the same exact figures as
`percentile_disc`.
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from cases.db.database import ProjectionDatabase, Row
from cases.db.statement import COMMA, NOTHING, Sql, identifier
from cases.db.statement import sql as compose
from cases.projections.projection import TableNames
from cases.reports.compliance_columns import FigureColumns, Ranks
from cases.reports.compliance_packed import CellGroups, Integers, names_of, spread, unpacked
from cases.reports.compliance_seal import (
    CELL_COLUMNS,
    CELL_MOMENTS,
    FIGURE_INDEX,
    FIGURES,
    LAYERS,
    Layer,
    SealState,
    counted,
    durations_by_key,
    microseconds_since_epoch,
    month_start,
    month_text,
    next_month,
    seal_state,
    since_seal,
    unflattened,
)
from cases.reports.compliance_sql import MEASURES, Dimension, ReportSql
from cases.reports.compliance_statements import Helpers, snapshot

Key = tuple[str, ...]
# The threads a sealed report's work runs on beside its own: each measure's ranks
# (`SealedReport._ranks`), and the changes by moment read beside the cells
# (`SealedReport._cell_moments_beside`).
BESIDE = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="report")
Durations = npt.NDArray[np.int64]
_NONE: Durations = np.empty(0, dtype=np.int64)


def nearest_ranks(
    values: Durations, removed: Durations | None = None
) -> tuple[timedelta | None, timedelta | None]:
    """Median and p90, nearest rank: the k-th smallest with k = ceil(p * n), of
    `values` less the multiset `removed` (each of which is among `values`)."""
    gone = removed if removed is not None else np.empty(0, dtype=np.int64)
    n = len(values) - len(gone)
    if n <= 0:
        return None, None
    median, p90 = (n + 1) // 2 - 1, (9 * n + 9) // 10 - 1
    if not len(gone):  # both ranks in one pass
        chosen = np.partition(values, [median, p90])
        return _us(int(chosen[median])), _us(int(chosen[p90]))
    return _us(kth_without(values, gone, median)), _us(kth_without(values, gone, p90))


def _us(value: int) -> timedelta:
    return timedelta(microseconds=value)


GroupRanks = tuple[timedelta | None, timedelta | None]


def ranks_of_groups(ids: Durations, values: Durations, count: int) -> list[GroupRanks | None]:
    """The median and p90 (nearest rank) of the `values` of each of `count`
    groups (`ids`: each value's group; None for a group without one), from
    `rank_columns`. One group alone: `nearest_ranks`, a selection (ADR 81)."""
    if not len(values):
        return [None] * count
    if count == 1:  # ungrouped: two ranks selected in one pass, no sort (ADR 81)
        return [nearest_ranks(values)]
    ranks = rank_columns(ids, values, count)
    medians, p90s = _timedeltas(ranks.medians), _timedeltas(ranks.p90s)
    return [
        (median, p90) if n else None
        for median, p90, n in zip(medians, p90s, ranks.lengths.tolist(), strict=True)
    ]


# Up to this many groups, each group's ranks are selected after its values are put
# together by a radix sort of the small group ids; above it, the ranks are found
# among a few values per group chosen by a histogram (`bucketed_ranks`, ADR 85).
SELECTED_GROUPS = 1024
# Each value's bucket: its octave and the next `OCTAVE_BITS` bits below its
# leading one (16 buckets an octave, each at most about 6 % wide).
OCTAVE_BITS = 4
# The most (group, bucket) counts one histogram may hold (32 MB); with more groups
# than fit, one sort of every value instead.
HISTOGRAM_CELLS = 1 << 22


def rank_columns(ids: Durations, values: Durations, count: int) -> Ranks:
    """`ranks_of_groups` as columns of microseconds (ADR 81, 2026-12-05); a group
    without a value has a length of 0 (and any median and p90)."""
    lengths = np.bincount(ids, minlength=count)
    if not len(values):
        return Ranks(lengths, lengths, lengths)
    if count <= SELECTED_GROUPS:
        return selected_ranks(ids, values, lengths)
    return bucketed_ranks(ids, values, lengths)


def rank_places(lengths: Durations) -> tuple[Durations, Durations]:
    """Where each group's median and p90 (nearest rank) are among its values in
    order, counted from 0: k = ceil(p * n) - 1 (0 for a group without a value)."""
    some = lengths > 0
    return (
        np.where(some, (lengths + 1) // 2 - 1, 0),
        np.where(some, (9 * lengths + 9) // 10 - 1, 0),
    )


def selected_ranks(ids: Durations, values: Durations, lengths: Durations) -> Ranks:
    """Each group's median and p90, selected (`np.partition`) among its values:
    the values put in their groups' order by a stable radix sort of the group ids
    (16 bits), no sort of the values (ADR 84)."""
    grouped = values[np.argsort(ids.astype(np.int16), kind="stable")]
    medians, p90s = np.zeros_like(lengths), np.zeros_like(lengths)
    start = 0
    for at, n in enumerate(lengths.tolist()):
        if n:
            median, p90 = (n + 1) // 2 - 1, (9 * n + 9) // 10 - 1
            chosen = np.partition(grouped[start : start + n], [median, p90])
            medians[at], p90s[at] = chosen[median], chosen[p90]
        start += n
    return Ranks(lengths, medians, p90s)


def sorted_ranks(ids: Durations, values: Durations, lengths: Durations) -> Ranks:
    """Each group's median and p90 from one sort of every (group, value) (ADR 79)."""
    ordered, starts = grouped_in_order(ids, values, lengths), np.cumsum(lengths) - lengths
    some = lengths > 0
    return Ranks(
        lengths, *(ordered[np.where(some, starts + places, 0)] for places in rank_places(lengths))
    )


def grouped_in_order(ids: Durations, values: Durations, lengths: Durations) -> Durations:
    """`values` sorted by group, then by value: (group, value) packed into an
    int64 and sorted once; where the packed values would not fit, one `lexsort`."""
    low, high = int(values.min()), int(values.max())
    bits = (high - low).bit_length()
    if bits + len(lengths).bit_length() > 62:
        return values[np.lexsort((values, ids))]
    ordered: Durations = (np.sort((ids << bits) | (values - low)) & ((1 << bits) - 1)) + low
    return ordered


def bucketed_ranks(ids: Durations, values: Durations, lengths: Durations) -> Ranks:
    """Each group's median and p90, exact, without sorting every value (ADR 85):
    a histogram of (group, bucket) counts, the buckets in the values' order
    (`buckets`), says in which bucket a group's k-th value lies and how many of its
    values come before that bucket; only the values in that bucket are sorted.
    Where the histogram would not fit in `HISTOGRAM_CELLS`, `sorted_ranks`."""
    count = len(lengths)
    span = int(values.max()) - int(values.min()) + 1
    if count * ((span.bit_length() + 1) << OCTAVE_BITS) > HISTOGRAM_CELLS:
        return sorted_ranks(ids, values, lengths)  # before the buckets: at most so many
    bucket = buckets(values)
    width = int(bucket.max()) + 1
    cell = ids * width + bucket
    below_and_in = np.cumsum(
        np.bincount(cell, minlength=count * width).reshape(count, width), axis=1
    )
    groups = np.arange(count)
    found = []
    for places in rank_places(lengths):
        # the first bucket whose running count passes the place (at most the last)
        at = np.minimum((below_and_in <= places[:, None]).sum(axis=1), width - 1)
        before = np.where(at > 0, below_and_in[groups, np.maximum(at - 1, 0)], 0)
        chosen = cell == (groups * width + at)[ids]
        inside = below_and_in[groups, at] - before
        ordered = grouped_in_order(ids[chosen], values[chosen], inside)
        starts = np.cumsum(inside) - inside
        found.append(ordered[np.minimum(starts + places - before, len(ordered) - 1)])
    return Ranks(lengths, *found)


def buckets(values: Durations) -> Durations:
    """Each value's bucket, numbered from 0, in the values' order (a larger value's
    is no smaller): of the value less the least value plus one, its binary
    exponent and `OCTAVE_BITS` bits below the leading one (the top bits of the
    float64 nearest it; rounding to nearest keeps the order)."""
    low = int(values.min())
    span = int(values.max()) - low + 1
    if span >= 1 << 62:  # would not fit an int64 less its least value
        return np.zeros(len(values), dtype=np.int64)
    top = (values - (low - 1)).astype(np.float64).view(np.int64) >> (52 - OCTAVE_BITS)
    numbered: Durations = top - int(top.min())
    return numbered


def _timedeltas(microseconds: Durations) -> list[timedelta]:
    """Each of `microseconds` as a `timedelta`, made by numpy in one call."""
    found: list[timedelta] = microseconds.astype("timedelta64[us]").tolist()
    return found


def kth_without(values: Durations, removed: Durations, k: int) -> int:
    """The k-th smallest (from 0) of `values` less `removed`. Taking m values out
    moves the k-th up by at most m places: it lies between the k-th and the
    (k + m)-th of `values`, so only the values in that window are sorted."""
    m = len(removed)
    if m == 0:
        return int(np.partition(values, k)[k])
    chosen = np.partition(values, [k, min(k + m, len(values) - 1)])
    low, high = chosen[k], chosen[min(k + m, len(values) - 1)]
    below = int(np.count_nonzero(values < low)) - int(np.count_nonzero(removed < low))
    window = without(
        values[(values >= low) & (values <= high)], removed[(removed >= low) & (removed <= high)]
    )
    return int(window[k - below])


def without(values: Durations, removed: Durations) -> Durations:
    """The multiset `values` less `removed`, sorted: one equal value taken out per
    removed one."""
    ordered, gone = np.sort(values), np.sort(removed)
    # the i-th of a run of equal removed values takes out the i-th equal value
    nth_equal = np.arange(len(gone)) - np.searchsorted(gone, gone, side="left")
    kept = np.ones(len(ordered), dtype=bool)
    kept[np.searchsorted(ordered, gone, side="left") + nth_equal] = False
    return ordered[kept]


@dataclass(eq=False)
class SealedReport:
    """The groups of one report, gathered from cells, touched rows and edges."""

    db: ProjectionDatabase
    tables: TableNames
    group_by: tuple[Dimension, ...]
    as_of: datetime
    counts: dict[Key, Counter[str]] = field(init=False, default_factory=dict)
    durations: dict[Key, dict[str, list[Durations]]] = field(init=False, default_factory=dict)
    removed: dict[Key, dict[str, list[Durations]]] = field(init=False, default_factory=dict)
    # The customer layer's cells (ADR 79): each group's counts, summed, in the
    # order of `FIGURES`.
    summed: npt.NDArray[np.int64] | None = field(init=False, default=None)
    # ... their groups (a row of `summed` each), and each measure's durations:
    # each value's group (in `keyed`), the values.
    keyed: list[Key] = field(init=False, default_factory=list)
    # The groups the packed cells fell in, as met (`keyed`: those counted in).
    cells: CellGroups = field(init=False, default_factory=CellGroups)
    cell_durations: dict[str, tuple[Durations, Durations]] = field(init=False, default_factory=dict)
    layer: Layer | None = field(init=False)
    # Between two seals (ADR 84): the later, whose changes by moment are read up
    # to the report's moment instead of the rows touched after the earlier one.
    moments_of: datetime | None = field(init=False, default=None)
    # On PostgreSQL, another connection and the snapshot of `db`'s transaction: the
    # packed changes by moment are read there while `db` reads the cells (ADR 85).
    helpers: Helpers | None = None
    exported: str = ""

    def __post_init__(self) -> None:
        self.layer = next((layer for layer in LAYERS if layer.serves(self.group_by)), None)

    def seal_serving(self, start: datetime, end: datetime) -> datetime | None:
        """The seal the report of [start, end) can be computed from, if it can."""
        if self.layer is None:
            return None
        first, stop = whole_months(start, end)
        if first >= stop:
            return None
        state = seal_state(self.db, self.tables)
        if state is None:
            return None
        if self.as_of in state.seals:  # the cells are the figures (ADR 63)
            return self.as_of
        if state.seals and state.seals[-1] < self.as_of:
            return state.seals[-1]
        return self._between(state)

    def _between(self, state: SealState) -> datetime | None:
        """Between two seals, the rows touched after the earlier one are every row
        touched since, up to now: no fewer than the rows (ADR 63). The later seal's
        changes by moment serve instead, where its layer keeps them (ADR 84): the
        earlier seal, with `moments_of` the later."""
        around = state.around(self.as_of)
        if around is None or not self._layer.keeps_moments or around[1] not in state.by_moment:
            return None
        self.moments_of = around[1]
        return around[0]

    def figures(
        self, start: datetime, end: datetime, sealed_at: datetime
    ) -> dict[Key, Any] | FigureColumns:
        """Each group's figures: as columns from a layer with `cells`
        (`columns`), otherwise as `groups` gives them."""
        if self._layer.cells:
            return self.columns(start, end, sealed_at)
        return self.groups(start, end, sealed_at)

    def _gather(self, start: datetime, end: datetime, sealed_at: datetime) -> None:
        first, stop = whole_months(start, end)
        moments = self._cell_moments_beside(first, stop)
        self._cells(first, stop, sealed_at)
        if moments is not None:
            self._cell_moments(moments.result())
        elif self.moments_of is None:
            self._touched(first, stop, sealed_at)
        else:
            self._moments(first, stop, self.moments_of)
        for low, high in ((start, first), (stop, end)):
            if low < high:
                self._rows(low, high)
        if not self.group_by:
            self.counts.setdefault((), Counter())

    def columns(self, start: datetime, end: datetime, sealed_at: datetime) -> FigureColumns:
        """Each group's figures as columns (ADR 81, 2026-12-05): the cells'
        summed vectors, plus the counts of the touched rows and the edges by
        name; each measure's ranks of every group at once."""
        self._gather(start, end, sealed_at)
        keys = list(self.keyed)
        index = {key: at for at, key in enumerate(keys)}
        for key in self.counts:
            if index.setdefault(key, len(index)) == len(keys):
                keys.append(key)
        counts = np.zeros((len(keys), len(FIGURES)), dtype=np.int64)
        if self.summed is not None:
            counts[: len(self.summed)] = self.summed
        for key, figures in self.counts.items():
            for figure, count in figures.items():
                counts[index[key], FIGURE_INDEX[figure]] += count
        return FigureColumns(keys, counts, self._ranks(index, keys))

    def _ranks(self, index: dict[Key, int], keys: list[Key]) -> dict[str, Ranks]:
        """Each measure's ranks of every group, the measures on threads of their own:
        numpy sorts and counts without the interpreter's lock (ADR 85)."""
        found = {measure: self._measure_values(measure, index, keys) for measure in MEASURES}
        count = len(keys)
        ranked = BESIDE.map(lambda pair: rank_columns(pair[0], pair[1], count), found.values())
        return dict(zip(found, ranked, strict=True))

    def groups(self, start: datetime, end: datetime, sealed_at: datetime) -> dict[Key, Any]:
        """Each group's figures, as `group_figures` reads them."""
        self._gather(start, end, sealed_at)
        found: dict[Key, Any] = {}
        for key, figures in self.counts.items():
            group = unflattened(dict(figures))
            if self._layer.moves and not group.get("cases"):
                continue  # a group every case left (`none`, ADR 72): no row is in it
            found[key] = group
            if not self._layer.moves:
                continue  # no duration leaves a group: all groups' ranks at once, below
            removed = self.removed.get(key, {})
            for measure, parts in self.durations.get(key, {}).items():
                gone = removed.get(measure)
                group[f"{measure}_quantiles"] = nearest_ranks(
                    parts[0] if len(parts) == 1 else np.concatenate(parts),
                    np.concatenate(gone) if gone else None,
                )
        if not self._layer.moves:
            self._ranks_at_once(found)
        return found

    def _ranks_at_once(self, found: dict[Key, Any]) -> None:
        """Each group's percentiles, every group's of a measure at once: the
        cells' values as they were read (`cell_durations`), then those of the
        touched rows and the edges."""
        keys = list(self.keyed)
        index = {key: at for at, key in enumerate(keys)}
        for measure in MEASURES:
            ids, values = self._measure_values(measure, index, keys, found)
            if not len(values):
                continue
            ranks = ranks_of_groups(ids, values, len(keys))
            name = f"{measure}_quantiles"
            for key, found_ranks in zip(keys, ranks, strict=True):
                if found_ranks is not None:
                    found[key][name] = found_ranks

    def _measure_values(
        self, measure: str, index: dict[Key, int], keys: list[Key], among: Any = None
    ) -> tuple[Durations, Durations]:
        """A measure's durations of every group (`among` them, if given): each
        value's group (in `keys`, which `index` numbers; a group not yet in them
        is added) and the values, the cells' first."""
        ids, values = [], []
        if measure in self.cell_durations:
            cell_ids, cell_values = self.cell_durations[measure]
            ids.append(cell_ids)
            values.append(cell_values)
        for key, by in self.durations.items():
            if measure in by and key in (index if among is None else among):
                at = index.setdefault(key, len(index))
                if at == len(keys):
                    keys.append(key)
                ids += [np.full(len(part), at, dtype=np.int64) for part in by[measure]]
                values += by[measure]
        if not values:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        return np.concatenate(ids), np.concatenate(values)

    # Gathering --------------------------------------------------------------------

    @property
    def _layer(self) -> Layer:
        if self.layer is None:
            raise ValueError(f"no sealed cells serve a report by {self.group_by}")
        return self.layer

    def _add(self, key: Key, figures: dict[str, int]) -> None:
        self.counts.setdefault(key, Counter()).update(figures)

    def _add_durations(
        self, key: Key, measure: str, values: Durations, *, removed: bool = False
    ) -> None:
        into = self.removed if removed else self.durations
        into.setdefault(key, {}).setdefault(measure, []).append(values)

    def _cells(self, first: datetime, stop: datetime, sealed_at: datetime) -> None:
        """The cells of the whole months, from every seal up to `sealed_at`,
        summed (counts) and joined (durations) by the report's groups."""
        layer = self._layer
        params: list[object] = [sealed_at, month_text(first), month_text(stop)]
        where = compose("WHERE sealed_at <= {} AND received_month >= {} AND received_month < {}")
        keys = [identifier(d.value) for d in self.group_by]
        width = len(keys)
        if layer.cells:
            self._vector_cells(layer, where, params)
            return
        for row in self.db.fetchall(
            compose(
                "SELECT {columns}, SUM(count) FROM {counts} {where} GROUP BY {columns}",
                columns=COMMA.join([*keys, identifier("figure")]),
                counts=identifier(self.tables(layer.counts)),
                where=where,
            ),
            params,
        ):
            self._add(tuple(str(v) for v in row[:width]), {str(row[width]): int(row[width + 1])})
        named = [*keys, identifier("measure"), *([identifier("removed")] if layer.moves else [])]
        removed = NOTHING if layer.moves else compose(", FALSE")
        # Each cell's blob as it is, in binary (hex text took most of the time),
        # joined here by group and unpacked at once: PostgreSQL's `string_agg` of
        # them took twice as long as the rows (ADR 85).
        blobs: dict[tuple[Key, str, bool], list[bytes]] = {}
        for row in self.db.fetchall(
            compose(
                "SELECT {columns}{removed}, durations FROM {durations} {where}",
                columns=COMMA.join(named),
                removed=removed,
                durations=identifier(self.tables(layer.durations)),
                where=where,
            ),
            params,
            binary=True,
        ):
            cell = (tuple(str(v) for v in row[:width]), str(row[width]), bool(row[width + 1]))
            blobs.setdefault(cell, []).append(row[width + 2])
        for (key, measure, gone), parts in blobs.items():
            self._add_durations(key, measure, unpacked(b"".join(parts)), removed=gone)

    def _vector_cells(self, layer: Layer, where: Sql, params: list[object]) -> None:
        """The cells of a layer with `cells` (ADR 79), a row per seal and months
        (ADR 85): each column of every row unpacked at once, the counts' vectors
        summed by group, each duration's group its cell's."""
        rows = self._packed(layer.cells, CELL_COLUMNS, where, params)
        if not rows:
            return
        groups = self._cell_groups(rows)
        column = joined_columns(rows, CELL_COLUMNS)
        summed = np.zeros((len(self.cells.keys), len(FIGURES)), dtype=np.int64)
        np.add.at(summed, groups, unpacked(column["counts"]).reshape(-1, len(FIGURES)))
        self.summed, self.keyed = summed, list(self.cells.keys)
        for measure in MEASURES:
            self.cell_durations[measure] = (
                spread(groups, column[f"{measure}_lengths"]),
                unpacked(column[measure]),
            )

    def _packed(
        self,
        table: str,
        columns: tuple[str, ...],
        where: Sql,
        params: list[object],
        db: ProjectionDatabase | None = None,
    ) -> list[Row]:
        """The rows of a layer's packed cells (ADR 85) in `table` that `where`
        selects, read on `db` (else the report's): the report's dimensions but
        the packed one, the cells' names, then `columns`."""
        others = [identifier(d.value) for d in self.group_by if d != self._layer.dimensions[-1]]
        return (db or self.db).fetchall(
            compose(
                "SELECT {columns} FROM {table} {where}",
                columns=COMMA.join([*others, *(identifier(c) for c in ("names", *columns))]),
                table=identifier(self.tables(table)),
                where=where,
            ),
            params,
            binary=True,
        )

    def _cell_groups(self, rows: list[Row]) -> Integers:
        """Each packed cell's group, the rows' cells one after another."""
        packed_at = self.group_by.index(self._layer.dimensions[-1])
        width = len(self.group_by) - 1
        return np.concatenate(
            [
                self.cells.number(
                    tuple(str(v) for v in row[:width]), names_of(bytes(row[width])), packed_at
                )
                for row in rows
            ]
        )

    def _cell_moments_beside(self, first: datetime, stop: datetime) -> Future[list[Row]] | None:
        """Between two seals, a layer's packed changes by moment (ADR 85) read on a
        helper connection sharing `db`'s snapshot, while `db` reads the cells;
        None where they are read after them."""
        if self.moments_of is None or not self._layer.cells or self.helpers is None:
            return None
        helpers, exported = self.helpers, self.exported

        def read() -> list[Row]:
            with helpers() as db, snapshot(db, exported):
                return self._cell_moment_rows(db, first, stop)

        return BESIDE.submit(read)

    def _moments(self, first: datetime, stop: datetime, seal: datetime) -> None:
        """What changed in the whole months from the seal before `seal` up to the
        report's moment, from `seal`'s changes by moment (ADR 84): each figure's
        change up to the last of its moments at or before the report's, and the
        durations that came to count by then (grouped by vehicle, and those that
        left the group `none`)."""
        layer = self._layer
        params: list[object] = [seal, month_text(first), month_text(stop)]
        if layer.cells:
            self._cell_moments(self._cell_moment_rows(self.db, first, stop))
            return
        width = len(self.group_by)
        for row in self._moment_rows(layer.count_moments, ("figure", "moments", "counts"), params):
            n = self._moments_until(row[width + 1])
            if n:
                change = int(unpacked(row[width + 2][8 * (n - 1) : 8 * n])[0])
                self._add(tuple(str(v) for v in row[:width]), {str(row[width]): change})
        named = ("measure", "removed") if layer.moves else ("measure",)
        blobs = (*named, "moments", "durations")
        for row in self._moment_rows(layer.duration_moments, blobs, params):
            n = self._moments_until(row[-2])
            if n:
                key, measure = tuple(str(v) for v in row[:width]), str(row[width])
                removed = layer.moves and bool(row[width + 1])
                self._add_durations(key, measure, unpacked(row[-1][: 8 * n]), removed=removed)

    def _cell_moment_rows(
        self, db: ProjectionDatabase, first: datetime, stop: datetime
    ) -> list[Row]:
        """The packed changes by moment (ADR 85) of the seal `moments_of`, of the
        whole months from `first` to `stop`, read on `db`."""
        return self._packed(
            self._layer.cell_moments,
            CELL_MOMENTS,
            compose("WHERE sealed_at = {} AND received_month >= {} AND received_month < {}"),
            [self.moments_of, month_text(first), month_text(stop)],
            db,
        )

    def _cell_moments(self, rows: list[Row]) -> None:
        """A layer with `cells` (ADR 79, 85): every cell's changes at or before
        the report's moment added to its group's vector and its durations to the
        cells', all at once; a group nothing counted in by then is left out."""
        if not rows:
            return
        known = len(self.keyed)
        groups = self._cell_groups(rows)
        column = joined_columns(rows, CELL_MOMENTS)
        at = microseconds_since_epoch(self.as_of)
        of = spread(groups, column["lengths"])
        kept = unpacked(column["moments"]) <= at
        figures, changes = unpacked(column["figures"])[kept], unpacked(column["changes"])[kept]
        of = of[kept]
        durations = {}
        for measure in MEASURES:
            by = spread(groups, column[f"{measure}_lengths"])
            counted = unpacked(column[f"{measure}_moments"]) <= at
            durations[measure] = (by[counted], unpacked(column[measure])[counted])
        # the groups something counted in: the cells' first, then those new here
        present = np.unique(np.concatenate([of, *(by for by, _ in durations.values())]))
        fresh = present[present >= known]
        place = np.arange(len(self.cells.keys), dtype=np.int64)
        place[fresh] = known + np.arange(len(fresh))
        self.keyed = [*self.keyed, *(self.cells.keys[i] for i in fresh.tolist())]
        summed = np.zeros((len(self.keyed), len(FIGURES)), dtype=np.int64)
        if self.summed is not None:
            summed[: len(self.summed)] = self.summed
        np.add.at(summed, (place[of], figures), changes)
        self.summed = summed
        for measure, (by, values) in durations.items():
            ids, found = self.cell_durations.get(measure, (_NONE, _NONE))
            self.cell_durations[measure] = (
                np.concatenate([ids, place[by]]),
                np.concatenate([found, values]),
            )

    def _moment_rows(self, table: str, names: tuple[str, ...], params: list[object]) -> list[Row]:
        """The report's groups, then the columns `names`, of the rows of `table` (a
        layer's changes by moment) of one seal and its months."""
        keys = [identifier(d.value) for d in self.group_by]
        columns = [*keys, *(identifier(c) for c in names)]
        return self.db.fetchall(
            compose(
                "SELECT {columns} FROM {table} "
                "WHERE sealed_at = {} AND received_month >= {} AND received_month < {}",
                columns=COMMA.join(columns),
                table=identifier(self.tables(table)),
            ),
            params,
            binary=True,
        )

    def _moments_until(self, packed: bytes) -> int:
        """How many of the packed moments are at or before the report's."""
        moments = unpacked(packed)
        return int(np.searchsorted(moments, microseconds_since_epoch(self.as_of), side="right"))

    def _touched(self, first: datetime, stop: datetime, sealed_at: datetime) -> None:
        """What facts recorded after the seal changed in the whole months."""
        if self.as_of == sealed_at:
            return  # nothing: the cells are the figures as of the seal
        sql = self._sql(since_seal=True)
        values: dict[str, object] = {
            "start": first,
            "end": stop,
            "as_of": self.as_of,
            "sealed": sealed_at,
            "until": self.as_of,
        }
        values = since_seal(self.db, sql, values)
        for key, figures in counted(self.db, sql, values).items():
            self._add(key, figures)
        self._rows_durations(sql, values)
        if Dimension.VEHICLE in self.group_by:
            for key, measure, found in durations_by_key(self.db, sql, values, removed=True):
                self._add_durations(key, measure, found, removed=True)

    def _rows(self, start: datetime, end: datetime) -> None:
        """A part of the period outside the whole months, from the rows."""
        sql = self._sql(since_seal=False)
        values: dict[str, object] = {"start": start, "end": end, "as_of": self.as_of}
        for key, figures in counted(self.db, sql, values).items():
            self._add(key, figures)
        self._rows_durations(sql, values)

    def _rows_durations(self, sql: ReportSql, values: dict[str, object]) -> None:
        for key, measure, found in durations_by_key(self.db, sql, values):
            self._add_durations(key, measure, found)

    def _sql(self, *, since_seal: bool) -> ReportSql:
        return ReportSql(
            self.group_by,
            postgres=self.db.is_postgres,
            tables=self.tables,
            quantiles=False,
            since_seal=since_seal,
        )


def joined_columns(rows: list[Row], names: tuple[str, ...]) -> dict[str, bytes]:
    """Each of the last columns of `rows`, named `names`, its blobs joined."""
    first = len(rows[0]) - len(names)
    return {name: b"".join(row[first + i] for row in rows) for i, name in enumerate(names)}


def whole_months(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The first and the end of the whole UTC months in [start, end)."""
    first = start if month_start(start) == start else next_month(start)
    return first, month_start(end)
