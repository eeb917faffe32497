"""A small pool of read-model connections for requests."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from cases.db.database import CONNECTION_ERRORS, ProjectionDatabase
from cases.persistence.waits import timed_out


class ReadPool:
    """Hands each request its own connection; drops broken ones.

    A connection error drops the idle connections too: after a database restart
    every one of them is broken, and each would otherwise fail one request. A
    statement the database cancelled for waiting too long leaves its connection
    sound: it is kept."""

    def __init__(self, open_db: Callable[[], ProjectionDatabase], size: int = 8) -> None:
        self.open_db = open_db
        self._idle: queue.LifoQueue[ProjectionDatabase] = queue.LifoQueue(maxsize=size)

    def take(self) -> ProjectionDatabase | None:
        """An idle connection, or None (open one with `open_db`, in a thread)."""
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return None

    def give_back(self, db: ProjectionDatabase) -> None:
        try:
            self._idle.put_nowait(db)
        except queue.Full:
            with suppress(*CONNECTION_ERRORS):
                db.close()

    def discard(self, db: ProjectionDatabase) -> None:
        """Close a connection that failed, and every idle one."""
        with suppress(*CONNECTION_ERRORS):
            db.close()
        self.close()

    @contextmanager
    def connection(self) -> Iterator[ProjectionDatabase]:
        with self.lent(self.take() or self.open_db(), keep_timed_out=True) as db:
            yield db

    @contextmanager
    def lent(
        self, db: ProjectionDatabase, keep_timed_out: bool = False
    ) -> Iterator[ProjectionDatabase]:
        """Yields `db`, then gives it back, or discards it (with the idle ones) if
        the database broke it; a cancelled statement's connection is kept only
        with `keep_timed_out`."""
        try:
            yield db
        except CONNECTION_ERRORS as e:
            if keep_timed_out and timed_out(e):
                self.give_back(db)
            else:
                self.discard(db)
            raise
        except BaseException:
            self.give_back(db)
            raise
        self.give_back(db)

    def close(self) -> None:
        while True:
            db = self.take()
            if db is None:
                return
            with suppress(*CONNECTION_ERRORS):
                db.close()
