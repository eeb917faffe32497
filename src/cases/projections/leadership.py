"""One runner per projection: the others wait.

On PostgreSQL a session-level advisory lock keyed on the projection's name; it is
released by the server if the holder's connection dies. On SQLite an exclusive
`flock` on a lock file beside the database; the OS releases it if the holder dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

from cases.projections.db import ProjectionDatabase


def _advisory_key(name: str) -> int:
    digest = hashlib.blake2b(f"cases-projection:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Leadership:
    """Try to become the one runner of a projection."""

    def __init__(self, db: ProjectionDatabase, name: str) -> None:
        self.db = db
        self.name = name
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self.db.is_postgres:
            row = self.db.fetchone("SELECT pg_try_advisory_lock(?)", (_advisory_key(self.name),))
            return bool(row and row[0])
        if self._fd is not None:
            return True
        path = Path(f"{self.db.url.path}.{self.name}.lock")
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self.db.is_postgres:
            self.db.execute("SELECT pg_advisory_unlock(?)", (_advisory_key(self.name),))
        elif self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
