"""What a projection is: a name, the tables it owns, and how it applies events."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from cases.db.database import ProjectionDatabase
from cases.persistence.topics import topics_of


@dataclass(frozen=True, slots=True)
class PositionedEvent:
    """A domain event and its position in the event log."""

    position: int
    event: Any


@dataclass(frozen=True, slots=True)
class TableNames:
    """Physical names of a projection's tables: live ones, or a rebuild's shadows."""

    suffix: str = ""

    def __call__(self, table: str) -> str:
        return f"{table}{self.suffix}"


LIVE = TableNames()
SHADOW = TableNames("__rebuild")

Folded = TypeVar("Folded")


class Projection(ABC):
    """Applies batches of events to its tables; the runner owns the transaction."""

    name: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]
    handles: ClassVar[tuple[type[Any], ...]]

    @classmethod
    def topics(cls) -> tuple[str, ...]:
        return tuple(topic for event_class in cls.handles for topic in topics_of(event_class))

    @abstractmethod
    def apply(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        """Apply `events` (in log order) to `tables`, inside the caller's transaction."""


class FoldingProjection(Projection, Generic[Folded]):
    """A projection that folds a whole batch in Python, then writes what it folded.

    The runner folds the next batch on a connection of its own while this one's
    writes run (ADR 0083): the client's decoding and folding overlap the server's
    work on the writes. So a fold reads what the batch `behind` it left, folded,
    whose writes may not be committed yet: its changes stand in for the rows it
    stores, for the cases the fold loaded."""

    @abstractmethod
    def fold(
        self,
        db: ProjectionDatabase,
        events: Sequence[PositionedEvent],
        tables: TableNames,
        behind: Folded | None,
    ) -> Folded:
        """Read what `events` need from `tables` (through `db`, and `behind`'s
        changes over it) and fold them; write nothing."""

    @abstractmethod
    def write(self, db: ProjectionDatabase, folded: Folded, tables: TableNames) -> None:
        """Write what was folded, inside the caller's transaction."""

    def apply(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        self.write(db, self.fold(db, events, tables, None), tables)
