"""Every stored field has a decision on personal data (ADR 0044).

A new event field or value-object field fails here until it is listed in
`cases.persistence.personal_data` as personal, within (a value object) or kept,
and `docs/personal-data.md` shows the inventory as it is in code.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import types
import typing
from collections.abc import Iterator
from pathlib import Path

from eventsourcing.domain import BaseAggregate, CanSnapshotAggregate, DomainEvent

import cases.domain
from cases.domain.support_case import SupportCase
from cases.persistence import personal_data
from cases.persistence.personal_data import (
    AUDITED_FIELDS,
    EVENTS,
    LIBRARY_FIELDS,
    SNAPSHOTS,
    VALUE_OBJECTS,
    Fields,
    decision,
    inventory_table,
    subject_kind,
)
from cases.persistence.registry import VALUE_OBJECTS as STORED_VALUE_OBJECTS
from tests.support.generated import keep_generated
from tests.unit.domain.case_scenario import received

DOC = Path(__file__).resolve().parents[3] / "docs" / "personal-data.md"
START, END = "<!-- inventory:start -->\n", "<!-- inventory:end -->\n"


def _nested(cls: type) -> Iterator[type]:
    for name, value in vars(cls).items():
        if inspect.isclass(value) and value.__qualname__ == f"{cls.__qualname__}.{name}":
            yield value
            yield from _nested(value)


def domain_event_classes() -> set[type]:
    found: set[type] = set()
    for info in pkgutil.iter_modules(cases.domain.__path__):
        module = importlib.import_module(f"cases.domain.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            for each in (cls, *_nested(cls)):
                if issubclass(each, DomainEvent) and not issubclass(each, CanSnapshotAggregate):
                    found.add(each)
    return found


def own_fields(event_cls: type) -> set[str]:
    names = {f.name for f in dataclasses.fields(event_cls)}
    return names - LIBRARY_FIELDS - AUDITED_FIELDS.decided


def _undecided(cls: type, names: set[str], decided: Fields | None) -> list[str]:
    where = f"{cls.__module__}:{cls.__qualname__}"
    if decided is None:
        return [f"{where}: fields {sorted(names)} have no decision"] if names else []
    problems = [f"{where}.{n}: no decision" for n in sorted(names - decided.decided)]
    problems += [f"{where}.{n}: decided but not a field" for n in sorted(decided.decided - names)]
    return problems


def test_every_event_field_is_decided() -> None:
    problems: list[str] = []
    for cls in sorted(domain_event_classes(), key=lambda c: c.__qualname__):
        problems += _undecided(cls, own_fields(cls), decision(cls))
    assert not problems, (
        "a stored field needs a personal-data decision in cases/persistence/personal_data.py "
        "(personal, within or kept; ADR 0044):\n" + "\n".join(problems)
    )


def test_every_stored_value_object_field_is_decided() -> None:
    problems: list[str] = []
    for cls in STORED_VALUE_OBJECTS.values():
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        problems += _undecided(cls, names, VALUE_OBJECTS.get(cls))
    assert not problems, "\n".join(problems)
    assert set(VALUE_OBJECTS) <= set(STORED_VALUE_OBJECTS.values())


def test_the_walk_finds_a_field_without_a_decision() -> None:
    # The check itself can fail: a class with a field the inventory lacks.
    decided = Fields(kept=frozenset({"number"}))
    assert _undecided(SupportCase.HandedBack, {"number", "summary"}, decided) == [
        "cases.domain.support_case:SupportCase.HandedBack.summary: no decision"
    ]
    assert _undecided(SupportCase.HandedBack, {"summary"}, None)


def test_every_snapshot_attribute_of_a_subject_is_decided() -> None:
    snapshot = SupportCase.Snapshot.take(received())
    attributes = {n for n in snapshot.state if not n.startswith("_")} - {"class_version"}
    attributes |= {"_course_changed_at"} & set(snapshot.state)
    problems = _undecided(SupportCase, attributes, SNAPSHOTS[SupportCase])
    assert not problems, "\n".join(problems)


def _is_text(annotation: object) -> bool:
    if annotation is str:
        return True
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return all(a in (str, type(None)) for a in args)
    return origin is tuple and args in ((str, ...),)


def test_personal_fields_are_text_and_belong_to_a_subject() -> None:
    for table in (EVENTS, VALUE_OBJECTS):
        for cls, decided in table.items():
            hints = typing.get_type_hints(cls)
            for name in decided.personal:
                assert _is_text(hints[name]), f"{cls.__qualname__}.{name} is not text"
    for cls, decided in EVENTS.items():
        if decided.personal:
            outer = vars(importlib.import_module(cls.__module__))[cls.__qualname__.split(".")[0]]
            assert issubclass(outer, BaseAggregate), cls
            assert subject_kind(outer) is not None, cls


def test_the_document_shows_the_inventory_in_code() -> None:
    """docs/personal-data.md shows cases/persistence/personal_data.py's inventory."""
    keep_generated(DOC, START, END, inventory_table(), "CASES_WRITE_INVENTORY")


def test_inventory_module_names_its_placeholder() -> None:
    assert personal_data.ERASED == "erased"
