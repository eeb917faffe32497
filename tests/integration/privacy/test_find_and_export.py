"""Finding a subject by e-mail or name, and exporting what is held about it
(issue 15 parts 4 and 5, ADR 0044), on every store."""

from __future__ import annotations

import json

from cases.api.schemas.privacy import SubjectExportOut
from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.domain import case_commands as cmd
from cases.domain.erasure import SubjectKind
from cases.domain.metadata import Actor, Role
from cases.persistence.personal_data import EVENTS, VALUE_OBJECTS
from cases.settings import Settings
from tests.integration.privacy.test_sealed_store import PERSONAL_TEXTS
from tests.integration.test_support_desk import walk_a_case_through_escalation
from tests.support.builders import caller, intake
from tests.support.plaintext import tables_holding

ADMIN = caller(Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN))


class TestFindingSubjects:
    def test_by_email_or_name_ignoring_case_and_spaces(
        self, sealed: Services, sealed_settings: Settings, clock: ManualClock
    ) -> None:
        walk = walk_a_case_through_escalation(sealed, clock)
        other = sealed.desk.receive_case(caller(), cmd.TakeIn(received_at=clock.now(), **intake()))
        found = sealed.privacy.find(email="KARIN.LUND@contoso.example ")
        assert {s.subject_id for s in found} == {walk.case.id, other.aggregate_id}
        assert {s.kind for s in found} == {SubjectKind.CONTACT}
        assert len(sealed.privacy.find(name="karin  lund")) == 2
        assert sealed.privacy.find(email="nobody@contoso.example") == []
        url = sealed_settings.effective_database_url
        assert tables_holding(url, sealed.log, ["karin.lund@contoso.example"]) == {}

    def test_an_erased_subject_is_no_longer_found(
        self, sealed: Services, clock: ManualClock
    ) -> None:
        walk = walk_a_case_through_escalation(sealed, clock)
        sealed.privacy.erase(ADMIN, walk.case.id, "Article 17 request 2026-114")
        assert sealed.privacy.find(email="karin.lund@contoso.example") == []

    def test_a_principal_by_name(self, sealed: Services) -> None:
        issued = sealed.principals.create(ADMIN, name="Anna Svensson", role=Role.AUDITOR)
        [found] = sealed.privacy.find(name="anna svensson")
        assert (found.subject_id, found.kind) == (issued.principal_id, SubjectKind.PRINCIPAL)


class TestExport:
    def test_holds_every_personal_field_opened_with_its_metadata(
        self, sealed: Services, clock: ManualClock
    ) -> None:
        walk = walk_a_case_through_escalation(sealed, clock)
        export = SubjectExportOut.of(sealed.privacy.export(walk.case.id))
        text = export.model_dump_json()
        assert [t for t in PERSONAL_TEXTS if t not in text] == []
        assert export.erased is False
        assert [e.version for e in export.events] == list(range(1, walk.case.version + 1))
        assert all(e.actor.principal_id == "agent-anna" for e in export.events)
        # Every personal field the inventory lists for these events is there by name.
        exported = json.loads(text)["events"]
        for event in exported:
            name = event["event_type"]
            for cls, decided in EVENTS.items():
                if cls.__qualname__.split(".")[-1] == name.split(".")[-1]:
                    assert decided.personal <= set(event["details"]), name
        contact = exported[0]["details"]["contact"]
        assert set(contact) == VALUE_OBJECTS[type(walk.case.contact)].personal

    def test_after_erasure_shows_placeholders(self, sealed: Services, clock: ManualClock) -> None:
        walk = walk_a_case_through_escalation(sealed, clock)
        sealed.privacy.erase(ADMIN, walk.case.id, "Article 17 request 2026-114")
        export = SubjectExportOut.of(sealed.privacy.export(walk.case.id))
        text = export.model_dump_json()
        assert export.erased is True
        assert [t for t in PERSONAL_TEXTS if t in text] == []
        assert export.events[0].details["contact"]["name"] == "erased"
