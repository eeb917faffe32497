"""Reading projection tables whole, for tests that compare them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Notification

from cases.db.database import ProjectionDatabase, Row
from cases.db.statement import sql
from cases.followers.catalog import PROJECTIONS
from cases.followers.tracking import Tracking
from cases.persistence.event_log import EventLog
from cases.projections.projection import Projection


def columns(db: ProjectionDatabase, table: str) -> list[str]:
    if db.is_postgres:
        rows = db.fetchall(
            sql(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = {} "
                "ORDER BY ordinal_position"
            ),
            (table,),
        )
    else:
        rows = [(r[1],) for r in db.fetchall(f"PRAGMA table_info({table})")]
    return [str(r[0]) for r in rows]


def table_rows(db: ProjectionDatabase, table: str) -> list[Row]:
    """Every row of `table`, ordered by every column."""
    names = ", ".join(columns(db, table))
    return db.fetchall(f"SELECT {names} FROM {table} ORDER BY {names}")


def projection_rows(db: ProjectionDatabase, projection: Projection) -> dict[str, list[Row]]:
    return {table: table_rows(db, table) for table in projection.tables}


def emptied(db: ProjectionDatabase, projection: Projection, *also: str) -> None:
    """`projection`'s tables (and the tables `also`) emptied and its tracking
    position forgotten, in one transaction: the next runner starts from 0."""
    with db.transaction():
        for table in (*projection.tables, *also):
            db.execute(f"DELETE FROM {table}")
        Tracking(db).forget(projection.name)


def all_projection_rows(db: ProjectionDatabase) -> dict[str, list[Row]]:
    rows: dict[str, list[Row]] = {}
    for projection in PROJECTIONS.values():
        rows.update(projection_rows(db, projection()))
    return rows


def indexes(db: ProjectionDatabase, table: str) -> list[tuple[str, str]]:
    """(name, definition) of each index on `table`."""
    if db.is_postgres:
        rows = db.fetchall(
            sql(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = current_schema() AND tablename = {} ORDER BY indexname"
            ),
            (table,),
        )
    else:
        rows = db.fetchall(
            sql(
                "SELECT name, coalesce(sql, '') FROM sqlite_master "
                "WHERE type = 'index' AND tbl_name = {} ORDER BY name"
            ),
            (table,),
        )
    return [(str(name), str(definition)) for name, definition in rows]


def table_names(db: ProjectionDatabase) -> set[str]:
    if db.is_postgres:
        rows = db.fetchall(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    else:
        rows = db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {str(r[0]) for r in rows}


def _notifications(log: EventLog, projection: Projection) -> Sequence[Notification]:
    head = log.head()
    return log.recorder.select_notifications(
        start=1, limit=head + 1, stop=head, topics=projection.topics()
    )


def positions_of(log: EventLog, projection: Projection) -> list[int]:
    """The log positions of every event `projection` handles."""
    return [n.id for n in _notifications(log, projection)]


def events_of(log: EventLog, projection: Projection) -> list[Any]:
    """Every event `projection` handles, in log order."""
    return [log.mapper.to_domain_event(n) for n in _notifications(log, projection)]


def applied_positions(db: ProjectionDatabase) -> list[tuple[int, str]]:
    """(position, runner) from `applied_events`, in position order."""
    rows = db.fetchall("SELECT position, runner FROM applied_events ORDER BY position, runner")
    return [(int(position), str(runner)) for position, runner in rows]
