"""A save collects an aggregate's events without the library's Protocol checks
(`cases.persistence.saving`) and records them, with a companion event, in one
transaction: on every store."""

from __future__ import annotations

from uuid import uuid4

from eventsourcing.domain import DomainEvent

from cases.bootstrap import Services
from cases.domain import case_commands as cmd
from cases.domain.support_case import SupportCase
from tests.support.builders import T0, caller, intake, terms

NOTES = 5


def test_a_save_records_the_events_collected(services: Services) -> None:
    desk = services.desk
    desk.publish_terms(caller(), terms(), effective_from=T0)
    case_id = desk.receive_case(caller(), cmd.TakeIn(received_at=T0, **intake())).aggregate_id
    case = services.runner.load(SupportCase, case_id)
    start = case.version
    ctx = caller().context(T0)
    for n in range(NOTES):
        case.add_note(ctx, cmd.AddNote(f"note {n}"))
    recordings = services.log.save(case)
    versions = [r.domain_event.originator_version for r in recordings]
    assert versions == list(range(start + 1, start + NOTES + 1))
    assert not case.pending_events
    assert [r.notification.id for r in recordings] == sorted(r.notification.id for r in recordings)
    stored = [e.originator_version for e in services.log.events.get(case_id)]
    assert stored == list(range(1, start + NOTES + 1))
    loaded = services.runner.load(SupportCase, case_id)
    assert loaded.version == case.version
    assert loaded.note_count == case.note_count == NOTES


def test_nothing_pending_records_nothing(services: Services) -> None:
    desk = services.desk
    desk.publish_terms(caller(), terms(), effective_from=T0)
    case_id = desk.receive_case(caller(), cmd.TakeIn(received_at=T0, **intake())).aggregate_id
    case = services.runner.load(SupportCase, case_id)
    assert services.log.save(case, None) == []
    assert services.runner.load(SupportCase, case_id).version == case.version


def test_a_companion_event_is_recorded_with_the_aggregate(services: Services) -> None:
    desk = services.desk
    desk.publish_terms(caller(), terms(), effective_from=T0)
    case_id = desk.receive_case(caller(), cmd.TakeIn(received_at=T0, **intake())).aggregate_id
    case = services.runner.load(SupportCase, case_id)
    case.add_note(caller().context(T0), cmd.AddNote("with a companion"))
    companion = DomainEvent(
        originator_id=uuid4(), originator_version=1, timestamp=DomainEvent.create_timestamp()
    )
    recordings = services.log.save(case, companion)
    assert [r.domain_event for r in recordings][-1] is companion
    assert [e.originator_version for e in services.log.events.get(companion.originator_id)] == [1]
