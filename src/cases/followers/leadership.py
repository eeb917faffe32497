"""One runner per projection: the others wait.

On PostgreSQL a session-level advisory lock keyed on the projection's name; it is
released by the server if the holder's connection dies. On SQLite an exclusive
`flock` on a lock file beside the database; the OS releases it if the holder dies.
So whether a projection's leadership is held says whether a runner keeps it up to
date (`runner_running`, read by `/ready`, ADR 0034).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

from cases.db.database import ProjectionDatabase
from cases.db.statement import sql


def _advisory_key(name: str) -> int:
    digest = hashlib.blake2b(f"cases-projection:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock_path(db: ProjectionDatabase, name: str) -> Path:
    return Path(f"{db.url.path}.{name}.lock")


def runner_running(db: ProjectionDatabase, name: str) -> bool:
    """Whether some runner, in any process, holds the projection's leadership now.

    On PostgreSQL the advisory lock is looked up in `pg_locks` (a bigint key is
    held as classid = its high 32 bits, objid = its low 32 bits, objsubid = 1).
    On SQLite the lock file is probed with a shared lock, released at once: it
    is refused only while a runner holds its exclusive one."""
    if db.is_postgres:
        key = _advisory_key(name) & 0xFFFF_FFFF_FFFF_FFFF
        row = db.fetchone(
            sql(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND objsubid = 1 AND classid::bigint = {} AND objid::bigint = {})"
            ),
            (key >> 32, key & 0xFFFF_FFFF),
        )
        return bool(row and row[0])
    try:
        fd = os.open(_lock_path(db, name), os.O_RDONLY)
    except FileNotFoundError:
        return False  # no runner ever led it here
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


class Leadership:
    """Try to become the one runner of a projection."""

    def __init__(self, db: ProjectionDatabase, name: str) -> None:
        self.db = db
        self.name = name
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self.db.is_postgres:
            row = self.db.fetchone(
                sql("SELECT pg_try_advisory_lock({})"), (_advisory_key(self.name),)
            )
            return bool(row and row[0])
        if self._fd is not None:
            return True
        fd = os.open(_lock_path(self.db, self.name), os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self.db.is_postgres:
            self.db.execute(sql("SELECT pg_advisory_unlock({})"), (_advisory_key(self.name),))
        elif self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
