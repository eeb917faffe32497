"""Compare a read model with a replay of the log (`cases audit verify --read-models`).

The projection is replayed into shadow tables, as a rebuild does
(`followers/rebuild.py`, the same shadow names and leadership, so the two never
run at once), but only up to the position the live tables hold. The last
stretch and the comparison run in one transaction that locks the live tracking
row first, as every runner batch does, so the live tables cannot move while
they are compared. Every row of each live table is compared with the shadow's
as a multiset (row order and physical layout do not count); then the shadows
are dropped, whatever the outcome. Nothing live is changed.

A difference names the table and how many rows the live table lacks or has in
excess, with the first column (the read model's id) of one such row: never the
other columns, which may hold personal text.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from cases.clock import Clock, SystemClock
from cases.db.database import ProjectionDatabase
from cases.db.statement import identifier, sql
from cases.followers.rebuild import drop_shadows, shadow_runner
from cases.followers.runner import ProjectionRunner
from cases.persistence.event_log import EventLog
from cases.projections.layout import PARTITIONABLE, LayoutError, layout
from cases.projections.projection import SHADOW, Projection


@dataclass(frozen=True, slots=True)
class TableDifference:
    """Rows a live table lacks (`missing`) or holds beyond the replay (`extra`)."""

    table: str
    missing: int
    extra: int
    example: str

    def __str__(self) -> str:
        return f"{self.table}: {self.missing} rows missing, {self.extra} extra ({self.example})"


@dataclass(frozen=True, slots=True)
class ReadModelCheck:
    """A projection compared at `position`: no differences means it matches."""

    name: str
    position: int
    differences: tuple[TableDifference, ...]

    @property
    def matches(self) -> bool:
        return not self.differences


def check_read_model(
    log: EventLog,
    projection: Projection,
    db: ProjectionDatabase,
    *,
    batch_size: int = 1000,
    clock: Clock | None = None,
) -> ReadModelCheck:
    """Replay `projection` into shadow tables up to its live position and compare."""
    clock = clock or SystemClock()
    if projection.name in PARTITIONABLE and layout(db, projection.name) > 1:
        raise LayoutError(
            f"{projection.name} is kept by partitions, each at its own position: a replay "
            "to one position cannot be compared with them (ADR 90)"
        )
    with shadow_runner(log, projection, db, batch_size=batch_size, clock=clock) as runner:
        try:
            return _replay_and_compare(runner)
        finally:
            drop_shadows(db, projection)


def _replay_and_compare(runner: ProjectionRunner) -> ReadModelCheck:
    db, projection, tracking = runner.db, runner.projection, runner.tracking
    with db.transaction():
        tracking.ensure(projection.name)
    target = tracking.position(projection.name)
    position = runner.position
    while position < target:  # the bulk, unlocked: the live tables keep serving
        events, reached = runner.read_batch(position, target)
        runner.apply_batch(events, position, reached)
        position = reached
    with db.transaction():
        live = tracking.lock(projection.name)  # first, as in every runner batch
        while position < live:
            events, position = runner.read_batch(position, live)
            if events:
                projection.apply(db, events, SHADOW)
        differences = tuple(
            d for table in projection.tables if (d := _compare(db, table)) is not None
        )
    return ReadModelCheck(projection.name, live, differences)


def _rows(db: ProjectionDatabase, table: str) -> Counter[tuple[object, ...]]:
    rows = db.fetchall(sql("SELECT * FROM {t}", t=identifier(table)))
    return Counter(tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows)


def _compare(db: ProjectionDatabase, table: str) -> TableDifference | None:
    live, replayed = _rows(db, table), _rows(db, SHADOW(table))
    missing, extra = replayed - live, live - replayed
    if not missing and not extra:
        return None
    first = next(iter(extra or missing))
    which = "an extra row" if extra else "a missing row"
    return TableDifference(
        table,
        sum(missing.values()),
        sum(extra.values()),
        f"{which} begins {first[0]!r}" if first else which,
    )
