"""The one event log every aggregate of `cases` is stored in.

All aggregates share one eventsourcing application (one table of events, one
notification log), so projections follow a single ordered stream. What it
changes in the library's `Application` sits in one module per concern (ADR
0037): `application_hooks.py` (configuration, transcoder, idempotency steps),
`snapshots.py` (snapshots from the objects in hand) and `saving.py` (collecting
a save's events without the library's Protocol checks).
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import ProgrammingError
from eventsourcing.utils import EnvType

from cases.persistence.application_hooks import ConfiguredBySettings
from cases.persistence.recorders import WritesSubjectRows
from cases.persistence.saving import SavesCollected
from cases.persistence.sealing import Sealer
from cases.persistence.snapshots import SnapshotsInHand, replay, snapshotting_env
from cases.persistence.subject_keys import SubjectKeys
from cases.persistence.topics import register_renamed_topics

__all__ = ["EventLog", "replay"]

register_renamed_topics()  # before anything is read back


class EventLog(SavesCollected, ConfiguredBySettings, SnapshotsInHand):
    """The `cases` event store: aggregates, snapshots and the notification log."""

    name = "cases"

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        snapshot_interval: int = 50,
        snapshotted: tuple[type[Any], ...] = (),
        subject_keys: SubjectKeys | None = None,
    ) -> None:
        self.configure_snapshots(snapshot_interval, snapshotted)
        self.subject_keys = subject_keys
        self.sealer = None if subject_keys is None else Sealer(subject_keys)
        super().__init__({**(env or {}), **snapshotting_env(snapshotted)})
        if subject_keys is not None and subject_keys.written_with_records:
            stores = [self.recorder, *([] if self.snapshots is None else [self.snapshots.recorder])]
            if not all(isinstance(r, WritesSubjectRows) for r in stores):
                raise ProgrammingError(
                    "subject keys written with the records need recorders that write them"
                )

    def head(self) -> int:
        """The position of the latest event in the notification log; 0 while it is empty."""
        return self.recorder.max_notification_id() or 0

    def close(self) -> None:
        super().close()
        if self.subject_keys is not None:
            self.subject_keys.close()
