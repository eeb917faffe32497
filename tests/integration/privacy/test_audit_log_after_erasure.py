"""`cases audit verify` still passes after an erasure (issue 15's last test, ADR
0044): the tree hashes the stored bytes, which erasure leaves as they are; on
SQLite and PostgreSQL (the in-memory store keeps no tree)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.db.database import open_projection_db
from cases.domain import case_commands as cmd
from cases.domain.metadata import Actor, Role
from cases.followers.tree_builder import checkpoint_now
from cases.persistence.database_url import StoreKind, parse_database_url
from cases.persistence.personal_data import ERASED
from cases.settings import Settings
from tests.integration.test_support_desk import walk_a_case_through_escalation
from tests.support.audit_log import verified_events, with_audit_key
from tests.support.builders import caller

ADMIN = caller(Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN))


def test_the_log_verifies_against_checkpoints_before_and_after_an_erasure(
    sealed: Services, sealed_settings: Settings, clock: ManualClock, tmp_path: Path
) -> None:
    if parse_database_url(sealed_settings.effective_database_url).kind is StoreKind.MEMORY:
        pytest.skip("the in-memory store keeps no tree")
    settings = with_audit_key(sealed_settings, tmp_path)
    walk = walk_a_case_through_escalation(sealed, clock)
    db = open_projection_db(settings)
    try:
        before = checkpoint_now(settings, sealed.log, db)
        sealed.privacy.erase(ADMIN, walk.case.id, "Article 17 request 2026-114")
        sealed.desk.handle(caller(), walk.case.id, cmd.AddNote("after the erasure"))
        after = checkpoint_now(settings, sealed.log, db)
        assert after.size > before.size
        assert sealed.desk.case(walk.case.id).description == ERASED
        assert verified_events(settings, sealed.log, db, before.note) == after.size
    finally:
        db.close()
