"""Personal fields are stored sealed and read back as they were (ADR 0044)."""

from __future__ import annotations

from uuid import UUID

import pytest
from pydantic import SecretStr

from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.domain import case_commands as cmd
from cases.domain.support_case import SupportCase
from cases.persistence.personal_data import ERASED
from cases.persistence.subject_keys import MasterKey
from cases.settings import Settings
from tests.integration.test_support_desk import walk_a_case_through_escalation
from tests.support.builders import T0, caller, contact, terms
from tests.support.plaintext import tables_holding

# What the walk types in about the contact person and their request.
PERSONAL_TEXTS = [
    contact().name,
    "karin.lund@contoso.example",
    "+46 70 111 22 33",
    "Since 07:30 outbound mail queues",
    "Connector healthy; queue grows",
    "We are on it",
    "Queue grows with a healthy connector",
    "Reproduced",
    "Fix deployed",
    "Fixed upstream",
    "Delays are back",
    "Customer called again",
]


def _erase_key(services: Services, subject: UUID) -> None:
    keys = services.log.subject_keys
    assert keys is not None
    keys.erase(subject, "2026-03-02T09:00:00+00:00")


class TestSealedStore:
    def test_no_personal_text_is_stored_in_plaintext(
        self, sealed: Services, sealed_settings: Settings, clock: ManualClock
    ) -> None:
        walk_a_case_through_escalation(sealed, clock)
        found = tables_holding(sealed_settings.effective_database_url, sealed.log, PERSONAL_TEXTS)
        assert found == {}

    def test_the_scan_finds_what_a_store_without_a_master_key_holds(
        self, services: Services, settings: Settings, clock: ManualClock
    ) -> None:
        services.desk.publish_terms(caller(), terms(), effective_from=T0)
        walk_a_case_through_escalation(services, clock)
        found = tables_holding(settings.effective_database_url, services.log, PERSONAL_TEXTS)
        assert {text for hits in found.values() for text in hits} == set(PERSONAL_TEXTS)

    def test_the_case_reads_back_as_it_was_recorded(
        self, sealed: Services, clock: ManualClock
    ) -> None:
        walk = walk_a_case_through_escalation(sealed, clock)
        case = sealed.desk.case(walk.case.id)  # replayed from the store (and a snapshot)
        assert case.contact == contact()
        assert case.findings == ("Connector healthy; queue grows",)
        [escalation] = case.escalations
        assert [u.text for u in escalation.updates] == ["Reproduced"]
        assert escalation.hand_back_summary == "Fix deployed"
        history = sealed.audit.history(SupportCase, walk.case.id)
        notes = [h for h in history if h.event_type.endswith("NoteAdded")]
        assert notes[0].details == {"text": "Customer called again"}

    def test_without_the_key_every_personal_field_reads_erased_and_facts_stay(
        self, sealed: Services, clock: ManualClock
    ) -> None:
        walk = walk_a_case_through_escalation(sealed, clock)
        before = sealed.audit.history(SupportCase, walk.case.id)
        _erase_key(sealed, walk.case.id)
        case = sealed.audit.state(SupportCase, walk.case.id)
        assert (case.contact.name, case.contact.email, case.contact.phone) == (ERASED,) * 3
        assert (case.title, case.description) == (ERASED, ERASED)
        assert case.findings == (ERASED,)
        [escalation] = case.escalations
        assert escalation.vendor_reference == "2603020010001234"  # a fact, kept
        assert (escalation.reason, escalation.hand_back_summary) == (ERASED, ERASED)
        after = sealed.audit.history(SupportCase, walk.case.id)
        assert [(h.version, h.event_type, h.recorded_at) for h in after] == [
            (h.version, h.event_type, h.recorded_at) for h in before
        ]
        assert case.version == walk.case.version
        assert case.product == walk.case.product
        assert case.severity is walk.case.severity

    def test_a_subject_erased_meanwhile_gets_placeholders_not_a_new_key(
        self, sealed: Services, clock: ManualClock
    ) -> None:
        walk = walk_a_case_through_escalation(sealed, clock)
        _erase_key(sealed, walk.case.id)
        sealed.desk.handle(caller(), walk.case.id, cmd.AddNote("Karin Lund phoned once more"))
        history = sealed.audit.history(SupportCase, walk.case.id)
        assert history[-1].details == {"text": ERASED}


def test_rotating_the_master_key_keeps_every_case_readable(
    sealed: Services, sealed_settings: Settings, clock: ManualClock
) -> None:
    if sealed_settings.effective_database_url.startswith("memory"):
        pytest.skip("the in-memory store does not outlive its process")
    walk = walk_a_case_through_escalation(sealed, clock)
    new = MasterKey.generate()
    assert sealed.log.subject_keys is not None
    assert sealed.log.subject_keys.rewrap(new) == 1
    rotated = sealed_settings.model_copy(update={"master_key": SecretStr(new.as_text())})
    reopened = bootstrap(rotated, clock)
    try:
        assert reopened.desk.case(walk.case.id).contact == contact()
    finally:
        reopened.close()
