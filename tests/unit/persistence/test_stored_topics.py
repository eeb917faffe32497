"""Every topic and transcoding name ever stored stays readable (ADR 0037).

`tests/golden/stored_topics.txt` lists each topic stored events and snapshots
carry (the classes of events, aggregates and snapshots) and each transcoding
name stored values carry. A line is never removed: stored data keeps it for
years. Renaming or moving a class without an alias, or a transcoding name,
fails here rather than when the first old event is read.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from eventsourcing.domain import Aggregate, BaseAggregate, DomainEvent
from eventsourcing.utils import TopicError, get_topic, resolve_topic

import cases.application
import cases.domain
import cases.persistence.event_log
from cases.domain.support_case import SupportCase
from cases.persistence.registry import cases_transcoder
from cases.persistence.sealing import Sealer
from cases.persistence.subject_keys import MasterKey, MemorySubjectKeys
from cases.persistence.topics import RENAMED, register_renamed_topics, topics_of
from cases.projections.projection import Projection

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "stored_topics.txt"
STORING_PACKAGES = (cases.domain, cases.application)  # where stored classes are defined


def _modules() -> Iterator[ModuleType]:
    for package in STORING_PACKAGES:
        for info in pkgutil.iter_modules(package.__path__):
            yield importlib.import_module(f"{package.__name__}.{info.name}")


def _nested(cls: type) -> Iterator[type]:
    for name, value in vars(cls).items():
        if inspect.isclass(value) and value.__qualname__ == f"{cls.__qualname__}.{name}":
            yield value
            yield from _nested(value)


def stored_topics() -> set[str]:
    """The topics of every event, aggregate and snapshot class of `cases`."""
    found: set[str] = set()
    for module in _modules():
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            for each in (cls, *_nested(cls)):
                if issubclass(each, DomainEvent | BaseAggregate):
                    found.add(get_topic(each))
                if issubclass(each, Aggregate):
                    found.add(get_topic(each.Snapshot))
    return found


def stored_type_names() -> set[str]:
    """With sealing on (ADR 0044), as a store with a master key writes."""
    sealing = cases_transcoder(Sealer(MemorySubjectKeys(MasterKey.generate())))
    return set(sealing.names)


def golden() -> tuple[set[str], set[str]]:
    topics: set[str] = set()
    names: set[str] = set()
    for line in GOLDEN.read_text().splitlines():
        kind, _, value = line.partition(" ")
        if kind == "topic":
            topics.add(value)
        elif kind == "type":
            names.add(value)
        elif line.strip() and not line.startswith("#"):
            raise AssertionError(f"{GOLDEN.name}: not a 'topic' or 'type' line: {line!r}")
    return topics, names


def test_every_stored_topic_still_resolves() -> None:
    topics, _ = golden()
    unreadable = []
    for topic in sorted(topics):
        try:
            resolve_topic(topic)
        except (TopicError, ImportError, AttributeError):
            unreadable.append(topic)
    assert unreadable == [], (
        f"stored events and snapshots carry these topics, which no longer resolve "
        f"(a class renamed or moved?): {unreadable}. Keep each readable: add "
        '`"<old topic>": "<new module:Class>"` to RENAMED in '
        "src/cases/persistence/topics.py (registered with eventsourcing's register_topic), "
        f"then add the new topic to {GOLDEN.relative_to(GOLDEN.parents[2])}. "
        "Never remove a line from it (ADR 0037)."
    )


def test_every_stored_type_name_is_still_registered() -> None:
    _, names = golden()
    missing = sorted(names - stored_type_names())
    assert missing == [], (
        f"stored values carry these transcoding names, which are no longer registered: "
        f"{missing}. A name is stored for years: keep it in src/cases/persistence/registry.py "
        "(a renamed type keeps its old name) (ADR 0037)."
    )


def test_every_topic_and_type_name_now_stored_is_in_the_golden_file() -> None:
    topics, names = golden()
    new = [f"topic {t}" for t in sorted(stored_topics() - topics)]
    new += [f"type {n}" for n in sorted(stored_type_names() - names)]
    assert new == [], (
        f"new stored topics or type names; append these lines to {GOLDEN.name}: {new}. "
        "If a class was renamed or moved, its old topic must also stay readable: "
        "see RENAMED in src/cases/persistence/topics.py (ADR 0037)."
    )


def test_an_alias_reads_an_old_topic_and_projections_follow_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Events stored under the old topic decode to the renamed class, and a
    projection of that class selects them from the log too."""
    old = "cases.domain.support_case:SupportCase.NoteWritten"  # never a class
    monkeypatch.setitem(RENAMED, old, get_topic(SupportCase.NoteAdded))
    with pytest.raises(TopicError):
        resolve_topic(old)
    register_renamed_topics()
    assert resolve_topic(old) is SupportCase.NoteAdded
    assert topics_of(SupportCase.NoteAdded) == (get_topic(SupportCase.NoteAdded), old)

    class Notes(Projection):
        handles = (SupportCase.NoteAdded,)

    assert old in Notes.topics()
