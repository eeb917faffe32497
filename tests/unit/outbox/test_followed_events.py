"""The outbox follows every event of a case (issue 20, ADR 93): each one ever
stored is in its topics, so no event of a case it keeps a copy of can pass it by."""

from __future__ import annotations

from pathlib import Path

from cases.domain.customer import Customer
from cases.domain.support_case import SupportCase
from cases.outbox.derivation import OutboxProjection
from cases.persistence.topics import topics_of
from cases.projections.projection import events_of

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "stored_topics.txt"


def _stored(prefix: str) -> set[str]:
    lines = GOLDEN.read_text().splitlines()
    return {
        line.removeprefix("topic ")
        for line in lines  # an event class: not the aggregate's own, nor its base event's
        if line.startswith(f"topic {prefix}.") and line != f"topic {prefix}.Event"
    }


def test_every_stored_case_event_is_followed() -> None:
    stored = _stored("cases.domain.support_case:SupportCase")
    assert len(stored) > 20
    assert stored <= set(OutboxProjection.topics()), stored - set(OutboxProjection.topics())
    assert {t for cls in events_of(SupportCase) for t in topics_of(cls)} <= stored


def test_events_of_finds_the_mixins_events_and_nothing_else() -> None:
    found = events_of(SupportCase)
    assert SupportCase.ServiceClockStarted in found  # defined by the service-clock mixin
    assert SupportCase.NoteAdded in found
    assert all(issubclass(cls, SupportCase.Event) for cls in found)
    assert not set(found) & set(events_of(Customer))
