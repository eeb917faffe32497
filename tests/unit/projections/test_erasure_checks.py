"""`holds_erased` finds the placeholder by the event's shape (ADR 71, amendment of
2026-12-05): events of one class whose values are of other types are checked
each by their own fields."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from cases.domain.deliveries import Delivery, DeliveryOutcome
from cases.domain.support_case import SupportCase
from cases.persistence.personal_data import ERASED
from cases.projections.erasures import holds_erased


def an_event(cls: type[Any], **values: object) -> Any:
    """An event of `cls` holding `values` (only what `holds_erased` reads)."""
    event = object.__new__(cls)
    for name, value in values.items():
        object.__setattr__(event, name, value)
    return event


def a_delivery(recipient: str) -> Delivery:
    return Delivery(
        uuid4(), "case_communication", "email", recipient, DeliveryOutcome.DELIVERED, 1, "250 OK"
    )


def test_a_value_of_another_type_in_an_event_of_a_seen_class_is_checked() -> None:
    recorded = SupportCase.DeliveryRecorded

    assert not holds_erased(an_event(recorded, originator_id=uuid4(), delivery=None))
    assert holds_erased(an_event(recorded, originator_id=uuid4(), delivery=a_delivery(ERASED)))
    assert not holds_erased(an_event(recorded, originator_id=uuid4(), delivery=a_delivery("k@x")))


def test_an_event_s_own_personal_field_is_checked() -> None:
    assert holds_erased(an_event(SupportCase.NoteAdded, originator_id=uuid4(), text=ERASED))
    assert not holds_erased(an_event(SupportCase.NoteAdded, originator_id=uuid4(), text="hi"))
