"""A snapshot that cannot be stored does not undo an acknowledged command."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from cases.bootstrap import Services
from cases.domain import case_commands as cmd
from cases.domain.support_case import SupportCase
from tests.support.builders import T0, caller, intake, terms


def test_a_command_whose_snapshot_fails_is_still_recorded_and_acknowledged(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The events commit first; a failing snapshot store only costs later loads replay."""
    desk = services.desk
    desk.publish_terms(caller(), terms(), effective_from=T0)
    case_id = desk.receive_case(caller(), cmd.TakeIn(received_at=T0, **intake())).aggregate_id
    snapshots = services.log.snapshots
    assert snapshots is not None
    attempts: list[object] = []

    def broken(*args: Any, **kwargs: Any) -> None:
        attempts.append(args)
        raise OperationalError("the database went away after the commit")

    monkeypatch.setattr(snapshots, "put", broken)
    receipts = [desk.handle(caller(), case_id, cmd.AddNote(f"note {n}")) for n in range(6)]

    assert attempts, "the snapshot interval (5) was reached, so a snapshot was tried"
    case = services.runner.load(SupportCase, case_id)
    assert case.version == receipts[-1].version
    assert case.note_count == 6
