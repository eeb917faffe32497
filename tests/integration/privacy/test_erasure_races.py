"""Commands on a subject's case while it is erased neither fail nor leave readable
text; the logs of the whole run carry none of the personal values (ADR 0044)."""

from __future__ import annotations

import threading

from structlog.testing import capture_logs

from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.domain import case_commands as cmd
from cases.domain.metadata import Actor, Role
from cases.domain.support_case import SupportCase
from cases.persistence.personal_data import ERASED
from cases.settings import Settings
from tests.integration.privacy.test_sealed_store import PERSONAL_TEXTS
from tests.integration.test_support_desk import walk_a_case_through_escalation
from tests.support.builders import caller
from tests.support.plaintext import tables_holding

ADMIN = caller(Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN))
RACING_NOTE = "Karin Lund rang during the erasure"


def test_notes_racing_the_erasure_are_recorded_and_never_readable(
    sealed: Services, sealed_settings: Settings, clock: ManualClock
) -> None:
    walk = walk_a_case_through_escalation(sealed, clock)
    failures: list[BaseException] = []
    start = threading.Barrier(3)

    def add_notes() -> None:
        start.wait()
        for n in range(5):
            try:
                sealed.desk.handle(caller(), walk.case.id, cmd.AddNote(f"{RACING_NOTE} {n}"))
            except BaseException as e:  # noqa: BLE001 - collected and asserted below
                failures.append(e)

    writers = [threading.Thread(target=add_notes) for _ in range(2)]
    for writer in writers:
        writer.start()
    start.wait()
    sealed.privacy.erase(ADMIN, walk.case.id, "Article 17 request 2026-114")
    for writer in writers:
        writer.join()

    assert failures == []
    history = sealed.audit.history(SupportCase, walk.case.id)
    notes = [h.details["text"] for h in history if h.event_type.endswith("NoteAdded")]
    assert len(notes) == 1 + 10
    assert set(notes) == {ERASED}
    url = sealed_settings.effective_database_url
    assert tables_holding(url, sealed.log, [RACING_NOTE]) == {}


def test_the_logs_of_a_case_and_its_erasure_hold_no_personal_value(
    sealed: Services, clock: ManualClock
) -> None:
    with capture_logs() as logs:
        walk = walk_a_case_through_escalation(sealed, clock)
        sealed.privacy.erase(ADMIN, walk.case.id, "Article 17 request 2026-114")
        sealed.audit.history(SupportCase, walk.case.id)
    assert logs  # the run did log
    text = repr(logs)
    assert [value for value in PERSONAL_TEXTS if value in text] == []
