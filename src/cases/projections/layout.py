"""Which runners keep a projection: one, or several, each a partition of it (ADR 90).

The tracking rows say it. One runner keeps `name`'s row; partitions keep rows
named `name/k-of-n`, one for each k below n, and no row `name`. Only a rebuild's
swap changes the layout (`set_layout`, in the swap's transaction), so a runner
checks it once, when made: one of another layout is refused with what to run
instead, never left to apply events twice to tables another layout keeps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cases.db.database import ProjectionDatabase
from cases.db.statement import parameters, sql

PARTITIONABLE = frozenset({"service_levels"})
"""The projections that may be kept by partitions: PostgreSQL only (ADR 90)."""

_PART = re.compile(r"^(\d+)/(\d+)$")
_ROW = re.compile(r"/(\d+)-of-(\d+)$")


class LayoutError(Exception):
    """Raised when a runner is of another layout than the tracking rows hold."""


@dataclass(frozen=True, slots=True)
class Partition:
    """Partition `part` of `parts`: the cases whose id's last byte is `part`
    modulo `parts`."""

    part: int
    parts: int

    def __post_init__(self) -> None:
        if not (self.parts >= 2 and 0 <= self.part < self.parts):
            raise ValueError(
                f"partition {self.part}/{self.parts}: there are two partitions at least, "
                "and k is one of 0 to n - 1"
            )

    @classmethod
    def parse(cls, text: str) -> Partition:
        """`k/n`: partition k of n."""
        match = _PART.match(text.strip())
        if match is None:
            raise ValueError(f"a partition is written k/n (say 0/2), not {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def tracking_name(self, projection: str) -> str:
        return f"{projection}/{self.part}-of-{self.parts}"


def partitions(parts: int) -> list[Partition]:
    """Every partition of `parts`."""
    return [Partition(part, parts) for part in range(parts)]


def partition_pattern(projection: str) -> str:
    """What `LIKE … ESCAPE '\\'` matches the names of `projection`'s partitions by."""
    escaped = projection.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}/%"


def layout_rows(db: ProjectionDatabase, projection: str, *, lock: bool = False) -> dict[str, int]:
    """The tracking rows of `projection`'s layout, by name: its own, or its
    partitions'. With `lock`, held until the caller's transaction ends
    (PostgreSQL), in name order, as a rebuild's swap takes them."""
    statement = sql(
        "SELECT projection, position FROM projection_tracking "
        "WHERE projection = {} OR projection LIKE {} ESCAPE '\\' ORDER BY projection"
    )
    if lock and db.is_postgres:
        statement += sql(" FOR UPDATE")
    rows = db.fetchall(statement, (projection, partition_pattern(projection)))
    return {str(name): int(position) for name, position in rows}


def least_positions(db: ProjectionDatabase, names: Sequence[str]) -> dict[str, int]:
    """The position each of `names` has applied: the least of its layout's rows
    (a projection kept by partitions has applied what all of them have). A name
    with no row is left out."""
    partitioned = [name for name in names if name in PARTITIONABLE]
    statement = sql(
        "SELECT projection, position FROM projection_tracking WHERE projection IN ({names})",
        names=parameters(len(names)),
    )
    for _ in partitioned:
        statement += sql(" OR projection LIKE {} ESCAPE '\\'")
    rows = db.fetchall(statement, (*names, *map(partition_pattern, partitioned)))
    return by_projection((str(name), int(position)) for name, position in rows)


def applied_position(db: ProjectionDatabase, projection: str) -> int:
    """The position `projection` has applied: its least partition's, where
    partitions keep it (0 if it never ran)."""
    return least_positions(db, [projection]).get(projection, 0)


def projection_of(row_name: str) -> str:
    """The projection a tracking row keeps: a partition's row, its projection's."""
    return row_name.split("/", 1)[0] if _ROW.search(row_name) else row_name


def partition_rows(rows: Iterable[tuple[str, int]], projection: str) -> list[str]:
    """The names among tracking `rows` of `projection`'s partitions, in order."""
    return sorted(
        name for name, _ in rows if name != projection and projection_of(name) == projection
    )


def by_projection(rows: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Tracking positions by projection: a partition's row counts for its
    projection, which has applied the least of its partitions' positions."""
    least: dict[str, int] = {}
    for row_name, position in rows:
        name = projection_of(row_name)
        least[name] = min(position, least.get(name, position))
    return least


def parts_of(rows: dict[str, int], projection: str) -> int:
    """How many partitions the rows say keep `projection`: 1 for one runner (or
    none yet). Rows of two layouts at once are refused (LayoutError)."""
    counts = {int(m.group(2)) for name in rows if (m := _ROW.search(name)) is not None}
    if not counts:
        return 1
    if len(counts) > 1 or projection in rows:
        raise LayoutError(f"{projection} has tracking rows of two layouts: {sorted(rows)}")
    return counts.pop()


def layout(db: ProjectionDatabase, projection: str) -> int:
    """How many partitions keep `projection` (1: one runner)."""
    return parts_of(layout_rows(db, projection), projection)


def refuse_partitioned(db: ProjectionDatabase, projection: str) -> None:
    """A LayoutError if partitions keep `projection`: one runner must not join them."""
    parts = layout(db, projection)
    if parts > 1:
        raise LayoutError(
            f"{projection} is kept by {parts} partitions (ADR 90): run "
            f"`cases projections run --partition k/{parts}` for each k below {parts}, and "
            f"the sealer with the other projections; or go back to one runner with "
            f"`cases projections rebuild {projection} --partitions 1`"
        )


def refuse_other_layout(db: ProjectionDatabase, projection: str, partition: Partition) -> None:
    """A LayoutError unless `partition`'s layout keeps `projection`."""
    parts = layout(db, projection)
    if parts != partition.parts:
        kept = "one runner" if parts == 1 else f"{parts} partitions"
        raise LayoutError(
            f"{projection} is kept by {kept}, not {partition.parts} partitions: change it "
            f"with `cases projections rebuild {projection} --partitions {partition.parts}` "
            "(PostgreSQL only)"
        )


def set_layout(
    db: ProjectionDatabase, projection: str, parts: int, position: int, now: datetime
) -> list[str]:
    """Make `parts` runners keep `projection` from `position` on (1: one runner),
    inside the caller's transaction; returns their rows' names. A row that stays
    is moved, not made again: its runner, waiting on its lock, finds the position
    moved and reads on from there, as after any swap."""
    names = (
        [projection]
        if parts == 1
        else [partition.tracking_name(projection) for partition in partitions(parts)]
    )
    held = layout_rows(db, projection)
    for name in held.keys() - set(names):
        db.execute(sql("DELETE FROM projection_tracking WHERE projection = {}"), (name,))
    for name in names:
        db.execute(
            sql(
                "UPDATE projection_tracking SET position = {}, updated_at = {} "
                "WHERE projection = {}"
            )
            if name in held
            else sql(
                "INSERT INTO projection_tracking (position, updated_at, projection) "
                "VALUES ({}, {}, {})"
            ),
            (position, now, name),
        )
    return names
