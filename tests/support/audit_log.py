"""Verifying the audit log of a test's store against a checkpoint kept earlier."""

from __future__ import annotations

from pathlib import Path

from cases.audit_log.keys import verifier_from, write_key
from cases.audit_log.tree_store import TreeStore
from cases.audit_log.verify import LogVerifier
from cases.db.database import ProjectionDatabase
from cases.persistence.event_log import EventLog
from cases.settings import Settings


def verified_events(settings: Settings, log: EventLog, db: ProjectionDatabase, note: str) -> int:
    """How many events the log holds, once it verified against the checkpoint `note`
    (a finding fails the test, naming it)."""
    result = LogVerifier(
        log, TreeStore(db), verifier_from(settings), settings.audit_log_origin
    ).verify([("the checkpoint kept before", note)])
    assert result.finding is None, result.finding
    return result.events


def with_audit_key(settings: Settings, folder: Path) -> Settings:
    """`settings` with a checkpoint signing key of their origin, written in `folder`."""
    key = folder / "audit-log.key"
    write_key(key, settings.audit_log_origin)
    return settings.model_copy(update={"audit_log_key_file": key})
