"""The SQL of the compliance report, built for a grouping and a store.

Every statement reads one service-level table (`cases.reports.service_levels`)
and keeps to what was recorded by the report's moment (`:as_of`): a fulfilment
counts once recorded, a breach while recorded and not yet withdrawn. Named
parameters (`:start`, `:end`, `:as_of`) become the store's placeholders in order.

Percentiles are nearest-rank on both stores: the p-quantile of n values is the
k-th smallest with k = ceil(p * n), an observed value (so exact and identical
everywhere). PostgreSQL computes it with `percentile_disc`, which is that
definition; SQLite, which has no percentile function, with `ROW_NUMBER()` and
integer arithmetic (ceil(n / 2) = (n + 1) / 2, ceil(9n / 10) = (9n + 9) / 10).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from cases.projections.projection import LIVE, TableNames


class Dimension(StrEnum):
    """What a compliance report can be grouped by."""

    MONTH = "month"  # of receipt, in the service hours' time zone (YYYY-MM)
    SEVERITY = "severity"  # at receipt
    CUSTOMER = "customer"
    CATEGORY = "category"  # of the case
    VEHICLE = "vehicle"  # of an escalation


NOT_ESCALATED = "none"  # the vehicle group of cases not escalated by the report's moment
INDIRECT_PROVIDER = "indirect_provider"  # the vehicle of escalations to the provider

_COLUMN = {
    Dimension.MONTH: "t.month",
    Dimension.SEVERITY: "t.severity",
    Dimension.CUSTOMER: "t.customer_id",
    Dimension.CATEGORY: "t.category",
}
_PERIOD = "t.received_at >= :start AND t.received_at < :end"
_PARAM = re.compile(r":([a-z_]+)\b")


def bind(statement: str, values: Mapping[str, object]) -> tuple[str, list[object]]:
    """`statement` with each `:name` made a `?`, and the values in that order."""
    params: list[object] = []

    def placeholder(match: re.Match[str]) -> str:
        params.append(values[match.group(1)])
        return "?"

    return _PARAM.sub(placeholder, statement), params


_TOUCHED = "t.last_recorded_at > :sealed"


@dataclass(frozen=True, slots=True)
class Source:
    """One table the report reads, which of its rows exist as of `:as_of`,
    whether they note when their case was first escalated, and which rows a fact
    recorded after the seal (`:sealed`, ADR 30) touched."""

    table: str
    visible: str
    is_escalations: bool = False
    notes_escalation: bool = False
    touched: str = _TOUCHED


CASES = Source("service_level_cases", "t.received_recorded_at <= :as_of", notes_escalation=True)
UPDATES = Source(
    "service_level_updates",
    "(t.nu_fulfilled_recorded_at <= :as_of OR t.nu_breach_recorded_at <= :as_of)",
    notes_escalation=True,
)
ESCALATIONS = Source(
    "service_level_escalations", "t.escalated_recorded_at <= :as_of", is_escalations=True
)
# A clock's first breach is counted from its outcome columns (`breach_count`);
# this table adds the others: a resolution clock breached again after a reopen.
BREACHES_AGAIN = Source(
    "service_level_breaches",
    "NOT t.first_of_clock AND t.recorded_at <= :as_of "
    "AND (t.withdrawn_recorded_at IS NULL OR t.withdrawn_recorded_at > :as_of)",
    touched="(t.recorded_at > :sealed OR t.withdrawn_recorded_at > :sealed)",
)


def at_seal(condition: str) -> str:
    """`condition` as of the seal instead of the report's moment."""
    return condition.replace(":as_of", ":sealed")


def fulfilled(prefix: str) -> str:
    return f"t.{prefix}_fulfilled_recorded_at <= :as_of"


def breached(prefix: str) -> str:
    """The clock's first breach is recorded and not (yet) withdrawn."""
    return (
        f"t.{prefix}_breach_recorded_at <= :as_of AND (t.{prefix}_breach_withdrawn_recorded_at "
        f"IS NULL OR t.{prefix}_breach_withdrawn_recorded_at > :as_of)"
    )


def breach_count(prefix: str) -> str:
    return f"SUM(CASE WHEN {breached(prefix)} THEN 1 ELSE 0 END)"


def clock_counts(prefix: str) -> list[str]:
    """Fulfilled, fulfilled within target, and judged against a target: fulfilled
    with a target, or not fulfilled but breached (and the breach not withdrawn)."""
    done = fulfilled(prefix)
    not_done = (
        f"(t.{prefix}_fulfilled_recorded_at IS NULL OR t.{prefix}_fulfilled_recorded_at > :as_of)"
    )
    return [
        f"SUM(CASE WHEN {done} THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN {done} AND t.{prefix}_within THEN 1 ELSE 0 END)",
        (
            f"SUM(CASE WHEN ({done} AND t.{prefix}_within IS NOT NULL) "
            f"OR ({not_done} AND {breached(prefix)}) THEN 1 ELSE 0 END)"
        ),
    ]


@dataclass(frozen=True, slots=True)
class Percentile:
    """A duration column whose median and p90 the report gives, and which rows count."""

    column: str
    counts: str  # condition on `t`

    @classmethod
    def of_clock(cls, prefix: str) -> Percentile:
        return cls(f"t.{prefix}_elapsed_us", fulfilled(prefix))


# Every duration the report gives a median and p90 of, by name: its table and column.
MEASURES: dict[str, tuple[Source, Percentile]] = {
    "fr": (CASES, Percentile.of_clock("fr")),
    "res": (CASES, Percentile.of_clock("res")),
    "nu": (UPDATES, Percentile.of_clock("nu")),
    "to_escalate": (ESCALATIONS, Percentile("t.to_escalate_us", "t.to_escalate_us IS NOT NULL")),
    "vendor": (ESCALATIONS, Percentile.of_clock("vendor")),
}


class ReportSql:
    """The statements for one grouping, on one store.

    For the sealed figures (ADR 30): with `by_received_month` the UTC month of
    receipt is the first group key; without `quantiles` the figures carry no
    percentiles (the durations are read with `durations`); with `since_seal` only
    the rows touched after the seal are read."""

    def __init__(
        self,
        group_by: Sequence[Dimension],
        *,
        postgres: bool,
        tables: TableNames = LIVE,
        by_received_month: bool = False,
        quantiles: bool = True,
        since_seal: bool = False,
    ) -> None:
        self.group_by = tuple(group_by)
        self.postgres = postgres
        self.tables = tables
        self.by_received_month = by_received_month
        self.with_quantiles = quantiles
        self.since_seal = since_seal

    # Grouping -----------------------------------------------------------------

    def dimension(self, dimension: Dimension, source: Source) -> str:
        if dimension is not Dimension.VEHICLE:
            return _COLUMN[dimension]
        if source.is_escalations:
            return f"COALESCE(t.vehicle, '{INDIRECT_PROVIDER}')"
        return "t.grouped_vehicle"

    def escalated_cases(self) -> str:
        """Counts each case once per group: by its first escalation, or by vehicle
        its first escalation through each vehicle."""
        first = "t.vehicle_first" if Dimension.VEHICLE in self.group_by else "t.number = 1"
        return f"SUM(CASE WHEN {first} THEN 1 ELSE 0 END)"

    def keys(self, source: Source) -> list[str]:
        keys = [self.dimension(d, source) for d in self.group_by]
        if self.by_received_month:
            keys.insert(0, self.received_month())
        return keys

    @property
    def width(self) -> int:
        """How many group keys a row of these statements starts with."""
        return len(self.group_by) + self.by_received_month

    def received_month(self) -> str:
        """YYYY-MM of `received_at` in UTC (SQLite keeps it as UTC ISO text)."""
        if self.postgres:
            return "to_char(t.received_at AT TIME ZONE 'UTC', 'YYYY-MM')"
        return "substr(t.received_at, 1, 7)"

    def where(self, source: Source) -> str:
        """The rows of the period visible as of `:as_of` (touched after the seal)."""
        where = f"{_PERIOD} AND {source.visible}"
        return f"{where} AND {source.touched}" if self.since_seal else where

    def vehicles(self) -> str:
        """Each case escalated by `:as_of`, once per vehicle it went through."""
        escalations = self.tables(ESCALATIONS.table)
        return (
            "(SELECT DISTINCT e.case_id, "  # noqa: S608 - our own names
            f"COALESCE(e.vehicle, '{INDIRECT_PROVIDER}') AS vehicle FROM {escalations} e "
            f"WHERE {_PERIOD.replace('t.', 'e.')} "
            f"AND {ESCALATIONS.visible.replace('t.', 'e.')})"
        )

    def from_clause(self, source: Source) -> str:
        """The table; grouped by vehicle, each of its rows with the vehicles its
        case was escalated through by `:as_of` (a row per vehicle), or `none`."""
        table = self.tables(source.table)
        if Dimension.VEHICLE not in self.group_by or source.is_escalations:
            return f"{table} t"
        if not source.notes_escalation:
            return (
                f"(SELECT t.*, COALESCE(ev.vehicle, '{NOT_ESCALATED}') AS grouped_vehicle "  # noqa: S608
                f"FROM {table} t LEFT JOIN {self.vehicles()} ev ON ev.case_id = t.case_id) t"
            )
        # Most cases were never escalated: those rows need no join.
        return (
            f"(SELECT t.*, '{NOT_ESCALATED}' AS grouped_vehicle FROM {table} t "  # noqa: S608
            f"WHERE {_PERIOD} AND (t.escalated_recorded_at IS NULL "
            "OR t.escalated_recorded_at > :as_of) "
            "UNION ALL "
            f"SELECT t.*, ev.vehicle FROM {table} t JOIN {self.vehicles()} ev "
            f"ON ev.case_id = t.case_id WHERE {_PERIOD} AND t.escalated_recorded_at <= :as_of) t"
        )

    def grouped(self, source: Source, columns: Sequence[str]) -> str:
        """SELECT the group keys and `columns` from `source`'s visible rows."""
        keys = self.keys(source)
        statement = (
            f"SELECT {', '.join([*keys, *columns])} FROM {self.from_clause(source)} "  # noqa: S608
            f"WHERE {self.where(source)}"
        )
        if keys:
            statement += f" GROUP BY {', '.join(keys)}"
        return statement

    # Statements -----------------------------------------------------------------

    def figures(
        self, source: Source, counts: Sequence[str], quantiles: Sequence[Percentile]
    ) -> str:
        """Group keys, then `counts`, then (PostgreSQL only) for each of
        `quantiles` an array [median, p90]."""
        columns = list(counts)
        if self.postgres and self.with_quantiles:
            columns += [
                "percentile_disc(ARRAY[0.5, 0.9]) WITHIN GROUP "
                f"(ORDER BY {q.column}) FILTER (WHERE {q.counts})"
                for q in quantiles
            ]
        return self.grouped(source, columns)

    def quantiles(self, source: Source, quantile: Percentile) -> str:
        """Group keys, median, p90 of one duration column (for stores without
        `percentile_disc`)."""
        keys = self.keys(source)
        names = [f"g{i}" for i in range(len(keys))]
        chosen = [f"{key} AS {name}" for key, name in zip(keys, names, strict=True)]
        partition = f"PARTITION BY {', '.join(names)} " if names else ""
        values = (
            f"SELECT {', '.join([*chosen, f'{quantile.column} AS x'])} "  # noqa: S608
            f"FROM {self.from_clause(source)} "
            f"WHERE {_PERIOD} AND {source.visible} AND {quantile.counts}"
        )
        ranked = (
            f"SELECT {', '.join([*names, 'x'])}, "  # noqa: S608
            f"ROW_NUMBER() OVER ({partition}ORDER BY x) AS rn, "
            f"COUNT(*) OVER ({partition.strip()}) AS n FROM v"
        )
        picked = [
            "MIN(CASE WHEN rn = (n + 1) / 2 THEN x END)",
            "MIN(CASE WHEN rn = (9 * n + 9) / 10 THEN x END)",
        ]
        statement = (
            f"WITH v AS ({values}), r AS ({ranked}) "  # noqa: S608
            f"SELECT {', '.join([*names, *picked])} FROM r"
        )
        if names:
            statement += f" GROUP BY {', '.join(names)}"
        return statement

    def durations(self, source: Source, quantile: Percentile, *, packed: bool = False) -> str:
        """Group keys and each duration of `quantile` that counts as of `:as_of`
        (since the seal: and did not as of `:sealed`); `packed` (PostgreSQL), per
        group one bytea of them in order, 8 bytes big-endian each."""
        keys = self.keys(source)
        counted = f"{source.visible} AND {quantile.counts}"
        where = f"{self.where(source)} AND {quantile.counts}"
        if self.since_seal:
            where += f" AND NOT COALESCE({at_seal(counted)}, FALSE)"
        value = (
            f"string_agg(int8send({quantile.column}), CAST('' AS bytea) ORDER BY {quantile.column})"
            if packed
            else quantile.column
        )
        statement = (
            f"SELECT {', '.join([*keys, value])} FROM {self.from_clause(source)} "  # noqa: S608
            f"WHERE {where}"
        )
        if packed and keys:
            statement += f" GROUP BY {', '.join(keys)}"
        return statement
