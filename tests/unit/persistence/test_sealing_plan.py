"""What the sealing mapper may store as it is (ADR 0044, amendment of 2026-12-04).

An event with no personal field and no value object within is encoded by the
sealing mapper exactly as without a master key, with no sealing context: it has
nothing to seal. That is sound only while no `kept` field and no event metadata
can hold a value object with a personal field: these tests check that over the
whole inventory, by the fields' types.
"""

from __future__ import annotations

import typing
from uuid import UUID

from eventsourcing.persistence import Mapper

from cases.domain.case_clocks import ClockedCase
from cases.domain.case_values import Contact
from cases.domain.metadata import EventMetadata
from cases.domain.service_clocks import ClockKind
from cases.domain.support_case import SupportCase
from cases.persistence.personal_data import EVENTS, VALUE_OBJECTS
from cases.persistence.registry import cases_transcoder
from cases.persistence.sealing import Sealer
from cases.persistence.sealing_mapper import SealingMapper, _holds_personal
from cases.persistence.subject_keys import MasterKey, MemorySubjectKeys
from tests.unit.domain.case_scenario import received


def _classes_in(hint: object) -> set[type]:
    args = typing.get_args(hint)
    if not args:
        return {hint} if isinstance(hint, type) else set()
    return set().union(*(_classes_in(a) for a in args))


def _holds_personal_text(cls: type, seen: frozenset[type] = frozenset()) -> bool:
    """Whether a value of `cls` can hold a personal field, at any depth."""
    decided = VALUE_OBJECTS.get(cls)
    if decided is None or cls in seen:
        return False
    if decided.personal:
        return True
    hints = typing.get_type_hints(cls)
    return any(
        _holds_personal_text(inner, seen | {cls})
        for name in decided.within
        for inner in _classes_in(hints[name])
    )


def test_the_type_walk_finds_a_value_object_with_personal_text() -> None:
    # The check below can fail: a contact (personal fields) in an optional field.
    assert _holds_personal_text(Contact)
    assert any(_holds_personal_text(c) for c in _classes_in(Contact | None))
    assert not _holds_personal_text(EventMetadata)


def test_no_kept_field_and_no_metadata_can_hold_personal_text() -> None:
    problems = [
        f"{cls.__qualname__}.{name}"
        for table in (EVENTS, VALUE_OBJECTS)
        for cls, decided in table.items()
        for name in sorted(decided.kept)
        if any(_holds_personal_text(c) for c in _classes_in(typing.get_type_hints(cls)[name]))
    ]
    assert not problems, (
        "a field decided `kept` can hold a value object with personal fields: decide it "
        "`within`, or the sealing mapper stores its event unsealed: " + ", ".join(problems)
    )
    hints = typing.get_type_hints(SupportCase.NoteAdded)
    assert not any(_holds_personal_text(c) for c in _classes_in(hints["meta"]))


def test_only_events_with_nothing_to_seal_skip_the_sealing() -> None:
    assert not _holds_personal(ClockedCase.ServiceClockStarted)
    assert not _holds_personal(SupportCase.Assigned)
    assert _holds_personal(SupportCase.NoteAdded)  # a personal field
    assert _holds_personal(SupportCase.Received)  # the contact, within
    assert _holds_personal(SupportCase.DeliveryRecorded)  # the recipient, within
    skipped = {c for c in EVENTS if not _holds_personal(c)}
    assert skipped == {c for c, d in EVENTS.items() if not (d.personal or d.within)}


def test_an_event_with_nothing_to_seal_is_stored_as_without_a_master_key() -> None:
    case = received()
    clock = next(e for e in case.collect_events() if isinstance(e, ClockedCase.ServiceClockStarted))
    keys = MemorySubjectKeys(MasterKey.generate())
    sealed = SealingMapper(cases_transcoder(Sealer(keys)), Sealer(keys)).to_stored_event(clock)
    plain = Mapper[UUID](cases_transcoder()).to_stored_event(clock)
    assert (sealed.topic, bytes(sealed.state)) == (plain.topic, bytes(plain.state))
    assert clock.clock is ClockKind.FIRST_RESPONSE
