"""The SQL of the compliance report, built for a grouping and a store.

Every statement reads one service-level table (`cases.reports.service_levels`)
and keeps to what was recorded by the report's moment (`:as_of`): a fulfilment
counts once recorded, a breach while recorded and not yet withdrawn. The
statements are composed (`cases.db.statement`, ADR 40) with named parameters
(`start`, `end`, `as_of`, `sealed`, `until`), bound from one mapping.

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


# Since a seal, grouped by vehicle, a row of `from_clause` is in its group from
# `grouped_from` (a vehicle's: when its case first went through it) until
# `grouped_until` (`none`'s: the case's first escalation); NULL is no bound.
_IN_GROUP = sql(
    "(t.grouped_from IS NULL OR t.grouped_from <= {as_of}) "
    "AND (t.grouped_until IS NULL OR t.grouped_until > {as_of})"
)


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
    # The columns a row's figures change at (ADR 84): every moment recorded in it.
    moments: tuple[str, ...] = ()
    key: tuple[str, ...] = ("case_id",)  # what tells its rows apart


def _clock_moments(prefix: str) -> tuple[str, ...]:
    return tuple(
        f"{prefix}_{moment}_recorded_at" for moment in ("fulfilled", "breach", "breach_withdrawn")
    )


CASES = Source(
    "service_level_cases",
    sql("t.received_recorded_at <= {as_of}"),
    notes_escalation=True,
    moments=(
        "received_recorded_at",
        *_clock_moments("fr"),
        *_clock_moments("res"),
        "reopened_recorded_at",
        "escalated_recorded_at",
    ),
)
UPDATES = Source(
    "service_level_updates",
    sql("(t.nu_fulfilled_recorded_at <= {as_of} OR t.nu_breach_recorded_at <= {as_of})"),
    notes_escalation=True,
    moments=("escalated_recorded_at", *_clock_moments("nu")),
    key=("case_id", "number"),
)
ESCALATIONS = Source(
    "service_level_escalations",
    _escalated_by("t"),
    is_escalations=True,
    moments=("escalated_recorded_at", *_clock_moments("vendor")),
    key=("case_id", "number"),
)
# A clock's first breach is counted from its outcome columns (`breach_count`);
# this table adds the others: a resolution clock breached again after a reopen.
BREACHES_AGAIN = Source(
    "service_level_breaches",
    sql(
        "NOT t.first_of_clock AND t.recorded_at <= {as_of} "
        "AND (t.withdrawn_recorded_at IS NULL OR t.withdrawn_recorded_at > {as_of})"
    ),
    touched=sql("(t.recorded_at > {sealed} OR t.withdrawn_recorded_at > {sealed})"),
    moments=("recorded_at", "withdrawn_recorded_at"),
    key=("case_id", "clock", "number", "breached_at"),
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
    the rows touched after the seal are read, and each count is its change from
    `sealed` to `as_of`, both moments read in one pass over the touched rows
    (ADR 80's amendments): grouped by vehicle, each row with its group's span
    (`_IN_GROUP`). With `by_moment` (ADR 84; since a seal), each
    row once per moment recorded in it in (`sealed`, `until`], and each count is
    its change at that moment: the moment is the first group key (on
    PostgreSQL in microseconds since the epoch, on SQLite its stored text)."""

    def __init__(
        self,
        group_by: Sequence[Dimension],
        *,
        postgres: bool,
        tables: TableNames = LIVE,
        by_received_month: bool = False,
        quantiles: bool = True,
        since_seal: bool = False,
        by_moment: bool = False,
    ) -> None:
        if by_moment and not since_seal:
            raise ValueError("changes by moment are read since a seal")
        self.group_by = tuple(group_by)
        self.postgres = postgres
        self.tables = tables
        self.by_received_month = by_received_month
        self.with_quantiles = quantiles
        self.since_seal = since_seal
        self.by_moment = by_moment

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
        if self.by_moment:
            keys.insert(0, self.moment())
        return keys

    @property
    def width(self) -> int:
        """How many group keys a row of these statements starts with."""
        return len(self.group_by) + self.by_received_month + self.by_moment

    def moment(self) -> Sql:
        """The moment a row's figures changed at (`by_moment`), as a group key."""
        if self.postgres:
            return sql("CAST(EXTRACT(EPOCH FROM t.moment) * 1000000 AS BIGINT)")
        return sql("t.moment")

    def at_moments(self, source: Source) -> Sql:
        """`source`'s rows touched after the seal (grouped by vehicle: each in
        each group it was in by `until`, with its span, ADR 72), each once per
        moment recorded in it in (`sealed`, `until`] (`moment`, its group's span's
        ends too), with a moment before it after every earlier one
        (`moment_before`: on PostgreSQL a microsecond before, moments being whole
        microseconds; on SQLite the moment before it, the seal for the first): its
        figures as of the one less as of the other are what changed at the moment
        (ADR 84)."""
        names, key = source.moments, source.key
        if self.moves(source):
            rows = self._spans(source).renamed(as_of="until")
            names, key = (*names, "grouped_from", "grouped_until"), (*key, "grouped_vehicle")
        else:
            rows = sql("{table} t", table=identifier(self.tables(source.table)))
        if self.postgres:
            # Each moment once (a column equal to an earlier one left out), and the
            # moment before it a microsecond earlier: no per-row sort or window.
            distinct = [
                sql(
                    "CASE WHEN {moment} IN ({earlier}) THEN NULL ELSE {moment} END",
                    moment=column(name),
                    earlier=COMMA.join([column(e) for e in names[:at]]),
                )
                if at
                else column(name)
                for at, name in enumerate(names)
            ]
            return sql(
                "(SELECT t.*, u.moment, u.moment - interval '1 microsecond' AS moment_before "
                "FROM {rows} CROSS JOIN LATERAL unnest(ARRAY[{moments}]) AS u(moment) "
                "WHERE u.moment > {sealed} AND u.moment <= {until} AND {touched}) t",
                rows=rows,
                moments=COMMA.join(distinct),
                touched=self.touched(source),
            )
        moments = COMMA.join([column(name) for name in names])
        return sql(
            "(SELECT t.*, j.value AS moment, lag(j.value, 1, {sealed}) OVER "
            "(PARTITION BY {key} ORDER BY j.value) AS moment_before "
            "FROM {rows}, json_each(json_array({moments})) j "
            "WHERE j.value > {sealed} AND j.value <= {until} AND {touched}) t",
            key=COMMA.join([column(name) for name in key]),
            rows=rows,
            moments=moments,
            touched=self.touched(source),
        )

    def received_month(self) -> Sql:
        """YYYY-MM of `received_at` in UTC (SQLite keeps it as UTC ISO text)."""
        if self.postgres:
            return sql("to_char(t.received_at AT TIME ZONE 'UTC', 'YYYY-MM')")
        return sql("substr(t.received_at, 1, 7)")

    def visible(self, source: Source) -> Sql:
        """Which rows of `from_clause` count as of `as_of`: `source`'s visible rows
        (since a seal, grouped by vehicle, in their group as of `as_of`)."""
        if not (self.since_seal and self.moves(source)):
            return source.visible
        return sql("({visible} AND {grouped})", visible=source.visible, grouped=_IN_GROUP)

    def where(self, source: Source) -> Sql:
        """The rows of the period visible as of `as_of` (since a seal: touched
        after it, and visible as of either moment)."""
        visible = self.visible(source)
        if self.since_seal:
            visible = sql("({visible} OR {before})", visible=visible, before=at_seal(visible))
        where = sql("{period} AND {visible}", period=period(), visible=visible)
        return (
            sql("{where} AND {touched}", where=where, touched=self.touched(source))
            if self.since_seal and not self.by_moment  # (by moment: touched, `at_moments`)
            else where
        )

    def touched(self, source: Source) -> Sql:
        """Rows a fact recorded after the seal may have touched (a superset keeps
        the figures exact: an untouched row's figures as of the seal and as of
        the report's moment are the same)."""
        if not self.moves(source):
            return source.touched
        if not source.notes_escalation:  # its rows (few) note no escalation: any moved
            return sql(
                "({touched} OR t.grouped_from > {sealed} OR t.grouped_until > {sealed})",
                touched=source.touched,
            )
        # A later escalation through another vehicle adds the case's rows to that
        # vehicle's group without touching them. On PostgreSQL their ids are bound
        # (`moved`, from `moved_cases`): an index can find them, not a subquery.
        if self.postgres:
            return sql("({touched} OR t.case_id = ANY({moved}))", touched=source.touched)
        return sql(
            "({touched} OR t.case_id IN ({moved}))",
            touched=source.touched,
            moved=self.moved_cases(),
        )

    def moved_cases(self) -> Sql:
        """The cases escalated in (`sealed`, `until`] through a vehicle other than
        their first escalation's and not used before (few)."""
        return sql(
            "SELECT DISTINCT e.case_id FROM {escalations} e "
            "WHERE e.escalated_recorded_at > {sealed} AND e.escalated_recorded_at <= {until} "
            "AND e.number > 1 AND e.vehicle_first",
            escalations=identifier(self.tables(ESCALATIONS.table)),
        )

    def vehicles(self) -> Sql:
        """Each case escalated by `as_of`, once per vehicle it went through (since
        the seal: with the moment it first went through it, `grouped_from`)."""
        vehicle = sql("COALESCE(e.vehicle, {indirect})", indirect=constant(INDIRECT_PROVIDER))
        chosen = (
            sql(
                "e.case_id, {vehicle} AS vehicle, MIN(e.escalated_recorded_at) AS grouped_from",
                vehicle=vehicle,
            )
            if self.since_seal
            else sql("DISTINCT e.case_id, {vehicle} AS vehicle", vehicle=vehicle)
        )
        return sql(
            "(SELECT {chosen} FROM {escalations} e WHERE {period} AND {visible}{group_by})",
            chosen=chosen,
            escalations=identifier(self.tables(ESCALATIONS.table)),
            period=period("e"),
            visible=_escalated_by("e"),
            group_by=sql(" GROUP BY e.case_id, {vehicle}", vehicle=vehicle)
            if self.since_seal
            else NOTHING,
        )

    def from_clause(self, source: Source) -> Sql:
        """The table; grouped by vehicle, each of its rows with the vehicles its
        case was escalated through by `as_of` (a row per vehicle), or `none`
        (since a seal: each with its group's span, `_IN_GROUP`)."""
        if self.by_moment:
            return self.at_moments(source)
        table = identifier(self.tables(source.table))
        if Dimension.VEHICLE not in self.group_by or source.is_escalations:
            return sql("{table} t", table=table)
        if self.since_seal:
            return self._spans(source)
        if not source.notes_escalation:
            return sql(
                "(SELECT t.*, COALESCE(ev.vehicle, {none}) AS grouped_vehicle "
                "FROM {table} t LEFT {vehicles}) t",
                none=constant(NOT_ESCALATED),
                table=table,
                vehicles=self._join_vehicles(),
            )
        # Most cases were never escalated: those rows need no join.
        return sql(
            "(SELECT t.*, {none} AS grouped_vehicle FROM {table} t "
            "WHERE {period} AND (t.escalated_recorded_at IS NULL "
            "OR t.escalated_recorded_at > {as_of}) "
            "UNION ALL "
            "SELECT t.*, ev.vehicle FROM {table} t {vehicles} "
            "WHERE {period} AND t.escalated_recorded_at <= {as_of}) t",
            none=constant(NOT_ESCALATED),
            table=table,
            period=period(),
            vehicles=self._join_vehicles(),
        )

    def _spans(self, source: Source) -> Sql:
        """Since a seal, grouped by vehicle: each row in the group `none` until its
        case's first escalation (if it was not escalated by `sealed`), and in
        each vehicle's its case went through by `as_of` from the first time it did."""
        table = identifier(self.tables(source.table))
        if source.notes_escalation:
            until = sql("t.escalated_recorded_at")
            unescalated = sql(
                " WHERE {period} AND (t.escalated_recorded_at IS NULL "
                "OR t.escalated_recorded_at > {sealed})",
                period=period(),
            )
            escalated = sql(
                " WHERE {period} AND t.escalated_recorded_at <= {as_of}", period=period()
            )
        else:
            until = sql(
                "(SELECT MIN(e.escalated_recorded_at) FROM {escalations} e "
                "WHERE e.case_id = t.case_id)",
                escalations=identifier(self.tables(ESCALATIONS.table)),
            )
            unescalated = escalated = NOTHING
        moment = sql("CAST(NULL AS TIMESTAMPTZ)" if self.postgres else "NULL")
        return sql(
            "(SELECT t.*, {none} AS grouped_vehicle, {moment} AS grouped_from, "
            "{until} AS grouped_until FROM {table} t{unescalated} "
            "UNION ALL "
            "SELECT t.*, ev.vehicle, ev.grouped_from, {moment} FROM {table} t "
            "{vehicles}{escalated}) t",
            none=constant(NOT_ESCALATED),
            moment=moment,
            until=until,
            table=table,
            unescalated=unescalated,
            vehicles=self._join_vehicles(),
            escalated=escalated,
        )

    def _join_vehicles(self) -> Sql:
        """JOIN each row of `t` to its case's vehicles (`ev`). Since a seal on
        PostgreSQL, few rows are read: each looks up its own case's escalations
        (LATERAL, through the key) instead of every escalation being grouped."""
        if not (self.since_seal and self.postgres):
            return sql("JOIN {vehicles} ev ON ev.case_id = t.case_id", vehicles=self.vehicles())
        vehicle = sql("COALESCE(e.vehicle, {indirect})", indirect=constant(INDIRECT_PROVIDER))
        return sql(
            "JOIN LATERAL (SELECT {vehicle} AS vehicle, "
            "MIN(e.escalated_recorded_at) AS grouped_from FROM {escalations} e "
            "WHERE e.case_id = t.case_id AND {visible} GROUP BY {vehicle}) ev ON TRUE",
            vehicle=vehicle,
            escalations=identifier(self.tables(ESCALATIONS.table)),
            visible=_escalated_by("e"),
        )

    def grouped(self, source: Source, columns: Sequence[Sql]) -> Sql:
        """SELECT the group keys and `columns` from `source`'s visible rows."""
        keys = self.keys(source)
        return sql(
            "SELECT {columns} FROM {source} WHERE {where}{group_by}",
            columns=_at_moment(COMMA.join([*keys, *columns]), self.by_moment),
            source=self.from_clause(source),
            where=_at_moment(self.where(source), self.by_moment),
            group_by=_group_by(keys),
        )

    # Statements -----------------------------------------------------------------

    def figures(
        self, source: Source, counts: Sequence[Sql], quantiles: Sequence[Percentile]
    ) -> Sql:
        """Group keys, then `counts` (each one aggregate call; since a seal, its
        change since then), then (PostgreSQL only) for each of `quantiles`
        an array [median, p90]."""
        visible = self.visible(source)
        columns = [_change(c, visible) for c in counts] if self.since_seal else list(counts)
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

    def moves(self, source: Source) -> bool:
        """Whether a row of `source` can change its group: grouped by vehicle, a
        case's rows join a vehicle's group when it is escalated through it."""
        return Dimension.VEHICLE in self.group_by and not source.is_escalations

    def left_unescalated(self, source: Source, quantile: Percentile) -> Sql:
        """Since the seal, grouped by vehicle: per group (its vehicle `none`), one
        bytea (as `durations` packs) or the rows of each duration that counted as
        of `sealed` in a row of a case first escalated after it, by `as_of`: the
        durations that left the group `none`."""
        none = constant(NOT_ESCALATED)
        keys = [
            none if d is Dimension.VEHICLE else self.dimension(d, source) for d in self.group_by
        ]
        if self.by_received_month:
            keys.insert(0, self.received_month())
        counted = at_seal(
            sql("{visible} AND {counts}", visible=source.visible, counts=quantile.counts)
        )
        grouped = [k for k in keys if isinstance(k, Sql)]  # a constant is no GROUP BY key
        return sql(
            "SELECT {columns} FROM {table} t WHERE {period} AND {touched} AND {counted} "
            "AND t.escalated_recorded_at > {sealed} AND t.escalated_recorded_at <= {as_of}"
            "{group_by}",
            columns=COMMA.join(
                [*keys, _packed(quantile.column) if self.postgres else quantile.column]
            ),
            table=identifier(self.tables(source.table)),
            period=period(),
            touched=source.touched,
            counted=counted,
            group_by=_group_by(grouped) if self.postgres else NOTHING,
        )

    def durations(
        self, source: Source, quantile: Percentile, *, packed: bool = False, left: bool = False
    ) -> Sql:
        """Group keys and each duration of `quantile` that counts as of `as_of`
        (since the seal: and did not as of `sealed`); `packed` (PostgreSQL), per
        group one bytea of them in order, 8 bytes big-endian each. By moment,
        packed: per group without the moment, the moments (in microseconds) and
        then the durations, both in the moments' order; with `left` (grouped by
        vehicle), those that counted as of the moment before and not at the
        moment: that left the group `none`."""
        keys = self.keys(source)
        counted = sql(
            "{visible} AND {counts}", visible=self.visible(source), counts=quantile.counts
        )
        now, then = (at_seal(counted), counted) if left else (counted, at_seal(counted))
        where = sql("{where} AND {counted}", where=self.where(source), counted=now)
        if self.since_seal:  # (grouped by vehicle: in the same group at the seal)
            where += sql(" AND NOT COALESCE({before}, FALSE)", before=then)
        where = _at_moment(where, self.by_moment)
        if self.by_moment and packed:
            order = sql("t.moment, {column}", column=quantile.column)
            return sql(
                "SELECT {columns} FROM {source} WHERE {where}{group_by}",
                columns=COMMA.join(
                    [*keys[1:], _packed(keys[0], order), _packed(quantile.column, order)]
                ),
                source=self.from_clause(source),
                where=where,
                group_by=_group_by(keys[1:]),
            )
        value = _packed(quantile.column) if packed else quantile.column
        return sql(
            "SELECT {columns} FROM {source} WHERE {where}{group_by}",
            columns=COMMA.join([*keys, value]),
            source=self.from_clause(source),
            where=where,
            group_by=_group_by(keys) if packed else NOTHING,
        )


def _packed(value: Sql, order: Sql | None = None) -> Sql:
    """PostgreSQL: the group's `value`s in one bytea, 8 bytes big-endian each, in
    the order of `order` (else their own)."""
    return sql(
        "string_agg(int8send({value}), CAST('' AS bytea) ORDER BY {order})",
        value=value,
        order=value if order is None else order,
    )


def _at_moment(statement: Sql, by_moment: bool) -> Sql:
    """By moment (ADR 84), `statement` as of each row's `moment` (for `as_of`)
    and the moment before it (for `sealed`)."""
    if not by_moment:
        return statement
    return statement.bound(as_of=sql("t.moment"), sealed=sql("t.moment_before"))


def _change(count: Sql, visible: Sql) -> Sql:
    """`count` (one aggregate call) over the rows `visible` as of `as_of`, less it
    as of `sealed` over the rows visible then."""
    return sql(
        "COALESCE({now} FILTER (WHERE {visible}), 0) - COALESCE({then} FILTER (WHERE {before}), 0)",
        now=count,
        visible=visible,
        then=at_seal(count),
        before=at_seal(visible),
    )


def _group_by(keys: Sequence[Sql | Identifier]) -> Sql:
    return sql(" GROUP BY {keys}", keys=COMMA.join(keys)) if keys else NOTHING
