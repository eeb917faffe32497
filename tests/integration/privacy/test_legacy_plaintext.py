"""Personal data recorded before a master key was set (ADR 0056): read as it is,
found by `legacy_subjects` from the stored rows, and refused by name on erasure;
on SQLite and PostgreSQL (the in-memory store cannot be reopened with a key)."""

from __future__ import annotations

from uuid import UUID

import pytest

from cases.bootstrap import bootstrap
from cases.clock import ManualClock
from cases.domain import case_commands as cmd
from cases.domain.erasure import SubjectKind
from cases.domain.errors import RecordedBeforeSealingError, UnknownSubjectError
from cases.domain.metadata import Actor, Role
from cases.domain.support_case import SupportCase
from cases.persistence.database_url import StoreKind, parse_database_url
from cases.persistence.legacy_plaintext import legacy_subjects
from cases.settings import Settings
from tests.support.builders import T0, caller, intake, terms

ADMIN = caller(Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN))


def test_plain_personal_fields_of_old_events_are_read_reported_and_not_erasable(
    sealed_settings: Settings, clock: ManualClock
) -> None:
    if parse_database_url(sealed_settings.effective_database_url).kind is StoreKind.MEMORY:
        pytest.skip("the in-memory store cannot be reopened with a master key")
    plain = sealed_settings.model_copy(update={"master_key": None})
    before = bootstrap(plain, clock)
    try:
        before.desk.publish_terms(caller(), terms(), effective_from=T0)
        old = before.desk.receive_case(caller(), cmd.TakeIn(received_at=clock.now(), **intake()))
        old_principal = before.principals.create(ADMIN, name="Bo Ek", role=Role.AUDITOR)
        before.desk.handle(caller(), old.aggregate_id, cmd.AddNote("said before the key"))
    finally:
        before.close()

    services = bootstrap(sealed_settings, clock)
    try:
        new = services.desk.receive_case(caller(), cmd.TakeIn(received_at=clock.now(), **intake()))
        services.desk.handle(caller(), old.aggregate_id, cmd.AddNote("said after the key"))
        case = services.runner.load(SupportCase, old.aggregate_id)
        assert case.contact.email == intake()["contact"].email  # read as it is

        found = {s.subject_id: s for s in legacy_subjects(services.log, batch=3)}
        assert set(found) == {old.aggregate_id, old_principal.principal_id}
        legacy_case = found[old.aggregate_id]
        assert legacy_case.kind is SubjectKind.CONTACT
        assert legacy_case.events == 2  # received and the first note; the later one is sealed
        assert {"title", "description", "text", "contact.email", "contact.name"} <= (
            legacy_case.fields
        )
        assert found[old_principal.principal_id].fields == {"name"}
        assert new.aggregate_id not in found

        with pytest.raises(RecordedBeforeSealingError, match="cases privacy legacy"):
            services.privacy.erase(ADMIN, old_principal.principal_id, "Article 17 request 9")
        with pytest.raises(UnknownSubjectError):
            services.privacy.erase(ADMIN, T0_ID, "Article 17 request 9")
    finally:
        services.close()


T0_ID = UUID(int=7)
