"""A store that cannot be opened (or migrated), turned into one line and exit 2."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from yoyo.exceptions import LockTimeout

from cases.cli.services import fail
from cases.db.schema import SchemaBehindError
from cases.persistence.database_url import SETTING, DatabaseUrl
from cases.persistence.store import StoreUnavailableError

STORE_ERRORS = (psycopg.Error, sqlite3.Error, OSError, LockTimeout)
"""What the store itself raises when it cannot be reached, read or locked."""


def first_line(error: BaseException) -> str:
    """The error's first line that says something (its type's name if none does)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


@contextmanager
def store_or_exit(url: DatabaseUrl, doing: str = "open") -> Iterator[None]:
    """Exit with 2 and one line on stderr when what runs inside cannot `doing` the
    store at `url`: its schema behind the code, the store unavailable, or an error
    of the store's own."""
    try:
        yield
    except (SchemaBehindError, StoreUnavailableError) as e:
        fail(str(e), 2)
    except STORE_ERRORS as e:
        fail(f"{SETTING}: cannot {doing} {url.describe()}: {first_line(e)}", 2)
