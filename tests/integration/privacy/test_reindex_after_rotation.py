"""Subjects are still found after the master key is rotated: the search digests
are rebuilt from the events under the new key, and the old ones deleted
(ADR 0044, ADR 0056), on every store."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from cases.application.subject_reindex import reindex_subjects
from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.domain import case_commands as cmd
from cases.domain.metadata import Actor, Role
from cases.persistence.database_url import StoreKind, parse_database_url
from cases.persistence.subject_keys import MasterKey
from cases.settings import Settings
from tests.support.builders import caller, intake

ADMIN = caller(Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN))
EMAIL = "karin.lund@contoso.example"


def test_a_rotation_then_a_reindex_finds_every_subject_not_erased_and_drops_old_digests(
    sealed: Services, sealed_settings: Settings, clock: ManualClock
) -> None:
    kept = sealed.desk.receive_case(caller(), cmd.TakeIn(received_at=clock.now(), **intake()))
    erased = sealed.desk.receive_case(caller(), cmd.TakeIn(received_at=clock.now(), **intake()))
    principal = sealed.principals.create(ADMIN, name="Anna Svensson", role=Role.AUDITOR)
    sealed.privacy.erase(ADMIN, erased.aggregate_id, "Article 17 request 2026-114")
    assert {s.subject_id for s in sealed.privacy.find(email=EMAIL)} == {kept.aggregate_id}
    keys = sealed.log.subject_keys
    assert keys is not None

    keys.rewrap(MasterKey.generate())
    assert sealed.privacy.find(email=EMAIL) == []  # the old digests match no search

    done = reindex_subjects(sealed.log, batch=2)
    assert done.subjects == 2  # the kept case's contact and the principal
    assert [s.subject_id for s in sealed.privacy.find(email=EMAIL)] == [kept.aggregate_id]
    assert [s.subject_id for s in sealed.privacy.find(name="karin lund")] == [kept.aggregate_id]
    assert [s.subject_id for s in sealed.privacy.find(name="anna svensson")] == [
        principal.principal_id
    ]
    assert done.stale == done.digests  # each value had one digest under the old key
    assert len(keys.digests()) == done.digests
    again = reindex_subjects(sealed.log)
    assert (again.digests, again.stale) == (done.digests, 0)


def test_rotating_again_after_the_restart_rewraps_only_keys_made_in_between(
    sealed: Services, sealed_settings: Settings, clock: ManualClock
) -> None:
    """A process still on the old master key makes a subject key meanwhile; the
    second rotation, the old key still set, re-wraps that one alone; the new key
    then reads every case."""
    if parse_database_url(sealed_settings.effective_database_url).kind is StoreKind.MEMORY:
        pytest.skip("the in-memory store has no second process")
    first = sealed.desk.receive_case(caller(), cmd.TakeIn(received_at=clock.now(), **intake()))
    new = MasterKey.generate()

    def rotate() -> int:
        """`cases privacy rotate-master-key`: its own process, the old key set."""
        rotator = bootstrap(sealed_settings, clock)
        try:
            assert rotator.log.subject_keys is not None
            return rotator.log.subject_keys.rewrap(new)
        finally:
            rotator.close()

    assert rotate() == 1
    straggler = sealed.desk.receive_case(  # `sealed` still runs on the old master key
        caller(), cmd.TakeIn(received_at=clock.now(), **intake())
    )
    assert rotate() == 1  # after the restart: the straggler alone
    restarted = bootstrap(
        sealed_settings.model_copy(update={"master_key": SecretStr(new.as_text())}), clock
    )
    try:
        for case in (first, straggler):
            assert restarted.desk.case(case.aggregate_id).description == intake()["description"]
    finally:
        restarted.close()
