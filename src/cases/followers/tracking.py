"""The tracking table: how far along the event log each projection has applied."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cases.db.database import ProjectionDatabase
from cases.db.statement import sql

_POSITION = sql("SELECT position FROM projection_tracking WHERE projection = {}")


@dataclass(frozen=True, slots=True)
class TrackingRow:
    projection: str
    position: int


class Tracking:
    """Reads and moves tracking positions, always inside the caller's transaction."""

    def __init__(self, db: ProjectionDatabase) -> None:
        self.db = db

    def ensure(self, name: str) -> None:
        self.db.execute(
            sql(
                "INSERT INTO projection_tracking (projection, position) VALUES ({}, 0) "
                "ON CONFLICT (projection) DO NOTHING"
            ),
            (name,),
        )

    def position(self, name: str) -> int:
        row = self.db.fetchone(_POSITION, (name,))
        return int(row[0]) if row else 0

    def lock(self, name: str) -> int:
        """Read the position and hold the row until commit (PostgreSQL), so a
        rebuild's swap and a runner's batch never interleave."""
        statement = _POSITION + sql(" FOR UPDATE") if self.db.is_postgres else _POSITION
        row = self.db.fetchone(statement, (name,))
        if row is None:
            raise LookupError(f"projection {name!r} has no tracking row")
        return int(row[0])

    def move(self, name: str, position: int, now: datetime) -> None:
        self.db.execute(
            sql(
                "UPDATE projection_tracking SET position = {}, updated_at = {} "
                "WHERE projection = {}"
            ),
            (position, now, name),
        )

    def forget(self, name: str) -> None:
        self.db.execute(sql("DELETE FROM projection_tracking WHERE projection = {}"), (name,))

    def all(self) -> list[TrackingRow]:
        rows = self.db.fetchall(
            "SELECT projection, position FROM projection_tracking ORDER BY projection"
        )
        return [TrackingRow(str(r[0]), int(r[1])) for r in rows]
