"""Every recorded event type reads as a sentence, not a dump of its fields."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import cases.domain
from cases.domain.audited import AuditedAggregate
from cases.history.event_summaries import _SUMMARIES, summarise


def event_types() -> list[str]:
    found = set()
    for info in pkgutil.iter_modules(cases.domain.__path__):
        module = importlib.import_module(f"cases.domain.{info.name}")
        for _, aggregate in inspect.getmembers(module, inspect.isclass):
            if not issubclass(aggregate, AuditedAggregate) or aggregate is AuditedAggregate:
                continue
            for name, member in vars(aggregate).items():
                is_event = inspect.isclass(member) and issubclass(member, AuditedAggregate.Event)
                # A base of other events (a kind of fact) is never recorded itself.
                is_base = is_event and bool(member.__subclasses__())
                if is_event and not is_base and name not in {"Event", "Created"}:
                    found.add(member.__qualname__)
    return sorted(found)


@pytest.mark.parametrize("event_type", event_types())
def test_every_event_type_has_a_summary(event_type: str) -> None:
    assert event_type in _SUMMARIES or event_type.rsplit(".", 1)[-1] in _SUMMARIES


def test_an_unknown_event_falls_back_to_its_fields() -> None:
    assert summarise("Mystery.ThingHappened", {"size": 3}) == "Thing happened: size=3"
