"""Events decoded once for every follower of a process (issue 20, ADR 0071 amendment).

The projection runner process runs a follower per read model on threads of its
own (the case queue, the timeline, the escalation register, service levels, the
outbox...). Each reads the notifications of its topics after its position, and
most of them read the same new case events within a poll interval of each
other: decoding each event (orjson, then the walk back to value objects, then
the mapper) once per follower was a fifth of the runner's CPU under the API's
commands. The followers of one event log now share the events decoded last,
by notification id: a follower decodes only what none of the others has.

Events are immutable values (frozen dataclasses), so one object serves every
follower. The table holds the `size` most recently decoded; a follower far
behind the others (a rebuild, a catch-up after an outage) decodes its own. An
erasure seen by the process's subject keys empties it, as it empties their own
keys and opened texts: what is read afterwards shows the placeholders.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from itertools import islice
from typing import Any

from eventsourcing.persistence import Mapper, Notification

DEFAULT_SIZE = 5_000


class DecodedEvents:
    """The last `size` events decoded, by notification id (thread-safe)."""

    def __init__(self, mapper: Mapper[Any], size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError("decoded events need room for at least one event")
        self.mapper = mapper
        self.size = size
        self._events: dict[int, Any] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._events)

    def clear(self) -> None:
        """Forget every event kept (an erasure was seen: events read since show its
        placeholders, and so must those read from here)."""
        with self._lock:
            self._events.clear()

    def decode(self, notifications: Sequence[Notification]) -> list[Any]:
        """The notifications' domain events, in order: those decoded before taken
        from the table, the others decoded now and kept."""
        known = self._events
        events = [known.get(n.id) for n in notifications]
        fresh: dict[int, Any] = {}
        for i, notification in enumerate(notifications):
            if events[i] is None:
                events[i] = fresh[notification.id] = self.mapper.to_domain_event(notification)
        if fresh:
            with self._lock:
                known.update(fresh)
                excess = len(known) - self.size
                if excess > 0:  # the first kept go first (ids arrive in order)
                    for stale in list(islice(known, excess)):
                        del known[stale]
        return events


_SHARED: weakref.WeakKeyDictionary[Any, DecodedEvents] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def decoded_events(log: Any) -> DecodedEvents:
    """The table shared by every follower of `log` (an `EventLog`) in this process."""
    with _SHARED_LOCK:
        table = _SHARED.get(log)
        if table is None:
            table = _SHARED[log] = DecodedEvents(log.mapper)
            if getattr(log, "subject_keys", None) is not None:
                log.subject_keys.erasure_listeners.append(table.clear)
        return table
