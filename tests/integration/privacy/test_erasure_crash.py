"""An erasure is recorded before the key goes, through the keys' own connection
(ADR 0044, 0067): a crash between the two leaves the erasure recorded and the
key in place, and erasing again throws the key away without a second record;
on every store."""

from __future__ import annotations

import pytest

from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.domain import case_commands as cmd
from cases.domain.erasure import Erasure, erasure_id_for
from cases.domain.metadata import Actor, Role
from cases.persistence.personal_data import ERASED
from tests.support.builders import caller, intake

ADMIN = caller(Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN))
REASON = "Article 17 request 2026-115"


class KeysGoneError(Exception):
    """The keys' connection dropped between the two steps."""


def test_a_crash_after_the_record_is_finished_by_erasing_again(
    sealed: Services, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = sealed.desk.receive_case(caller(), cmd.TakeIn(received_at=clock.now(), **intake()))
    keys = sealed.log.subject_keys
    assert keys is not None

    def crash(*_: object) -> None:
        raise KeysGoneError

    with monkeypatch.context() as patch:
        patch.setattr(keys, "_erase", crash)
        with pytest.raises(KeysGoneError):
            sealed.privacy.erase(ADMIN, case.aggregate_id, REASON)
    erasure_id = erasure_id_for(case.aggregate_id)
    assert sealed.runner.exists(Erasure, erasure_id)  # the record is durable...
    row = keys._row(case.aggregate_id)
    assert row is not None
    assert row.wrapped is not None  # ...and the key is still there

    again = sealed.privacy.erase(ADMIN, case.aggregate_id, REASON)
    assert again.already  # no second record
    assert len(sealed.audit.history(Erasure, erasure_id)) == 1
    row = keys._row(case.aggregate_id)
    assert row is not None
    assert row.wrapped is None
    assert sealed.desk.case(case.aggregate_id).description == ERASED
