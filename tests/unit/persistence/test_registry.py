"""Every value type the domain stores has a stable name in the registry."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from enum import Enum

import cases.domain
from cases.persistence.registry import ENUMS, NOT_STORED, VALUE_OBJECTS, cases_transcoder
from tests.support.builders import published


def domain_types() -> set[type[object]]:
    found: set[type[object]] = set()
    for module_info in pkgutil.iter_modules(cases.domain.__path__):
        module = importlib.import_module(f"cases.domain.{module_info.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ != module.__name__ or obj.__name__.startswith("_"):
                continue
            if issubclass(obj, Enum) or (
                dataclasses.is_dataclass(obj) and not hasattr(obj, "originator_id")
            ):
                found.add(obj)
    return found


def test_every_domain_enum_and_value_object_is_registered() -> None:
    """A type missing here would fail to store only when first used in production."""
    registered = set(ENUMS.values()) | set(VALUE_OBJECTS.values()) | NOT_STORED
    missing = {t.__qualname__ for t in domain_types() - registered}
    assert missing == set()


def test_names_are_unique() -> None:
    names = list(ENUMS) + list(VALUE_OBJECTS)
    assert len(names) == len(set(names))


def test_the_transcoder_round_trips_a_published_terms_value() -> None:
    transcoder = cases_transcoder()
    value = published(version=4)
    assert transcoder.decode(transcoder.encode(value)) == value
