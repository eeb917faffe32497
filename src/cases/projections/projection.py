"""What a projection is: a name, the tables it owns, and how it applies events."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from cases.db.database import ProjectionDatabase
from cases.persistence.topics import topics_of

_V = TypeVar("_V")


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


def events_of(aggregate: type[Any]) -> tuple[type[Any], ...]:
    """Every event class of `aggregate`: the subclasses of its `Event`, at any depth
    (its own and those its mixins define), in a stable order."""
    found: dict[type[Any], None] = {}
    unseen = [aggregate.Event]
    while unseen:
        for subclass in unseen.pop().__subclasses__():
            if subclass not in found:
                found[subclass] = None
                unseen.append(subclass)
    return tuple(sorted(found, key=lambda cls: cls.__qualname__))


LIVE = TableNames()
SHADOW = TableNames("__rebuild")


_writing_begins: ContextVar[Callable[[], None] | None] = ContextVar("writing_begins", default=None)


def writing_begins() -> None:
    """Said by a projection that folds its batch in Python first: its rows are
    folded and it starts writing them (`Projection.folds_then_writes`)."""
    listener = _writing_begins.get()
    if listener is not None:
        listener()


@contextmanager
def _holding(variable: ContextVar[_V], value: _V) -> Iterator[None]:
    """`variable` set to `value` for the length of a `with`."""
    token = variable.set(value)
    try:
        yield
    finally:
        variable.reset(token)


def on_writing_begins(listener: Callable[[], None] | None) -> AbstractContextManager[None]:
    """Call `listener` when the projection applied in this block says `writing_begins`."""
    return _holding(_writing_begins, listener)


_catching_up: ContextVar[bool] = ContextVar("catching_up", default=False)


def catching_up() -> bool:
    """Whether the batch being applied is a full one, with more events waiting
    behind it (the runner is catching up), rather than one that reached the log's
    head: work a projection may leave for later (ADR 84)."""
    return _catching_up.get()


def behind(more: bool) -> AbstractContextManager[None]:
    """Apply, in this block, a batch with (`more`) or without events behind it."""
    return _holding(_catching_up, more)


class Projection(ABC):
    """Applies batches of events to its tables; the runner owns the transaction."""

    name: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]
    handles: ClassVar[tuple[type[Any], ...]]
    folds_then_writes: ClassVar[bool] = False
    """It folds a whole batch in Python, then writes it, and says `writing_begins`
    between the two: the runner decodes the next batch only from then, beside the
    server's work on the writes, not beside the fold (ADR 71 amendment)."""
    pipelines_writes: ClassVar[bool] = False
    """Nothing it runs after its reads needs a statement's result (no row count,
    no COPY): the runner sends a batch's statements in a pipeline on PostgreSQL,
    so its writes go out without a wait each, and only the commit waits for the
    server (ADR 86)."""

    @classmethod
    def topics(cls) -> tuple[str, ...]:
        return tuple(topic for event_class in cls.handles for topic in topics_of(event_class))

    @abstractmethod
    def apply(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        """Apply `events` (in log order) to `tables`, inside the caller's transaction."""
