"""The events table edited behind the event store's back, as a tamperer would.

SQLite keeps an event's position as the rowid of `stored_events`; PostgreSQL
as the `notification_id` column of `cases_events`. Positions are moved through a far-away range so a
move never collides with a row still in place.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import psycopg

from cases.persistence.database_url import StoreKind, parse_database_url

FAR = 1_000_000_000  # positions are moved through this offset


class RawEvents:
    """Direct SQL on the events table of the store `url` names."""

    def __init__(self, url: str) -> None:
        parsed = parse_database_url(url)
        self.postgres = parsed.kind is StoreKind.POSTGRES
        self.position = "notification_id" if self.postgres else "rowid"
        self.table = "cases_events" if self.postgres else "stored_events"
        self._pg: psycopg.Connection[Any] | None = None
        self._lite: sqlite3.Connection | None = None
        if self.postgres:
            self._pg = psycopg.connect(url, autocommit=True)
        else:
            assert parsed.path is not None
            self._lite = sqlite3.connect(parsed.path, isolation_level=None)

    def close(self) -> None:
        for connection in (self._pg, self._lite):
            if connection is not None:
                connection.close()

    def execute(self, statement: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        statement = statement.format(table=self.table, position=self.position)
        if self._pg is not None:
            cursor = self._pg.execute(statement.replace("?", "%s"), params)
            return list(cursor.fetchall()) if cursor.description else []
        assert self._lite is not None
        return list(self._lite.execute(statement, params).fetchall())

    def row(self, position: int) -> tuple[Any, int, str, bytes]:
        found = self.execute(
            "SELECT originator_id, originator_version, topic, state FROM {table} "
            "WHERE {position} = ?",
            (position,),
        )
        originator, version, topic, state = found[0]
        return originator, int(version), str(topic), bytes(state)

    def positions(self) -> list[int]:
        return [int(r[0]) for r in self.execute("SELECT {position} FROM {table} ORDER BY 1")]

    def change_state(self, position: int, change: Callable[[bytes], bytes]) -> None:
        state = change(self.row(position)[3])
        self.execute("UPDATE {table} SET state = ? WHERE {position} = ?", (state, position))

    def set_topic(self, position: int, topic: str) -> None:
        self.execute("UPDATE {table} SET topic = ? WHERE {position} = ?", (topic, position))

    def set_version(self, position: int, version: int) -> None:
        self.execute(
            "UPDATE {table} SET originator_version = ? WHERE {position} = ?", (version, position)
        )

    def delete(self, position: int) -> None:
        self.execute("DELETE FROM {table} WHERE {position} = ?", (position,))

    def delete_from(self, position: int) -> None:
        self.execute("DELETE FROM {table} WHERE {position} >= ?", (position,))

    def move(self, old: int, new: int) -> None:
        self.execute("UPDATE {table} SET {position} = ? WHERE {position} = ?", (new, old))

    def swap(self, first: int, second: int) -> None:
        self.move(first, FAR)
        self.move(second, first)
        self.move(FAR, second)

    def insert_before(
        self, position: int, originator: Any, version: int, topic: str, state: bytes
    ) -> None:
        """A forged row at `position`, every row from there on moved one later."""
        self.execute(
            "UPDATE {table} SET {position} = {position} + ? WHERE {position} >= ?", (FAR, position)
        )
        self.execute(
            "UPDATE {table} SET {position} = {position} - ? WHERE {position} >= ?",
            (FAR - 1, FAR + position),
        )
        self.execute(
            "INSERT INTO {table} ({position}, originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?, ?)",
            (position, originator, version, topic, state),
        )
