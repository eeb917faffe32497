"""What the read models do when a subject is erased (ADR 0044).

The read models of support cases keep some personal text in plaintext (a case's
title, an escalation's reason, the timeline's summaries). On the erasure of a
case's contact they overwrite it with the placeholder, so their tables hold
what a rebuild from the (now unreadable) events gives.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar
from uuid import UUID

from cases.db.database import ProjectionDatabase
from cases.db.statement import parameters, sql
from cases.domain.erasure import Erasure, SubjectKind
from cases.persistence.personal_data import ERASED, personal_fields
from cases.projections.projection import PositionedEvent, Projection, TableNames
from cases.projections.rows import update_where

ERASURES: tuple[type[Any], ...] = (Erasure.SubjectErased,)
"""Add to a read model's `handles` to be told of erasures."""


def without_erasures(
    events: Sequence[PositionedEvent],
) -> tuple[list[PositionedEvent], list[UUID]]:
    """The batch's other events, and the cases whose contact it erased."""
    others: list[PositionedEvent] = []
    erased: list[UUID] = []
    for positioned in events:
        event = positioned.event
        if isinstance(event, Erasure.SubjectErased):
            if event.subject_kind is SubjectKind.CONTACT:
                erased.append(event.subject_id)
        else:
            others.append(positioned)
    return others, erased


def erase_columns(
    db: ProjectionDatabase,
    table: str,
    columns: tuple[str, ...],
    case_ids: list[UUID],
) -> None:
    """Overwrite `columns` of the erased cases' rows with the placeholder."""
    if not case_ids:
        return
    where = sql("case_id IN ({cases})", cases=parameters(len(case_ids)))
    update_where(db, table, dict.fromkeys(columns, ERASED), where, case_ids)


_PERSONAL: dict[type[Any], tuple[str, ...]] = {}


def _personal(cls: type[Any]) -> tuple[str, ...]:
    """The personal fields of a class (none for one that is not a dataclass), looked
    up in the inventory once per class: the timeline asks for every event."""
    found = _PERSONAL.get(cls)
    if found is None:
        dataclass = hasattr(cls, "__dataclass_fields__")
        found = _PERSONAL[cls] = tuple(personal_fields(cls)) if dataclass else ()
    return found


Checks = tuple[tuple[str | None, tuple[str, ...]], ...]
_CHECKS: dict[tuple[object, ...], Checks] = {}


def holds_erased(event: Any) -> bool:
    """Whether a personal field of the event (or of a value object it holds) reads
    as the placeholder: its subject was erased before it was read.

    The fields to look at depend only on the event's *shape* (its class, its
    attributes' names and their values' types), so they are found once a shape
    (`_checks`): the timeline asks for every event, and most hold no personal
    field at all."""
    values = vars(event)
    shape = (type(event), *values, *map(type, values.values()))
    checks = _CHECKS.get(shape)
    if checks is None:
        checks = _CHECKS[shape] = _checks(type(event), values)
    for name, fields in checks:
        holder = event if name is None else values[name]
        for field in fields:
            if getattr(holder, field) == ERASED:
                return True
    return False


def _checks(cls: type[Any], values: dict[str, Any]) -> Checks:
    """The personal fields of an event of `cls` holding `values`: its own (name
    None), then those of each value object it holds, by the attribute's name."""
    own = [(None, tuple(personal_fields(cls)))]
    held = [(name, _personal(type(value))) for name, value in values.items()]
    return tuple((name, fields) for name, fields in own + held if fields)


class ErasingProjection(Projection):
    """A read model of support cases that keeps personal text in plaintext: on the
    erasure of a case's contact its `erased_columns` (table, columns) are
    overwritten with the placeholder, after the batch's other events are applied."""

    erased_columns: ClassVar[tuple[str, tuple[str, ...]]]

    def apply(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        events, erased = without_erasures(events)
        self.apply_case_events(db, events, tables)
        table, columns = self.erased_columns
        erase_columns(db, tables(table), columns, erased)

    @abstractmethod
    def apply_case_events(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        """Apply the batch's events other than erasures, as `apply` does."""
