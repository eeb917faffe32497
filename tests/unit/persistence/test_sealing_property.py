"""Sealing through the store, for random histories (ADR 0044).

Recorded events read back equal to what was recorded; once the subject's key
is gone every personal field reads `erased`, every other field is unchanged,
and nothing raises.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cases.domain import case_commands as cmd
from cases.domain.case_values import Contact, Direction
from cases.domain.support_case import SupportCase
from cases.domain.support_terms import Channel
from cases.persistence.event_log import EventLog
from cases.persistence.personal_data import ERASED, personal_fields
from cases.persistence.recorders import MEMORY_FACTORY_TOPIC
from cases.persistence.registry import cases_transcoder
from cases.persistence.sealing import Sealer, SealingDataclassAsDict
from cases.persistence.subject_keys import MasterKey, MemorySubjectKeys
from tests.support.builders import ctx
from tests.unit.domain.case_scenario import received

MEMORY = {"PERSISTENCE_MODULE": MEMORY_FACTORY_TOPIC}

texts = (
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=60)
    .map(str.strip)
    .filter(bool)
)
names = texts.filter(lambda t: len(t) <= 200)
steps = st.lists(
    st.tuples(st.sampled_from(["note", "diagnosis", "communication"]), texts), max_size=8
)


def _open_log() -> EventLog:
    return EventLog(
        MEMORY,
        snapshot_interval=3,
        snapshotted=(SupportCase,),
        subject_keys=MemorySubjectKeys(MasterKey.generate()),
    )


def _record(name: str, description: str, history: list[tuple[str, str]]) -> SupportCase:
    case = received(contact=Contact(name, email="k@contoso.example"), description=description)
    case.check_service_health(ctx(), cmd.CheckServiceHealth(None))
    for kind, text in history:
        if kind == "note":
            case.add_note(ctx(), cmd.AddNote(text))
        elif kind == "diagnosis":
            case.record_diagnosis(ctx(), cmd.RecordDiagnosis(text))
        else:
            case.record_communication(
                ctx(), cmd.RecordCommunication(Direction.INBOUND, Channel.EMAIL, text)
            )
    return case


def _erased(value: Any) -> Any:
    """What a value reads as once its subject's key is gone (built without
    validation, as the store rebuilds it)."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return value
    personal = personal_fields(type(value))
    if not personal:
        return value
    copy = object.__new__(type(value))
    for f in dataclasses.fields(value):
        v = getattr(value, f.name)
        object.__setattr__(copy, f.name, ERASED if f.name in personal and v is not None else v)
    return copy


@settings(max_examples=30, deadline=None)
@given(name=names, description=texts, history=steps)
def test_sealed_events_read_back_and_read_erased_without_the_key(
    name: str, description: str, history: list[tuple[str, str]]
) -> None:
    log = _open_log()
    case = _record(name, description, history)
    recorded = list(case.pending_events)
    log.save(case)  # and a snapshot every third version
    assert log.snapshots is not None
    assert list(log.snapshots.get(case.id))  # the snapshot is sealed too

    assert list(log.events.get(case.id)) == recorded
    loaded: SupportCase = log.repository.get(case.id)
    assert loaded.contact.name == name

    assert log.subject_keys is not None
    log.subject_keys.erase(case.id, "2026-03-02T09:00:00+00:00")
    for before, after in zip(recorded, log.events.get(case.id), strict=True):
        personal = personal_fields(type(before))
        for field, value in vars(before).items():
            read = vars(after)[field]
            if field in personal:
                assert read == ERASED
            else:
                assert read == _erased(value), field
    reloaded: SupportCase = log.repository.get(case.id)  # from the snapshot, or a replay
    assert reloaded.version == case.version
    assert (reloaded.description, reloaded.contact.name) == (ERASED, ERASED)


def test_value_objects_without_a_subject_are_stored_as_they_are() -> None:
    # Outside an event (no subject being encoded) a contact is not sealed.
    transcoder = cases_transcoder(Sealer(MemorySubjectKeys(MasterKey.generate())))
    assert b"Karin" in transcoder.encode(Contact("Karin", email="k@contoso.example"))
    assert isinstance(transcoder.types[Contact], SealingDataclassAsDict)
