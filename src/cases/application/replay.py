"""Auditor replay: an aggregate's events applied one at a time, each with what it
changed in the state.

Nothing is loaded from snapshots: the state starts from nothing and each
recorded event is applied with its own `mutate`, as the library does on load.
Before and after each event the state (`vars` of the aggregate, without the
library's bookkeeping, plus a few derived values such as a case's status) is
compared value by value:

- dataclasses field by field, recursively, unless the value says how it is
  written (defines `__str__`, like `Money`): those are compared whole;
- dicts by key; tuples by a natural key of their elements (`number`) when every
  element has one, otherwise by index;
- a value that appears or disappears is listed leaf by leaf, so every change is
  one path with a plain value on each side (`None` when there was none).

Paths read like `escalations[1].vendor_reference` (escalation number 1),
`clocks[next_update-2].deadline` (the second next-update clock) or
`invoices[F-2001].settled` (the invoice numbered F-2001).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from cases.application.audit_trail import audited_events, check_version, recorded_by
from cases.application.command_runner import CommandRunner
from cases.domain.audited import AuditedAggregate
from cases.domain.billing_account import BillingAccount
from cases.domain.support_case import SupportCase
from cases.domain.text import aware
from cases.history.entries import HistoryEntry, history_entry
from cases.history.event_summaries import summarise

A = TypeVar("A", bound=AuditedAggregate)

# Derived values an auditor wants to see move, beside the recorded fields.
DERIVED: dict[type[AuditedAggregate], tuple[str, ...]] = {
    SupportCase: ("status",),
    BillingAccount: ("balance",),
}

# Fields that identify an element of a tuple better than its position does.
NATURAL_KEYS = ("clock_id", "number")  # the first every element has, unique, is used


@dataclass(frozen=True, slots=True)
class Change:
    """One value the event changed: where, what it was, what it became."""

    path: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class ReplayStep:
    """One recorded event, with its metadata and the changes it made."""

    entry: HistoryEntry
    changes: tuple[Change, ...]

    @property
    def summary(self) -> str:
        return summarise(self.entry.event_type, self.entry.details)


@dataclass(frozen=True, slots=True)
class Replay(Generic[A]):
    """The steps replayed and the state they ended in."""

    steps: tuple[ReplayStep, ...]
    state: A
    latest_version: int  # the aggregate's version now, however far the replay went


class Replayer:
    """Replays histories from the event log; records nothing."""

    def __init__(self, runner: CommandRunner) -> None:
        self.runner = runner

    def replay(
        self,
        kind: type[A],
        aggregate_id: UUID,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> list[ReplayStep]:
        """Each event up to `version` and as recorded by `as_of`, with its changes."""
        return list(self.run(kind, aggregate_id, version=version, as_of=as_of).steps)

    def run(
        self,
        kind: type[A],
        aggregate_id: UUID,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> Replay[A]:
        """The replay and the state it ends in.

        `version` stops after that version; `as_of` after the last event recorded
        at or before that moment (as `AuditTrail.as_of`). Both may be given.
        """
        if as_of is not None:
            aware("as_of", as_of)
        current = self.runner.load(kind, aggregate_id)  # refuses ids of other kinds
        if version is not None:
            check_version(version, current.version)
        events = [
            e
            for e in audited_events(self.runner, aggregate_id)
            if version is None or e.originator_version <= version
        ]
        if as_of is not None:
            events = recorded_by(kind, aggregate_id, events, as_of)
        derived = DERIVED.get(kind, ())
        steps: list[ReplayStep] = []
        aggregate: Any = None
        before: dict[str, Any] = {}
        for event in events:
            aggregate = event.mutate(aggregate)
            after = state_of(aggregate, derived)
            steps.append(ReplayStep(history_entry(event), tuple(diff_states(before, after))))
            before = after
        return Replay(tuple(steps), aggregate, current.version)


def state_of(aggregate: object, derived: tuple[str, ...] = ()) -> dict[str, Any]:
    """The aggregate's state as plain values, copied so later events cannot change it;
    without the library's bookkeeping (`_id`, `_version`, `_pending_events`, ...)."""
    state = {k: _copied(v) for k, v in vars(aggregate).items() if not k.startswith("_")}
    for name in derived:
        state[name] = getattr(aggregate, name)
    return state


def _copied(value: Any) -> Any:
    """Mutable containers copied (aggregates update dicts in place); values are
    frozen dataclasses, enums and tuples, shared as they are."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    if isinstance(value, set):
        return frozenset(value)
    return value


def diff_states(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """What changed between two states (from `state_of`), attribute by attribute."""
    changes: list[Change] = []
    for name in [*after, *(k for k in before if k not in after)]:
        changes += diff(before.get(name), after.get(name), name)
    return changes


def diff(before: Any, after: Any, path: str = "") -> list[Change]:
    """The leaf values that differ between two states (or parts of one)."""
    if _same(before, after):
        return []
    if _is_record(before) or _is_record(after):
        return _diff_records(before, after, path)
    if _is_mapping(before) or _is_mapping(after):
        return _diff_keyed(_as_mapping(before), _as_mapping(after), path)
    if _is_sequence(before) or _is_sequence(after):
        old, new = _as_sequence(before), _as_sequence(after)
        key = _natural_key(old, new)
        return _diff_keyed(_keyed(old, key), _keyed(new, key), path)
    return [Change(path, before, after)]


def _diff_records(before: Any, after: Any, path: str) -> list[Change]:
    record = after if _is_record(after) else before
    other = before if record is after else after
    if not (other is None or _empty(other) or type(other) is type(record)):
        return [Change(path, before, after)]  # a record replaced by something else
    changes: list[Change] = []
    for field in dataclasses.fields(record):
        changes += diff(
            getattr(before, field.name, None),
            getattr(after, field.name, None),
            _field(path, field.name),
        )
    return changes


def _diff_keyed(before: Mapping[Any, Any], after: Mapping[Any, Any], path: str) -> list[Change]:
    changes: list[Change] = []
    for key in [*after, *(k for k in before if k not in after)]:
        changes += diff(before.get(key), after.get(key), f"{path}[{key}]")
    return changes


def _field(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _same(before: Any, after: Any) -> bool:
    if _empty(before) and _empty(after):
        return True
    if type(before) is not type(after):
        return False
    return bool(before == after)


def _empty(value: Any) -> bool:
    """Nothing there: no value, or an empty collection."""
    if value is None:
        return True
    return isinstance(value, tuple | list | dict | set | frozenset) and not value


def _is_record(value: Any) -> bool:
    """A dataclass compared field by field (not one that writes itself, like Money)."""
    return (
        dataclasses.is_dataclass(value)
        and not isinstance(value, type)
        and type(value).__str__ is object.__str__
    )


def _is_mapping(value: Any) -> bool:
    return isinstance(value, Mapping)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, tuple | list)


def _as_mapping(value: Any) -> Mapping[Any, Any]:
    return value if isinstance(value, Mapping) else {}


def _as_sequence(value: Any) -> list[Any]:
    return list(value) if isinstance(value, tuple | list) else []


def _natural_key(*sequences: list[Any]) -> Callable[[int, Any], Any]:
    """Key elements by the first natural key every one of them has, unique within
    each sequence; by position otherwise."""
    elements = [e for sequence in sequences for e in sequence]
    for name in NATURAL_KEYS:
        if all(_is_record(e) and hasattr(e, name) for e in elements) and all(
            len({getattr(e, name) for e in sequence}) == len(sequence) for sequence in sequences
        ):
            return lambda _index, element: getattr(element, name)
    return lambda index, _element: index


def _keyed(elements: list[Any], key: Callable[[int, Any], Any]) -> dict[Any, Any]:
    return {key(i, e): e for i, e in enumerate(elements)}
