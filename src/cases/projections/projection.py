"""What a projection is: a name, the tables it owns, and how it applies events."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

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
