"""Snapshots are taken from the aggregate just saved, and equal a full replay."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Snapshot

from cases.bootstrap import Services
from cases.domain import case_commands as cmd
from cases.domain.support_case import SupportCase
from cases.persistence.event_log import replay
from tests.support.builders import T0, caller, intake, terms

INTERVAL = 5  # tests/conftest.py's settings


def _stored_snapshots(services: Services, case_id: UUID) -> list[Snapshot]:
    snapshots = services.log.snapshots
    assert snapshots is not None
    return list(snapshots.get(case_id))  # type: ignore[arg-type]


def _replayed(services: Services, case_id: UUID, version: int) -> SupportCase:
    """The case rebuilt from its events alone, up to `version` (no snapshot)."""
    events = services.log.events.get(case_id, lte=version)
    case = replay(None, events)
    assert isinstance(case, SupportCase)
    return case


def _state(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def test_each_snapshot_is_the_state_a_replay_of_its_events_gives(services: Services) -> None:
    desk = services.desk
    desk.publish_terms(caller(), terms(), effective_from=T0)
    case_id = desk.receive_case(caller(), cmd.TakeIn(received_at=T0, **intake())).aggregate_id
    for n in range(3 * INTERVAL):
        desk.handle(caller(), case_id, cmd.AddNote(f"note {n}"))

    snapshots = _stored_snapshots(services, case_id)
    versions = [s.originator_version for s in snapshots]
    assert versions == [INTERVAL, 2 * INTERVAL, 3 * INTERVAL]
    for snapshot in snapshots:
        from_snapshot = snapshot.mutate(None)
        assert _state(from_snapshot) == _state(
            _replayed(services, case_id, snapshot.originator_version)
        )
    loaded = services.runner.load(SupportCase, case_id)
    assert loaded.note_count == 3 * INTERVAL
    assert _state(loaded) == _state(_replayed(services, case_id, loaded.version))


def test_a_snapshot_is_taken_without_reloading_the_aggregate(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The library reloads the aggregate from the store to snapshot it (its
    `take_snapshot`); here the object just saved is used, so that path is never
    called (were it, calling None would fail the command)."""
    desk = services.desk
    desk.publish_terms(caller(), terms(), effective_from=T0)
    case_id = desk.receive_case(caller(), cmd.TakeIn(received_at=T0, **intake())).aggregate_id
    monkeypatch.setattr(services.log, "take_snapshot", None)
    for n in range(INTERVAL):
        desk.handle(caller(), case_id, cmd.AddNote(f"note {n}"))

    assert [s.originator_version for s in _stored_snapshots(services, case_id)] == [INTERVAL]


def test_a_snapshot_already_stored_at_that_version_is_kept(
    services: Services, database_url: str
) -> None:
    """Two processes may snapshot the same version: the second write is a no-op
    (PostgreSQL's snapshot recorder writes its own SQL, ADR 0028)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("the library's own snapshot recorders are used on this store")
    desk = services.desk
    desk.publish_terms(caller(), terms(), effective_from=T0)
    case_id = desk.receive_case(caller(), cmd.TakeIn(received_at=T0, **intake())).aggregate_id
    for n in range(INTERVAL):
        desk.handle(caller(), case_id, cmd.AddNote(f"note {n}"))
    [stored] = _stored_snapshots(services, case_id)
    snapshots = services.log.snapshots
    assert snapshots is not None

    snapshots.put([Snapshot.take(_replayed(services, case_id, stored.originator_version))])

    [kept] = _stored_snapshots(services, case_id)
    assert (kept.originator_version, kept.timestamp) == (
        stored.originator_version,
        stored.timestamp,
    )
