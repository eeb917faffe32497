"""Re-seal, store-wide, what personal data recorded before sealing left outside
the log (ADR 0066).

The events recorded before a master key was set keep their plain text: their
stored bytes are the audit log's leaves (ADR 0042-0043) and never change.
Snapshots are not leaves: a copy of an aggregate's state kept to load it
faster, which the log can always give again. A snapshot of a subject's
aggregate holding plain text is deleted; the aggregate then loads from an
earlier sealed snapshot or from its events, and the next snapshot taken (at the
snapshot interval, through the sealing mapper) is sealed. No key is made here:
a subject recorded before sealing stays one with no key until a command of its
own stores something sealed. What is left in plain text — the events — is
counted per subject and reported, so the operator knows who cannot be erased.
Safe to re-run: a second run finds no plain snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

from cases.db.database import ProjectionDatabase
from cases.db.statement import Identifier, Sql, sql
from cases.persistence.event_log import EventLog
from cases.persistence.legacy_plaintext import LegacySubject, legacy_subjects, plain_snapshots
from cases.progress import Progress


def _delete_snapshot(log: EventLog) -> Sql:
    """The statement deleting one snapshot, from the table the store keeps them in."""
    assert log.snapshots is not None  # noqa: S101 - asked only when there are snapshots
    name = str(getattr(log.snapshots.recorder, "events_table_name"))  # noqa: B009 - SQL recorders'
    table = Identifier(tuple(name.split(".")))
    return sql(
        "DELETE FROM {table} WHERE originator_id = {} AND originator_version = {}", table=table
    )


@dataclass(frozen=True, slots=True)
class Resealed:
    """What a re-seal did, and the subjects whose plain events stay."""

    snapshots_deleted: int
    unerasable: list[LegacySubject]

    @property
    def plain_events(self) -> int:
        return sum(subject.events for subject in self.unerasable)


def reseal_legacy(
    log: EventLog,
    db: ProjectionDatabase | None,
    *,
    batch: int = 1000,
    scanned: Progress | None = None,
    resealed: Progress | None = None,
) -> Resealed:
    """Delete every snapshot holding personal data in plain text, from `db` (the
    store's database; None for the in-memory store, which cannot hold any), and
    list the subjects whose events hold it. `scanned(position, head)` follows the
    scan of the log, `resealed(done, subjects)` the snapshots' subjects."""
    found = legacy_subjects(log, batch=batch, progress=scanned)
    deleted = 0
    for done, subject in enumerate(found, 1):
        versions = [] if db is None else plain_snapshots(log, subject.subject_id)
        if versions and db is not None:
            delete = _delete_snapshot(log)
            # As the library's recorders key rows: a uuid, or (SQLite) its hex.
            key = subject.subject_id if db.is_postgres else subject.subject_id.hex
            with db.transaction():
                for version in versions:
                    deleted += db.execute(delete, (key, version))
        if resealed is not None:
            resealed(done, len(found))
    return Resealed(deleted, found)
