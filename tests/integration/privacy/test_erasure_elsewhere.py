"""An erasure made by one process reaches another that already holds the
subject's key, its opened texts and a working copy of the case (ADR 0044)."""

from __future__ import annotations

from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.domain.metadata import Actor, Role
from cases.domain.support_case import SupportCase
from cases.persistence.personal_data import ERASED
from tests.integration.test_support_desk import walk_a_case_through_escalation
from tests.support.builders import caller

ADMIN = caller(Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN))


def test_an_erasure_made_elsewhere_reaches_a_process_holding_the_key(
    sealed: Services, other_process: Services, clock: ManualClock
) -> None:
    walk = walk_a_case_through_escalation(sealed, clock)
    keys = other_process.log.subject_keys
    assert keys is not None
    held = other_process.desk.case(walk.case.id)  # the key, the texts, a working copy
    assert held.contact.name == "Karin Lund"
    assert other_process.audit.history(SupportCase, walk.case.id)[-1].details != {"text": ERASED}

    sealed.privacy.erase(ADMIN, walk.case.id, "Article 17 request 2026-115")

    keys.ERASURES_CHECKED_EVERY = 0.0  # as if the bound (a second) had passed
    case = other_process.desk.case(walk.case.id)
    assert case.contact.name == ERASED
    assert case.description == ERASED
    notes = [e.details for e in other_process.audit.history(SupportCase, walk.case.id)]
    assert {"text": "Customer called again"} not in notes
