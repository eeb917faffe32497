"""The verifier's bulk read of the stored rows is the notification log, row for row."""

from __future__ import annotations

from uuid import uuid4

from eventsourcing.persistence import StoredEvent

from cases.persistence.event_rows import row_batches, select_rows
from cases.persistence.store import open_event_log
from cases.settings import Settings
from tests.integration.audit_log.conftest import Copy


def _rows_of_notifications(copy: Copy, start: int, limit: int) -> list[tuple[object, ...]]:
    found = copy.log.recorder.select_notifications(start=start, limit=limit)
    return [(n.id, n.originator_id, n.originator_version, n.topic, bytes(n.state)) for n in found]


def test_select_rows_gives_the_stored_columns_of_each_notification(copy: Copy) -> None:
    for start, limit in ((1, 50), (4_990, 40), (10_000, 100)):
        rows = select_rows(copy.log, start, limit)
        assert rows == _rows_of_notifications(copy, start, limit)
        assert all(isinstance(row[4], bytes) for row in rows)
    assert select_rows(copy.log, 10**9, 10) == []


def test_row_batches_reach_every_row_once_in_order(copy: Copy) -> None:
    positions = [row[0] for batch in row_batches(copy.log, 997) for row in batch]
    assert positions == sorted(set(positions))
    assert positions[-1] == copy.log.recorder.max_notification_id()
    assert len(positions) == len(_rows_of_notifications(copy, 1, 10**6))
    tail = [row[0] for batch in row_batches(copy.log, 500, start=9_990) for row in batch]
    assert tail == [p for p in positions if p >= 9_990]


def _up_to(rows: list[tuple[object, ...]], stop: int) -> list[tuple[object, ...]]:
    return [row for row in rows if int(str(row[0])) <= stop]


def test_a_range_of_rows_stops_at_its_last_position(copy: Copy) -> None:
    """A verify worker's range: from one position to another, both included."""
    assert select_rows(copy.log, 100, 50, stop=119) == _up_to(
        _rows_of_notifications(copy, 100, 50), 119
    )
    batches = row_batches(copy.log, 7, start=3_000, stop=3_049)
    ranged = [row for batch in batches for row in batch]
    assert ranged == _up_to(_rows_of_notifications(copy, 3_000, 50), 3_049)
    assert len(ranged) > 7
    assert select_rows(copy.log, 100, 50, stop=99) == []


def test_the_in_memory_store_gives_the_same_rows() -> None:
    log = open_event_log(Settings(database_url="memory://"))
    try:
        aggregate = uuid4()
        log.recorder.insert_events([StoredEvent(aggregate, v, "a.b:C", b"{}") for v in (1, 2, 3)])
        assert select_rows(log, 2, 5) == [
            (2, aggregate, 2, "a.b:C", b"{}"),
            (3, aggregate, 3, "a.b:C", b"{}"),
        ]
        assert select_rows(log, 1, 5, stop=1) == [(1, aggregate, 1, "a.b:C", b"{}")]
    finally:
        log.close()
