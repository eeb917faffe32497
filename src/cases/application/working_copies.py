"""Aggregates a process keeps between its commands, changed in place (ADR 0023).

The library's aggregate cache deep-copies the cached aggregate on every load (so a
refused command cannot corrupt it) and then replays the newer events, including
the ones this process has just written itself: a third of a command's CPU in the
API server. A working copy is instead used by one thread at a time (its slot's
lock is held for the whole command: load, decide, save) and changed in place. It
is brought up to date from the store before every use (one query for newer
events, written by other processes), kept when the command was saved or changed
nothing, and dropped when a command changed it and then failed: the next
command loads it afresh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID


@dataclass(eq=False, slots=True)
class Slot:
    """One aggregate's place: its working copy (None: load it) and its lock."""

    aggregate: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class WorkingCopies:
    """At most `size` slots, the least recently used dropped first."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("working copies need room for at least one aggregate")
        self.size = size
        self._slots: OrderedDict[UUID, Slot] = OrderedDict()
        self._guard = threading.Lock()

    def __len__(self) -> int:
        return len(self._slots)

    @contextmanager
    def hold(self, aggregate_id: UUID) -> Iterator[Slot]:
        """The aggregate's slot, locked for this thread until the block ends.

        A slot dropped from the table while held stays usable by its holder; a
        second slot for the same aggregate may then be made, and the store's
        unique version key keeps the two from both recording the same version."""
        with self._guard:
            slot = self._slots.get(aggregate_id)
            if slot is None:
                slot = self._slots[aggregate_id] = Slot()
                while len(self._slots) > self.size:
                    self._slots.popitem(last=False)
            else:
                self._slots.move_to_end(aggregate_id)
        with slot.lock:
            yield slot

    def forget_all(self) -> None:
        """Drop every working copy (an erasure made by another process was seen)."""
        with self._guard:
            slots = list(self._slots.values())
        for slot in slots:
            with slot.lock:
                slot.aggregate = None

    def forget(self, aggregate_id: UUID) -> None:
        """Drop the aggregate's working copy: the next command loads it from the
        store (after an erasure, with its placeholders)."""
        with self.hold(aggregate_id) as slot:
            slot.aggregate = None
