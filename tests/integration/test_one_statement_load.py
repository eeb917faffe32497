"""A load reads the latest snapshot and the events after it at once (one
statement on PostgreSQL, one transaction on SQLite: `cases.persistence.loading`),
and gives the state a full replay gives."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from cases.bootstrap import Services
from cases.domain import case_commands as cmd
from cases.domain.support_case import SupportCase
from cases.persistence.event_log import replay
from tests.support.builders import T0, caller, intake, terms

INTERVAL = 5  # tests/conftest.py's settings


def _state(aggregate: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def _replayed(services: Services, case_id: UUID, version: int) -> SupportCase:
    case = replay(None, services.log.events.get(case_id, lte=version))
    assert isinstance(case, SupportCase)
    return case


def _case_with_notes(services: Services, notes: int) -> UUID:
    desk = services.desk
    desk.publish_terms(caller(), terms(), effective_from=T0)
    case_id = desk.receive_case(caller(), cmd.TakeIn(received_at=T0, **intake())).aggregate_id
    for n in range(notes):
        desk.handle(caller(), case_id, cmd.AddNote(f"note {n}"))
    return case_id


def test_the_store_reads_a_load_at_once(services: Services, database_url: str) -> None:
    recorder = services.log.recorder
    if database_url.startswith("memory"):
        assert not hasattr(recorder, "select_latest")
        return
    case_id = _case_with_notes(services, 2 * INTERVAL + 2)  # versions 1-3, then the notes
    version = services.runner.load(SupportCase, case_id).version
    snapshots = services.log.snapshots
    assert snapshots is not None
    snapshot, events = recorder.select_latest(case_id, snapshots.recorder)  # type: ignore[attr-defined]
    assert snapshot is not None
    latest = max(s.originator_version for s in snapshots.get(case_id))
    assert snapshot.originator_version == latest
    assert [e.originator_version for e in events] == list(range(latest + 1, version + 1))
    assert all(e.originator_id == case_id for e in [snapshot, *events])

    snapshot, events = recorder.select_latest(case_id, snapshots.recorder, INTERVAL + 1)  # type: ignore[attr-defined]
    assert snapshot is not None
    assert snapshot.originator_version == INTERVAL
    assert [e.originator_version for e in events] == [INTERVAL + 1]

    snapshot, events = recorder.select_latest(case_id, snapshots.recorder, INTERVAL - 1)  # type: ignore[attr-defined]
    assert snapshot is None
    assert [e.originator_version for e in events] == list(range(1, INTERVAL))

    assert recorder.select_latest(uuid4(), snapshots.recorder) == (None, [])  # type: ignore[attr-defined]


@pytest.mark.parametrize("notes", [0, INTERVAL - 3, 2 * INTERVAL - 3, 2 * INTERVAL + 1])
def test_a_load_is_the_state_a_full_replay_gives(services: Services, notes: int) -> None:
    case_id = _case_with_notes(services, notes)
    loaded = services.runner.load(SupportCase, case_id)
    assert loaded.note_count == notes
    assert _state(loaded) == _state(_replayed(services, case_id, loaded.version))
    for version in range(1, loaded.version + 1):
        earlier = services.runner.load(SupportCase, case_id, version=version)
        assert earlier.version == version
        assert _state(earlier) == _state(_replayed(services, case_id, version))
