"""A small pool of read-model connections for request threads."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from cases.projections.db import CONNECTION_ERRORS, ProjectionDatabase


class ReadPool:
    """Hands each request thread its own connection; drops broken ones."""

    def __init__(self, open_db: Callable[[], ProjectionDatabase], size: int = 8) -> None:
        self.open_db = open_db
        self._idle: queue.LifoQueue[ProjectionDatabase] = queue.LifoQueue(maxsize=size)

    @contextmanager
    def connection(self) -> Iterator[ProjectionDatabase]:
        try:
            db = self._idle.get_nowait()
        except queue.Empty:
            db = self.open_db()
        try:
            yield db
        except CONNECTION_ERRORS:
            db.close()
            raise
        try:
            self._idle.put_nowait(db)
        except queue.Full:
            db.close()

    def close(self) -> None:
        while True:
            try:
                db = self._idle.get_nowait()
            except queue.Empty:
                return
            with suppress(*CONNECTION_ERRORS):
                db.close()
