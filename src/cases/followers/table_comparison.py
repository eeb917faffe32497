"""A read model's live tables compared with their shadows, row for row.

Every row of each live table is compared with the shadow's as a multiset (row
order and physical layout do not count). A difference names the table and how
many rows the live table lacks or has in excess, with the first column (the read
model's id) of one such row: never the other columns, which may hold personal
text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from cases.db.database import ProjectionDatabase
from cases.db.statement import identifier, sql
from cases.projections.projection import SHADOW


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
    """A projection compared at `position`: no differences means it matches.
    Where partitions keep it, `positions` holds each partition's, in order, and
    `position` is the least of them (ADR 90)."""

    name: str
    position: int
    differences: tuple[TableDifference, ...]
    positions: tuple[int, ...] = ()

    @property
    def matches(self) -> bool:
        return not self.differences

    @property
    def where(self) -> str:
        """Where it was compared, in words."""
        if self.positions:
            each = ", ".join(str(p) for p in self.positions)
            return f"its {len(self.positions)} partitions' positions {each}"
        return f"position {self.position}"


def differences(db: ProjectionDatabase, tables: Iterable[str]) -> tuple[TableDifference, ...]:
    """Each of `tables` that differs from its shadow, and how."""
    return tuple(d for table in tables if (d := _compare(db, table)) is not None)


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
