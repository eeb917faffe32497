"""Erasing a data subject on every store: the key goes, an erasure is recorded
with no personal data, and every history replays with placeholders (ADR 0044)."""

from __future__ import annotations

from uuid import uuid4

import pytest

from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.domain import case_commands as cmd
from cases.domain.erasure import Erasure, SubjectKind, erasure_id_for
from cases.domain.errors import PersonalDataNotSealedError, UnknownSubjectError
from cases.domain.metadata import Actor, Role
from cases.domain.principal import Principal
from cases.domain.support_case import SupportCase
from cases.persistence.personal_data import ERASED
from cases.settings import Settings
from tests.integration.privacy.test_sealed_store import PERSONAL_TEXTS
from tests.integration.test_support_desk import walk_a_case_through_escalation
from tests.support.builders import caller
from tests.support.plaintext import tables_holding

ADMIN = caller(Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN))
REASON = "Article 17 request 2026-114"


class TestErasure:
    def test_erasing_leaves_no_plaintext_and_histories_replay_with_placeholders(
        self, sealed: Services, sealed_settings: Settings, clock: ManualClock
    ) -> None:
        walk = walk_a_case_through_escalation(sealed, clock)
        before = sealed.audit.history(SupportCase, walk.case.id)

        erased = sealed.privacy.erase(ADMIN, walk.case.id, REASON)

        assert (erased.kind, erased.already) == (SubjectKind.CONTACT, False)
        url = sealed_settings.effective_database_url
        assert tables_holding(url, sealed.log, PERSONAL_TEXTS) == {}
        after = sealed.audit.history(SupportCase, walk.case.id)
        assert [(h.version, h.event_type, h.meta) for h in after] == [
            (h.version, h.event_type, h.meta) for h in before
        ]
        notes = [h for h in after if h.event_type.endswith("NoteAdded")]
        assert notes[0].details == {"text": ERASED}
        case = sealed.desk.case(walk.case.id)
        assert (case.contact.name, case.description, case.findings) == (ERASED, ERASED, (ERASED,))
        assert (case.product, case.severity, case.reopen_count) == (
            walk.case.product,
            walk.case.severity,
            walk.case.reopen_count,
        )
        at_two = sealed.audit.at_version(SupportCase, walk.case.id, 2)
        assert at_two.title == ERASED

    def test_the_erasure_records_who_when_why_and_no_personal_data(
        self, sealed: Services, clock: ManualClock
    ) -> None:
        walk = walk_a_case_through_escalation(sealed, clock)
        sealed.privacy.erase(ADMIN, walk.case.id, REASON, "GDPR article 17(1)(a)")
        [entry] = sealed.audit.history(Erasure, erasure_id_for(walk.case.id))
        assert entry.meta.actor == ADMIN.actor
        assert entry.meta.occurred_at == clock.now()
        assert entry.details == {
            "subject_id": walk.case.id,
            "subject_kind": SubjectKind.CONTACT,
            "reason": REASON,
            "legal_basis": "GDPR article 17(1)(a)",
        }

    def test_erasing_twice_records_nothing_more(self, sealed: Services, clock: ManualClock) -> None:
        walk = walk_a_case_through_escalation(sealed, clock)
        first = sealed.privacy.erase(ADMIN, walk.case.id, REASON)
        second = sealed.privacy.erase(ADMIN, walk.case.id, REASON)
        assert second.already
        assert second.erasure_id == first.erasure_id
        assert len(sealed.audit.history(Erasure, first.erasure_id)) == 1

    def test_an_unknown_subject_is_refused(self, sealed: Services) -> None:
        subject = uuid4()
        with pytest.raises(
            UnknownSubjectError, match=f"no personal data is held for subject {subject}"
        ):
            sealed.privacy.erase(ADMIN, subject, REASON)

    def test_a_principal_is_a_subject_too(self, sealed: Services) -> None:
        issued = sealed.principals.create(ADMIN, name="Anna Svensson", role=Role.HELPDESK_AGENT)
        erased = sealed.privacy.erase(ADMIN, issued.principal_id, REASON)
        assert erased.kind is SubjectKind.PRINCIPAL
        principal = sealed.principals.principal(issued.principal_id)
        assert (principal.name, principal.role) == (ERASED, Role.HELPDESK_AGENT)

    def test_commands_after_the_erasure_store_placeholders(
        self, sealed: Services, clock: ManualClock
    ) -> None:
        walk = walk_a_case_through_escalation(sealed, clock)
        sealed.privacy.erase(ADMIN, walk.case.id, REASON)
        sealed.desk.handle(
            caller(), walk.case.id, cmd.AddNote("Karin Lund called after the erasure")
        )
        history = sealed.audit.history(SupportCase, walk.case.id)
        assert history[-1].details == {"text": ERASED}


def test_without_a_master_key_erasure_is_refused_clearly(
    services: Services, clock: ManualClock
) -> None:
    with pytest.raises(PersonalDataNotSealedError, match="no master key is set"):
        services.privacy.erase(ADMIN, uuid4(), REASON)


def test_an_erased_principal_still_reads(sealed: Services) -> None:
    issued = sealed.principals.create(ADMIN, name="Bo Ek", role=Role.AUDITOR)
    sealed.privacy.erase(ADMIN, issued.principal_id, REASON)
    assert sealed.runner.load(Principal, issued.principal_id).name == ERASED


def test_retention_erases_each_case_once_and_skips_cases_without_a_key(
    sealed: Services, clock: ManualClock
) -> None:
    walk = walk_a_case_through_escalation(sealed, clock)
    never_sealed = uuid4()
    reason, basis = "retention: closed more than 7 years ago", "storage limitation"
    assert sealed.privacy.apply_retention(ADMIN, [walk.case.id, never_sealed], reason, basis) == 1
    steps: list[tuple[int, int]] = []
    again = sealed.privacy.apply_retention(
        ADMIN, [walk.case.id, never_sealed], reason, basis, lambda *step: steps.append(step)
    )
    assert again == 0
    assert steps == [(1, 2), (2, 2)]  # the progress bar moves for every case, erased or not
    assert sealed.desk.case(walk.case.id).description == ERASED
