"""`cases privacy reseal` (ADR 0066): snapshots holding personal data recorded
before sealing are deleted, the events keep it (their bytes are the audit log's
leaves: the log still verifies against a checkpoint issued before), the subject
is reported, and its erasure counts what stays readable; on SQLite and
PostgreSQL (the in-memory store cannot be reopened with a master key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cases.application.legacy_reseal import reseal_legacy
from cases.bootstrap import bootstrap
from cases.clock import ManualClock
from cases.db.database import open_projection_db
from cases.domain import case_commands as cmd
from cases.domain.metadata import Actor, Role
from cases.followers.tree_builder import checkpoint_now
from cases.persistence.database_url import StoreKind, parse_database_url
from cases.persistence.legacy_plaintext import plain_snapshots
from cases.persistence.personal_data import ERASED
from cases.settings import Settings
from tests.support.audit_log import verified_events, with_audit_key
from tests.support.builders import T0, caller, intake, terms

ADMIN = caller(Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN))


def test_reseal_deletes_plain_snapshots_keeps_the_events_and_the_log_verifies(
    sealed_settings: Settings, clock: ManualClock, tmp_path: Path
) -> None:
    if parse_database_url(sealed_settings.effective_database_url).kind is StoreKind.MEMORY:
        pytest.skip("the in-memory store cannot be reopened with a master key")
    settings = with_audit_key(sealed_settings, tmp_path)
    plain = settings.model_copy(update={"master_key": None})
    before = bootstrap(plain, clock)
    try:
        before.desk.publish_terms(caller(), terms(), effective_from=T0)
        old = before.desk.receive_case(caller(), cmd.TakeIn(received_at=clock.now(), **intake()))
        for n in range(6):  # past the snapshot interval (5): a snapshot in plain text
            before.desk.handle(caller(), old.aggregate_id, cmd.AddNote(f"said before {n}"))
    finally:
        before.close()

    services = bootstrap(settings, clock)
    db = open_projection_db(settings)
    try:
        checkpoint = checkpoint_now(settings, services.log, db)
        assert plain_snapshots(services.log, old.aggregate_id)
        scanned: list[tuple[int, int]] = []
        done = reseal_legacy(services.log, db, batch=4, scanned=lambda *p: scanned.append(p))
        assert done.snapshots_deleted >= 1
        assert [s.subject_id for s in done.unerasable] == [old.aggregate_id]
        assert done.plain_events == 7  # the intake and six notes: their bytes stay
        assert scanned[-1][0] == scanned[-1][1]  # the progress reached the head
        assert plain_snapshots(services.log, old.aggregate_id) == []
        assert reseal_legacy(services.log, db).snapshots_deleted == 0  # safe to re-run

        services.runner.forget(old.aggregate_id)
        case = services.desk.case(old.aggregate_id)
        assert (case.description, case.note_count) == (intake()["description"], 6)

        services.desk.handle(caller(), old.aggregate_id, cmd.AddNote("said after the key"))
        erased = services.privacy.erase(ADMIN, old.aggregate_id, "Article 17 request 12")
        assert erased.plain_events == 7  # reported, not claimed erased
        first = services.log.recorder.select_events(old.aggregate_id, limit=1)[0]
        assert intake()["description"].encode() in first.state  # still stored as it was

        after = checkpoint_now(settings, services.log, db)
        assert verified_events(settings, services.log, db, checkpoint.note) == after.size
    finally:
        db.close()
        services.close()


def test_an_erasure_of_a_subject_recorded_after_sealing_counts_no_plain_event(
    sealed_settings: Settings, clock: ManualClock
) -> None:
    services = bootstrap(sealed_settings, clock)
    try:
        services.desk.publish_terms(caller(), terms(), effective_from=T0)
        case = services.desk.receive_case(caller(), cmd.TakeIn(received_at=clock.now(), **intake()))
        erased = services.privacy.erase(ADMIN, case.aggregate_id, "Article 17 request 13")
        assert erased.plain_events == 0
        assert services.desk.case(case.aggregate_id).description == ERASED
    finally:
        services.close()
