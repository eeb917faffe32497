"""A compliance report from the sealed cells (ADR 30, ADR 63), where they serve it.

They serve a report grouped by month, severity and category only, as of a
moment at or after the latest seal or exactly at an earlier one, whose period
holds at least one whole UTC month. For the whole UTC months of the period, its
figures are the cells of every seal up to that seal (`compliance_seal`), plus,
after the latest seal, what the facts recorded since changed: the touched rows'
counts as of the report's moment less their counts as of the seal, and the
durations that count now but did not then. The rest of the period, before its
first whole month and after its last, is read from the rows as the unsealed
report reads them. Percentiles are nearest rank over every duration of the
group, selected (not sorted) with numpy: the same exact figures as
`percentile_disc`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from cases.db.database import ProjectionDatabase
from cases.db.statement import identifier
from cases.db.statement import sql as compose
from cases.projections.projection import TableNames
from cases.reports.compliance_seal import (
    DURATION,
    SEALED_DIMENSIONS,
    changed,
    counted,
    durations_by_key,
    month_start,
    month_text,
    next_month,
    seal_state,
    unflattened,
)
from cases.reports.compliance_sql import Dimension, ReportSql

Key = tuple[str, ...]
Durations = npt.NDArray[np.int64]
_CELL_DIMENSIONS = {d: i for i, d in enumerate(SEALED_DIMENSIONS)}


def nearest_ranks(values: Durations) -> tuple[timedelta | None, timedelta | None]:
    """Median and p90, nearest rank: the k-th smallest with k = ceil(p * n)."""
    n = len(values)
    if n == 0:
        return None, None
    median, p90 = (n + 1) // 2 - 1, (9 * n + 9) // 10 - 1
    chosen = np.partition(values, [median, p90])
    return timedelta(microseconds=int(chosen[median])), timedelta(microseconds=int(chosen[p90]))


class SealedReport:
    """The groups of one report, gathered from cells, touched rows and edges."""

    def __init__(
        self,
        db: ProjectionDatabase,
        tables: TableNames,
        group_by: tuple[Dimension, ...],
        as_of: datetime,
    ) -> None:
        self.db = db
        self.tables = tables
        self.group_by = group_by
        self.as_of = as_of
        self.counts: dict[Key, Counter[str]] = {}
        self.durations: dict[Key, dict[str, list[Durations]]] = {}

    def seal_serving(self, start: datetime, end: datetime) -> datetime | None:
        """The seal the report of [start, end) can be computed from, if it can."""
        if not set(self.group_by) <= set(SEALED_DIMENSIONS):
            return None
        first, stop = whole_months(start, end)
        if first >= stop:
            return None
        state = seal_state(self.db, self.tables)
        if state is None:
            return None
        if self.as_of in state.seals:  # the cells are the figures (ADR 63)
            return self.as_of
        if not state.seals or state.seals[-1] > self.as_of:
            # Between two seals, the rows touched after the earlier one are every
            # row touched since, up to now: no fewer than the rows (ADR 63).
            return None
        return state.seals[-1]

    def groups(self, start: datetime, end: datetime, sealed_at: datetime) -> dict[Key, Any]:
        """Each group's figures, as `group_figures` reads them."""
        first, stop = whole_months(start, end)
        self._cells(first, stop, sealed_at)
        self._touched(first, stop, sealed_at)
        for low, high in ((start, first), (stop, end)):
            if low < high:
                self._rows(low, high)
        if not self.group_by:
            self.counts.setdefault((), Counter())
        found: dict[Key, Any] = {}
        for key, figures in self.counts.items():
            group = unflattened(dict(figures))
            for measure, parts in self.durations.get(key, {}).items():
                group[f"{measure}_quantiles"] = nearest_ranks(np.concatenate(parts))
            found[key] = group
        return found

    # Gathering --------------------------------------------------------------------

    def _key(self, cell: Iterable[object]) -> Key:
        values = [str(v) for v in cell]
        return tuple(values[_CELL_DIMENSIONS[d]] for d in self.group_by)

    def _add(self, key: Key, figures: dict[str, int]) -> None:
        self.counts.setdefault(key, Counter()).update(figures)

    def _add_durations(self, key: Key, measure: str, values: Durations) -> None:
        self.durations.setdefault(key, {}).setdefault(measure, []).append(values)

    def _cells(self, first: datetime, stop: datetime, sealed_at: datetime) -> None:
        """The cells of the whole months, from every seal up to `sealed_at`."""
        params: list[object] = [sealed_at, month_text(first), month_text(stop)]
        where = compose("WHERE sealed_at <= {} AND received_month >= {} AND received_month < {}")
        for row in self.db.fetchall(
            compose(
                "SELECT month, severity, category, figure, SUM(count) FROM {counts} {where} "
                "GROUP BY month, severity, category, figure",
                counts=identifier(self.tables("compliance_sealed_counts")),
                where=where,
            ),
            params,
        ):
            self._add(self._key(row[:3]), {str(row[3]): int(row[4])})
        for row in self.db.fetchall(
            compose(
                "SELECT month, severity, category, measure, durations FROM {durations} {where}",
                durations=identifier(self.tables("compliance_sealed_durations")),
                where=where,
            ),
            params,
        ):
            self._add_durations(
                self._key(row[:3]), str(row[3]), np.frombuffer(bytes(row[4]), dtype=DURATION)
            )

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
        }
        for key, figures in changed(self.db, sql, values).items():
            self._add(key, figures)
        self._rows_durations(sql, values)

    def _rows(self, start: datetime, end: datetime) -> None:
        """A part of the period outside the whole months, from the rows."""
        sql = self._sql(since_seal=False)
        values: dict[str, object] = {"start": start, "end": end, "as_of": self.as_of}
        for key, figures in counted(self.db, sql, values).items():
            self._add(key, figures)
        self._rows_durations(sql, values)

    def _rows_durations(self, sql: ReportSql, values: dict[str, object]) -> None:
        for key, measure, found in durations_by_key(self.db, sql, values):
            self._add_durations(key, measure, np.array(found, dtype=np.int64))

    def _sql(self, *, since_seal: bool) -> ReportSql:
        return ReportSql(
            self.group_by,
            postgres=self.db.is_postgres,
            tables=self.tables,
            quantiles=False,
            since_seal=since_seal,
        )


def whole_months(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The first and the end of the whole UTC months in [start, end)."""
    first = start if month_start(start) == start else next_month(start)
    return first, month_start(end)
