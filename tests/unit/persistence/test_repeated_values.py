"""Repeated values (ADR 0087): a value object stored again and again with the same
data is decoded once, and the same data gives the same object again."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import Mapper, StoredEvent

from cases.domain.case_values import Contact, Escalation
from cases.domain.service_clocks import ServiceLevelTerms
from cases.domain.support_case import SupportCase
from cases.persistence import transcoder as transcoder_module
from cases.persistence.personal_data import ERASED, VALUE_OBJECTS, personal_anywhere
from cases.persistence.registry import REPEATED, cases_transcoder, domain_transcodings
from cases.persistence.registry import VALUE_OBJECTS as REGISTERED
from cases.persistence.sealing import Sealer
from cases.persistence.sealing_mapper import SealingMapper
from cases.persistence.subject_keys import MasterKey, MemorySubjectKeys
from cases.persistence.transcoder import DataclassAsDict, OrjsonTranscoder, default_transcoder
from tests.unit.domain.case_scenario import received


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Hours:
    zone: str
    spans: tuple[Span, ...]


def hours(zone: str = "Europe/Stockholm") -> Hours:
    return Hours(zone, (Span(8, 12), Span(13, 17)))


def made(*, repeated: bool) -> OrjsonTranscoder:
    return default_transcoder(
        DataclassAsDict(Span, "span"), DataclassAsDict(Hours, "hours", repeated=repeated)
    )


def test_the_same_data_gives_the_same_object_again() -> None:
    transcoder = made(repeated=True)
    stored = transcoder.encode({"first": hours(), "then": [hours(), {"x": hours()}]})
    decoded = transcoder.decode(stored)
    again = transcoder.decode(stored)
    assert decoded == {"first": hours(), "then": [hours(), {"x": hours()}]}
    assert decoded["first"] is decoded["then"][0] is decoded["then"][1]["x"] is again["first"]
    assert type(decoded["first"].spans) is tuple
    assert decoded["first"].spans[0] == Span(8, 12)


def test_other_data_gives_another_object() -> None:
    transcoder = made(repeated=True)
    oslo = transcoder.decode(transcoder.encode(hours("Europe/Oslo")))
    stockholm = transcoder.decode(transcoder.encode(hours()))
    assert (oslo.zone, stockholm.zone) == ("Europe/Oslo", "Europe/Stockholm")
    assert transcoder.decode(transcoder.encode(hours("Europe/Oslo"))) is oslo


def test_a_transcoding_not_repeated_decodes_every_time() -> None:
    transcoder = made(repeated=False)
    stored = transcoder.encode(hours())
    first, second = transcoder.decode(stored), transcoder.decode(stored)
    assert first == second
    assert first is not second


def test_the_kept_values_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transcoder_module, "REPEATED_KEPT", 3)
    transcoder = made(repeated=True)
    first = transcoder.decode(transcoder.encode(hours("Zone/0")))
    assert transcoder.decode(transcoder.encode(hours("Zone/0"))) is first
    for n in range(1, 4):  # the fourth distinct value empties the table
        transcoder.decode(transcoder.encode(hours(f"Zone/{n}")))
    again = transcoder.decode(transcoder.encode(hours("Zone/0")))
    assert again == first
    assert again is not first


def test_registering_again_forgets_what_was_kept() -> None:
    transcoder = made(repeated=True)
    stored = transcoder.encode(hours())
    kept = transcoder.decode(stored)
    transcoder.register(DataclassAsDict(Hours, "hours", repeated=True))
    assert transcoder.decode(stored) is not kept
    transcoder.register(DataclassAsDict(Hours, "hours"))  # no longer repeated
    assert transcoder.decode(stored) is not transcoder.decode(stored)


def test_bad_data_is_refused_as_before_and_nothing_is_kept() -> None:
    transcoder = made(repeated=True)
    bad = b'{"_type_": "hours", "_data_": ["not", "a", "dict"]}'
    for _ in range(2):
        with pytest.raises(TypeError, match="'hours' data must be a dict"):
            transcoder.decode(bad)
    assert transcoder.decode(transcoder.encode(hours())) == hours()


def test_data_only_json_reads_is_decoded_every_time() -> None:
    """Legacy data with a NaN (json reads it, orjson refuses it, and would write
    it as null): it is no faithful key, so it is decoded every time, and never
    taken for the same data with a null."""
    transcoder = made(repeated=True)
    with_null = transcoder.encode(Hours("Z", (Span(None, 1),)))  # type: ignore[arg-type]
    null = transcoder.decode(with_null)
    with_nan = json.dumps(json.loads(with_null.replace(b"null", b"NaN"))).encode()
    assert b"NaN" in with_nan
    first, second = transcoder.decode(with_nan), transcoder.decode(with_nan)
    assert first is not second
    assert first is not null
    assert math.isnan(first.spans[0].start)
    assert null.spans[0].start is None
    assert transcoder.decode(with_null) is null


# --- the domain's repeated values ----------------------------------------


def test_every_repeated_value_holds_no_personal_data_at_any_depth() -> None:
    assert set(REGISTERED) >= REPEATED
    assert [name for name in REPEATED if personal_anywhere(REGISTERED[name])] == []


def test_personal_anywhere_looks_within_value_objects() -> None:
    assert personal_anywhere(Contact)  # fields of its own
    assert personal_anywhere(Escalation)  # a personal text within
    assert not personal_anywhere(ServiceLevelTerms)
    assert personal_anywhere(Span)  # undecided: it might
    assert {c for c in VALUE_OBJECTS if personal_anywhere(c)} == {
        REGISTERED[n] for n in ("contact", "vendor_update", "escalation", "resolution", "delivery")
    }


def test_a_value_that_can_hold_personal_data_cannot_be_repeated() -> None:
    with pytest.raises(ValueError, match="contact can hold personal data"):
        domain_transcodings(repeated=frozenset({"contact"}))
    keys = MemorySubjectKeys(MasterKey.generate())
    with pytest.raises(ValueError, match="escalation can hold personal data"):
        domain_transcodings(Sealer(keys), repeated=frozenset({"escalation"}))


def _received() -> Any:
    return next(e for e in received().collect_events() if isinstance(e, SupportCase.Received))


def _decoded(mapper: Mapper[UUID], stored: StoredEvent) -> Any:
    """The event read back (typed as any event: the library's protocol names no field)."""
    return mapper.to_domain_event(stored)


def test_received_cases_share_their_terms_and_actor_and_open_their_own_contact() -> None:
    keys = MemorySubjectKeys(MasterKey.generate())
    sealer = Sealer(keys)
    mapper = SealingMapper(cases_transcoder(sealer), sealer)
    event = _received()
    stored = mapper.to_stored_event(event)
    first, second = _decoded(mapper, stored), _decoded(mapper, stored)
    assert first == second == event
    assert first.service_levels is second.service_levels
    assert first.meta.actor is second.meta.actor
    # An erasure reaches the personal texts, never a kept value.
    keys.erase(event.originator_id, "2026-12-06T00:00:00+00:00")
    erased = _decoded(mapper, stored)
    assert (erased.contact.name, erased.contact.email) == (ERASED, ERASED)
    assert first.contact.name == event.contact.name != ERASED
    assert erased.service_levels is first.service_levels


def test_without_repeated_values_every_received_decodes_its_own_terms() -> None:
    stored = Mapper[UUID](cases_transcoder()).to_stored_event(_received())
    every = Mapper[UUID](cases_transcoder(repeated=frozenset()))
    first, second = _decoded(every, stored), _decoded(every, stored)
    assert first == second
    assert first.service_levels is not second.service_levels
    kept = Mapper[UUID](cases_transcoder())
    assert _decoded(kept, stored).service_levels is _decoded(kept, stored).service_levels
