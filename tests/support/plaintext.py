"""Look for personal values in everything a store holds (issue 15's scan)."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

from cases.persistence.database_url import StoreKind, parse_database_url
from cases.persistence.event_log import EventLog


def _text(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _sql_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    parsed = parse_database_url(url)
    if parsed.kind is StoreKind.SQLITE:
        assert parsed.path is not None
        with sqlite3.connect(parsed.path) as conn:
            names = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            return {n: conn.execute(f'SELECT * FROM "{n}"').fetchall() for n in names}
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as pg:
        names = [
            r[0]
            for r in pg.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            ).fetchall()
        ]
        return {n: pg.execute(f'SELECT * FROM "{n}"').fetchall() for n in names}


def _memory_rows(log: EventLog) -> dict[str, list[tuple[Any, ...]]]:
    events = log.recorder.select_notifications(start=1, limit=1_000_000)
    rows = {"events": [(e.topic, e.state) for e in events]}
    if log.snapshots is not None:
        ids = {e.originator_id for e in events}
        rows["snapshots"] = [
            (s.topic, s.state) for i in ids for s in log.snapshots.recorder.select_events(i)
        ]
    return rows


def tables_holding(url: str, log: EventLog, values: list[str]) -> dict[str, list[str]]:
    """Which of `values` each table (or the memory store's events and snapshots) holds."""
    rows = _memory_rows(log) if url.startswith("memory") else _sql_rows(url)
    found: dict[str, list[str]] = {}
    for table, content in rows.items():
        text = "\n".join(_text(v) for row in content for v in row)
        hits = [v for v in values if v in text]
        if hits:
            found[table] = hits
    return found
