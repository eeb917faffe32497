"""The topics stored events and snapshots are read back by, kept valid across
renames (ADR 0037).

Every stored event names its class by topic (`module:Qualified.Name`), as a
snapshot names its aggregate's class; `tests/golden/stored_topics.txt` lists
every topic ever stored. A class renamed or moved keeps its old topic readable
by an entry here (old topic to the current one), registered with eventsourcing's
`register_topic` before the log is opened. Never remove an entry.
"""

from __future__ import annotations

from eventsourcing.utils import get_topic, register_topic, resolve_topic

RENAMED: dict[str, str] = {}  # old topic -> current topic


def register_renamed_topics() -> None:
    """Make every old topic resolve to the class now known by its new one."""
    for old, current in RENAMED.items():
        register_topic(old, resolve_topic(current))


def topics_of(cls: type[object]) -> tuple[str, ...]:
    """The topics events of `cls` are stored under: its own and its old ones."""
    current = get_topic(cls)
    return (current, *sorted(old for old, new in RENAMED.items() if new == current))
