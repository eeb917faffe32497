"""The SQL of the compliance report, built for a grouping and a store.

Every statement reads one service-level table (`cases.reports.service_levels`)
and keeps to what was recorded by the report's moment (`:as_of`): a fulfilment
counts once recorded, a breach while recorded and not yet withdrawn. The
statements are composed (`cases.db.statement`, ADR 40) with named parameters
(`start`, `end`, `as_of`, `sealed`), bound from one mapping.

Percentiles are nearest-rank on both stores: the p-quantile of n values is the
k-th smallest with k = ceil(p * n), an observed value (so exact and identical
everywhere). PostgreSQL computes it with `percentile_disc`, which is that
definition; SQLite, which has no percentile function, with `ROW_NUMBER()` and
integer arithmetic (ceil(n / 2) = (n + 1) / 2, ceil(9n / 10) = (9n + 9) / 10).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from cases.db.statement import COMMA, NOTHING, Identifier, Sql, constant, identifier, sql
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


def column(name: str, alias: str = "t") -> Sql:
    """`alias.name`: a column of the table read."""
    return Sql((identifier(alias, name),))


_COLUMN = {
    Dimension.MONTH: column("month"),
    Dimension.SEVERITY: column("severity"),
    Dimension.CUSTOMER: column("customer_id"),
    Dimension.CATEGORY: column("category"),
}


def period(alias: str = "t") -> Sql:
    """The rows of cases received in the report's period."""
    received = column("received_at", alias)
    return sql("{received} >= {start} AND {received} < {end}", received=received)


_TOUCHED = sql("t.last_recorded_at > {sealed}")


def _escalated_by(alias: str) -> Sql:
    return sql("{escalated} <= {as_of}", escalated=column("escalated_recorded_at", alias))


@dataclass(frozen=True, slots=True)
class Source:
    """One table the report reads, which of its rows exist as of `as_of`,
    whether they note when their case was first escalated, and which rows a fact
    recorded after the seal (`sealed`, ADR 30) touched."""

    table: str
    visible: Sql
    is_escalations: bool = False
    notes_escalation: bool = False
    touched: Sql = _TOUCHED


CASES = Source(
    "service_level_cases", sql("t.received_recorded_at <= {as_of}"), notes_escalation=True
)
UPDATES = Source(
    "service_level_updates",
    sql("(t.nu_fulfilled_recorded_at <= {as_of} OR t.nu_breach_recorded_at <= {as_of})"),
    notes_escalation=True,
)
ESCALATIONS = Source("service_level_escalations", _escalated_by("t"), is_escalations=True)
# A clock's first breach is counted from its outcome columns (`breach_count`);
# this table adds the others: a resolution clock breached again after a reopen.
BREACHES_AGAIN = Source(
    "service_level_breaches",
    sql(
        "NOT t.first_of_clock AND t.recorded_at <= {as_of} "
        "AND (t.withdrawn_recorded_at IS NULL OR t.withdrawn_recorded_at > {as_of})"
    ),
    touched=sql("(t.recorded_at > {sealed} OR t.withdrawn_recorded_at > {sealed})"),
)


def at_seal(condition: Sql) -> Sql:
    """`condition` as of the seal instead of the report's moment."""
    return condition.renamed(as_of="sealed")


def count_of(condition: Sql) -> Sql:
    """How many rows of the group meet `condition`."""
    return sql("SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)", condition=condition)


def fulfilled(prefix: str) -> Sql:
    return sql("{at} <= {as_of}", at=column(f"{prefix}_fulfilled_recorded_at"))


def breached(prefix: str) -> Sql:
    """The clock's first breach is recorded and not (yet) withdrawn."""
    return sql(
        "{at} <= {as_of} AND ({withdrawn} IS NULL OR {withdrawn} > {as_of})",
        at=column(f"{prefix}_breach_recorded_at"),
        withdrawn=column(f"{prefix}_breach_withdrawn_recorded_at"),
    )


def breach_count(prefix: str) -> Sql:
    return count_of(breached(prefix))


def clock_counts(prefix: str) -> list[Sql]:
    """Fulfilled, fulfilled within target, and judged against a target: fulfilled
    with a target, or not fulfilled but breached (and the breach not withdrawn)."""
    done = fulfilled(prefix)
    at = column(f"{prefix}_fulfilled_recorded_at")
    within = column(f"{prefix}_within")
    not_done = sql("({at} IS NULL OR {at} > {as_of})", at=at)
    return [
        count_of(done),
        count_of(sql("{done} AND {within}", done=done, within=within)),
        count_of(
            sql(
                "({done} AND {within} IS NOT NULL) OR ({not_done} AND {breached})",
                done=done,
                within=within,
                not_done=not_done,
                breached=breached(prefix),
            )
        ),
    ]


@dataclass(frozen=True, slots=True)
class Percentile:
    """A duration column whose median and p90 the report gives, and which rows count."""

    column: Sql
    counts: Sql  # condition on `t`

    @classmethod
    def of_clock(cls, prefix: str) -> Percentile:
        return cls(column(f"{prefix}_elapsed_us"), fulfilled(prefix))


# Every duration the report gives a median and p90 of, by name: its table and column.
MEASURES: dict[str, tuple[Source, Percentile]] = {
    "fr": (CASES, Percentile.of_clock("fr")),
    "res": (CASES, Percentile.of_clock("res")),
    "nu": (UPDATES, Percentile.of_clock("nu")),
    "to_escalate": (
        ESCALATIONS,
        Percentile(column("to_escalate_us"), sql("t.to_escalate_us IS NOT NULL")),
    ),
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

    def dimension(self, dimension: Dimension, source: Source) -> Sql:
        if dimension is not Dimension.VEHICLE:
            return _COLUMN[dimension]
        if source.is_escalations:
            return sql("COALESCE(t.vehicle, {indirect})", indirect=constant(INDIRECT_PROVIDER))
        return sql("t.grouped_vehicle")

    def escalated_cases(self) -> Sql:
        """Counts each case once per group: by its first escalation, or by vehicle
        its first escalation through each vehicle."""
        first = "t.vehicle_first" if Dimension.VEHICLE in self.group_by else "t.number = 1"
        return count_of(sql(first))

    def keys(self, source: Source) -> list[Sql]:
        keys = [self.dimension(d, source) for d in self.group_by]
        if self.by_received_month:
            keys.insert(0, self.received_month())
        return keys

    @property
    def width(self) -> int:
        """How many group keys a row of these statements starts with."""
        return len(self.group_by) + self.by_received_month

    def received_month(self) -> Sql:
        """YYYY-MM of `received_at` in UTC (SQLite keeps it as UTC ISO text)."""
        if self.postgres:
            return sql("to_char(t.received_at AT TIME ZONE 'UTC', 'YYYY-MM')")
        return sql("substr(t.received_at, 1, 7)")

    def where(self, source: Source) -> Sql:
        """The rows of the period visible as of `as_of` (touched after the seal)."""
        where = sql("{period} AND {visible}", period=period(), visible=source.visible)
        return (
            sql("{where} AND {touched}", where=where, touched=source.touched)
            if (self.since_seal)
            else where
        )

    def vehicles(self) -> Sql:
        """Each case escalated by `as_of`, once per vehicle it went through."""
        return sql(
            "(SELECT DISTINCT e.case_id, COALESCE(e.vehicle, {indirect}) AS vehicle "
            "FROM {escalations} e WHERE {period} AND {visible})",
            indirect=constant(INDIRECT_PROVIDER),
            escalations=identifier(self.tables(ESCALATIONS.table)),
            period=period("e"),
            visible=_escalated_by("e"),
        )

    def from_clause(self, source: Source) -> Sql:
        """The table; grouped by vehicle, each of its rows with the vehicles its
        case was escalated through by `as_of` (a row per vehicle), or `none`."""
        table = identifier(self.tables(source.table))
        if Dimension.VEHICLE not in self.group_by or source.is_escalations:
            return sql("{table} t", table=table)
        if not source.notes_escalation:
            return sql(
                "(SELECT t.*, COALESCE(ev.vehicle, {none}) AS grouped_vehicle "
                "FROM {table} t LEFT JOIN {vehicles} ev ON ev.case_id = t.case_id) t",
                none=constant(NOT_ESCALATED),
                table=table,
                vehicles=self.vehicles(),
            )
        # Most cases were never escalated: those rows need no join.
        return sql(
            "(SELECT t.*, {none} AS grouped_vehicle FROM {table} t "
            "WHERE {period} AND (t.escalated_recorded_at IS NULL "
            "OR t.escalated_recorded_at > {as_of}) "
            "UNION ALL "
            "SELECT t.*, ev.vehicle FROM {table} t JOIN {vehicles} ev "
            "ON ev.case_id = t.case_id WHERE {period} AND t.escalated_recorded_at <= {as_of}) t",
            none=constant(NOT_ESCALATED),
            table=table,
            period=period(),
            vehicles=self.vehicles(),
        )

    def grouped(self, source: Source, columns: Sequence[Sql]) -> Sql:
        """SELECT the group keys and `columns` from `source`'s visible rows."""
        keys = self.keys(source)
        return sql(
            "SELECT {columns} FROM {source} WHERE {where}{group_by}",
            columns=COMMA.join([*keys, *columns]),
            source=self.from_clause(source),
            where=self.where(source),
            group_by=_group_by(keys),
        )

    # Statements -----------------------------------------------------------------

    def figures(
        self, source: Source, counts: Sequence[Sql], quantiles: Sequence[Percentile]
    ) -> Sql:
        """Group keys, then `counts`, then (PostgreSQL only) for each of
        `quantiles` an array [median, p90]."""
        columns = list(counts)
        if self.postgres and self.with_quantiles:
            columns += [
                sql(
                    "percentile_disc(ARRAY[0.5, 0.9]) WITHIN GROUP "
                    "(ORDER BY {column}) FILTER (WHERE {counts})",
                    column=q.column,
                    counts=q.counts,
                )
                for q in quantiles
            ]
        return self.grouped(source, columns)

    def quantiles(self, source: Source, quantile: Percentile) -> Sql:
        """Group keys, median, p90 of one duration column (for stores without
        `percentile_disc`)."""
        keys = self.keys(source)
        names = [identifier(f"g{i}") for i in range(len(keys))]
        chosen = [
            sql("{key} AS {name}", key=key, name=name)
            for key, name in zip(keys, names, strict=True)
        ]
        partition = sql("PARTITION BY {names} ", names=COMMA.join(names)) if names else NOTHING
        values = sql(
            "SELECT {columns} FROM {source} WHERE {period} AND {visible} AND {counts}",
            columns=COMMA.join([*chosen, sql("{column} AS x", column=quantile.column)]),
            source=self.from_clause(source),
            period=period(),
            visible=source.visible,
            counts=quantile.counts,
        )
        ranked = sql(
            "SELECT {columns}, ROW_NUMBER() OVER ({partition}ORDER BY x) AS rn, "
            "COUNT(*) OVER ({whole}) AS n FROM v",
            columns=COMMA.join([*names, sql("x")]),
            partition=partition,
            whole=sql("PARTITION BY {names}", names=COMMA.join(names)) if names else NOTHING,
        )
        picked = [
            sql("MIN(CASE WHEN rn = (n + 1) / 2 THEN x END)"),
            sql("MIN(CASE WHEN rn = (9 * n + 9) / 10 THEN x END)"),
        ]
        return sql(
            "WITH v AS ({values}), r AS ({ranked}) SELECT {columns} FROM r{group_by}",
            values=values,
            ranked=ranked,
            columns=COMMA.join([*names, *picked]),
            group_by=_group_by(names),
        )

    def durations(self, source: Source, quantile: Percentile, *, packed: bool = False) -> Sql:
        """Group keys and each duration of `quantile` that counts as of `as_of`
        (since the seal: and did not as of `sealed`); `packed` (PostgreSQL), per
        group one bytea of them in order, 8 bytes big-endian each."""
        keys = self.keys(source)
        counted = sql("{visible} AND {counts}", visible=source.visible, counts=quantile.counts)
        where = sql("{where} AND {counts}", where=self.where(source), counts=quantile.counts)
        if self.since_seal:
            where += sql(" AND NOT COALESCE({before}, FALSE)", before=at_seal(counted))
        value = (
            sql(
                "string_agg(int8send({column}), CAST('' AS bytea) ORDER BY {column})",
                column=quantile.column,
            )
            if packed
            else quantile.column
        )
        return sql(
            "SELECT {columns} FROM {source} WHERE {where}{group_by}",
            columns=COMMA.join([*keys, value]),
            source=self.from_clause(source),
            where=where,
            group_by=_group_by(keys) if packed else NOTHING,
        )


def _group_by(keys: Sequence[Sql | Identifier]) -> Sql:
    return sql(" GROUP BY {keys}", keys=COMMA.join(keys)) if keys else NOTHING
