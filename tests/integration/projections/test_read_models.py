"""Every read model in the catalog, on SQLite and PostgreSQL: the tables kept
live while a history is recorded equal the tables rebuilt from scratch, and
the views answer what the aggregates say.

The history (a few thousand events of every support-case type) is recorded
once per store through the support desk, in increments; between increments
each projection's runner applies part or all of what is new, in small
batches, so the live tables are built the way a running service builds them.
Two scripted cases follow the generated ones (the generated stories never log
a step that occurred before one already recorded): in one, a breach the
scheduled clock check records is disproved by a wait on the customer logged
after it; in the other, one is withdrawn by a call logged after it, and a later
check records a breach as the case's last event.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast
from uuid import UUID

import pytest

from cases.application.caller import Caller
from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.db.database import ProjectionDatabase
from cases.db.schema import migrate
from cases.domain import case_commands as cmd
from cases.domain.audited import AuditedAggregate
from cases.domain.case_clocks import ClockFact
from cases.domain.case_values import CaseCategory, Direction
from cases.domain.metadata import Actor, Role, Source
from cases.domain.service_clocks import ClockKind
from cases.domain.support_case import SupportCase
from cases.domain.support_terms import Channel, Severity
from cases.followers.catalog import PROJECTIONS, projection_named
from cases.followers.runner import ProjectionRunner
from cases.persistence.database_url import parse_database_url
from cases.projections.case_queue import CaseFilter, CaseQueueView
from cases.projections.case_timeline import HANDLES, CaseTimelineView
from cases.projections.escalation_register import EscalationRegisterView
from cases.settings import Settings
from tests.support.advisory_history import import_advisories
from tests.support.builders import AGENT, intake, is_clock_fact
from tests.support.customers import register_all
from tests.support.history import START, DeskWriter, SupportHistory
from tests.support.postgres import sql_store
from tests.support.projection_tables import emptied, positions_of, projection_rows

EVENTS = 4000
SMALL_BATCHES = (7, 50, 13, 31)
RECORDED_FROM_OUTSIDE = {
    SupportCase.VendorRequestOpened,
    SupportCase.VendorRequestStatusChanged,
    SupportCase.VendorNoteImported,
    SupportCase.LinkedIncidentResolved,
    SupportCase.DeliveryRecorded,
}
"""Case events the desk's generated history never records: a vendor sync or the
outbox's delivery worker does."""
STORE_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
SCHEDULER_CHECK = Caller.new(Actor("clock-evaluation", Role.SYSTEM), Source.SCHEDULER)


@dataclass
class LiveStore:
    """A store whose projections were kept live while its history was recorded."""

    services: Services
    db: ProjectionDatabase
    events: list[AuditedAggregate.Event]  # every support-case event, in log order
    positions: list[int]

    def cases(self) -> list[SupportCase]:
        ids = {e.originator_id for e in self.events}
        return [self.services.desk.case(case_id) for case_id in sorted(ids)]


@pytest.fixture(scope="module", params=STORE_KINDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStore]:
    with sql_store(request.param, tmp_path_factory.mktemp("read-models")) as url:
        migrate(parse_database_url(url))
        clock = ManualClock(START)
        services = bootstrap(Settings(database_url=url, snapshot_interval=5), clock)
        db = ProjectionDatabase(parse_database_url(url))
        try:
            _record_while_projecting(services, clock, db)
            yield LiveStore(services, db, *_case_events(services))
        finally:
            db.close()
            services.close()


def _record_while_projecting(
    services: Services, clock: ManualClock, db: ProjectionDatabase
) -> None:
    rng = random.Random(5)  # noqa: S311 - test data
    history = SupportHistory(seed=11, cases_per_day=20)
    writer = DeskWriter(services, clock)
    runners = [
        ProjectionRunner(services.log, projection_named(name), db, batch_size=size)
        for name, size in zip(sorted(PROJECTIONS), _cycle(SMALL_BATCHES), strict=False)
    ]
    while history.events < EVENTS:
        history.record(writer, rng.randint(150, 600))
        for runner in runners:  # some fall behind for a while, some keep up
            for _ in range(rng.randint(1, 25)):
                runner.step()
    _breach_disproved_by_a_late_logged_wait(services, clock)
    _breach_withdrawn_by_a_late_logged_call(services, clock)
    import_advisories(services)
    register_all(services, [(c.customer_id, c.contact) for c in history.customers])
    for runner in runners:
        runner.step()  # the directory's runner takes part of it in a small batch
        runner.catch_up()


def _breach_disproved_by_a_late_logged_wait(services: Services, clock: ManualClock) -> None:
    """A critical case whose first-response breach the scheduled check records,
    disproved when an agent logs that the case has waited on the customer since
    half an hour before the deadline (ADR 33)."""
    desk, agent = services.desk, Caller.new(AGENT, Source.API)
    clock.advance(timedelta(days=1))
    critical = intake(severity=Severity.CRITICAL)
    case_id = desk.receive_case(agent, cmd.TakeIn(received_at=clock.now(), **critical)).aggregate_id
    deadline = desk.case(case_id).clock(ClockKind.FIRST_RESPONSE).deadline
    assert deadline is not None
    clock.set(deadline + timedelta(hours=1))
    breaches = desk.evaluate_service_clocks(SCHEDULER_CHECK, case_id, clock.now())
    assert ClockKind.FIRST_RESPONSE in {b.clock for b in breaches}
    clock.advance(timedelta(minutes=10))
    desk.handle(
        agent.at(deadline - timedelta(minutes=30)),
        case_id,
        cmd.WaitOnCustomer("Asked for the message trace"),
    )
    assert desk.case(case_id).clock(ClockKind.FIRST_RESPONSE).breached_at is None


def _breach_withdrawn_by_a_late_logged_call(services: Services, clock: ManualClock) -> None:
    """A critical case whose first-response breach the scheduled check records,
    withdrawn when an agent logs the call made before the deadline; a later check
    records the breach of the update the call promised, and nothing follows it."""
    desk, agent = services.desk, Caller.new(AGENT, Source.API)
    clock.advance(timedelta(days=1))
    critical = intake(severity=Severity.CRITICAL)
    case_id = desk.receive_case(agent, cmd.TakeIn(received_at=clock.now(), **critical)).aggregate_id
    deadline = desk.case(case_id).clock(ClockKind.FIRST_RESPONSE).deadline
    assert deadline is not None
    clock.set(deadline + timedelta(hours=1))
    breaches = desk.evaluate_service_clocks(SCHEDULER_CHECK, case_id, clock.now())
    assert ClockKind.FIRST_RESPONSE in {b.clock for b in breaches}
    clock.advance(timedelta(minutes=10))
    desk.handle(
        agent.at(deadline - timedelta(minutes=30)),
        case_id,
        cmd.RecordCommunication(Direction.OUTBOUND, Channel.PHONE, "Called the customer back"),
    )
    update_due = desk.case(case_id).clock(ClockKind.NEXT_UPDATE).deadline
    assert update_due is not None
    clock.set(max(clock.now(), update_due) + timedelta(hours=1))
    breaches = desk.evaluate_service_clocks(SCHEDULER_CHECK, case_id, clock.now())
    assert ClockKind.NEXT_UPDATE in {b.clock for b in breaches}


def _cycle(values: tuple[int, ...]) -> Iterator[int]:
    while True:
        yield from values


def _case_events(services: Services) -> tuple[list[AuditedAggregate.Event], list[int]]:
    recorder, mapper = services.log.recorder, services.log.mapper
    head = recorder.max_notification_id() or 0
    topics = projection_named("case_timeline").topics()
    notifications = recorder.select_notifications(start=1, limit=head, stop=head, topics=topics)
    # The mapper types what it decodes as the library's protocol; these are the case's events.
    events = cast(
        "list[AuditedAggregate.Event]", [mapper.to_domain_event(n) for n in notifications]
    )
    return events, [n.id for n in notifications]


def as_uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def as_moment(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


# Live equals rebuilt ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PROJECTIONS))
def test_live_tables_equal_a_rebuild_from_scratch(live: LiveStore, name: str) -> None:
    """Tables kept live in small batches while events arrived are, row for row,
    the tables one large-batch catch-up builds from an empty start."""
    projection = projection_named(name)
    kept_live = projection_rows(live.db, projection)
    assert any(kept_live.values()), f"{name} has no rows: the history did not reach it"
    emptied(live.db, projection)
    runner = ProjectionRunner(live.services.log, projection, live.db, batch_size=5000)
    assert runner.catch_up() == len(positions_of(live.services.log, projection))
    assert projection_rows(live.db, projection) == kept_live


def test_the_history_holds_every_support_case_event(live: LiveStore) -> None:
    """The recorded history reaches every event type (clock facts included), so
    the comparisons above cover every handler — but those only the vendor's syncs
    and the outbox record, which tests/integration/vendor/ and outbox/ project."""
    seen = {type(e) for e in live.events}
    assert seen == set(HANDLES) - RECORDED_FROM_OUTSIDE
    assert len(live.events) >= EVENTS


# Case queue -------------------------------------------------------------------


def _pages(view: CaseQueueView, where: CaseFilter, sort: str, descending: bool) -> list[UUID]:
    """Every case the filter matches, read three at a time with keyset `after`."""
    column = view.SORTS[sort]
    ids: list[UUID] = []
    after = None
    while True:
        page = view.page(where, sort=sort, descending=descending, limit=3, after=after)
        ids += [as_uuid(row["case_id"]) for row in page]
        if len(page) < 3:
            return ids
        last = page[-1]
        after = (as_moment(last[column]), as_uuid(last["case_id"]))


def _last_update(live: LiveStore) -> dict[UUID, datetime]:
    """When each case last changed by someone's act: clock facts do not count."""
    return {
        e.originator_id: e.meta.occurred_at for e in live.events if not isinstance(e, ClockFact)
    }


def test_queue_pages_a_customers_cases_by_status_newest_first(live: LiveStore) -> None:
    """Filtering by customer and status and paging newest first returns exactly
    the matching cases, in received order, with no duplicates across pages."""
    cases = live.cases()
    busiest = Counter(c.customer_id for c in cases).most_common(1)[0][0]
    view = CaseQueueView(live.db)
    checked = 0
    for status in {c.status for c in cases if c.customer_id == busiest}:
        expected = sorted(
            (c for c in cases if c.customer_id == busiest and c.status is status),
            key=lambda c: (c.received_at, c.id),
            reverse=True,
        )
        where = CaseFilter(customer_id=busiest, status=status.value)
        assert _pages(view, where, "received", True) == [c.id for c in expected]
        checked += len(expected)
    assert checked == sum(c.customer_id == busiest for c in cases) > 6


def test_queue_sorts_by_last_update_and_filters_by_severity(live: LiveStore) -> None:
    """Status plus severity, oldest update first: the cases whose last event is
    oldest come first (the agent's "what has been waiting longest")."""
    cases, last_update = live.cases(), _last_update(live)
    status, severity = Counter((c.status, c.severity) for c in cases).most_common(1)[0][0]
    expected = sorted(
        (c for c in cases if c.status is status and c.severity is severity),
        key=lambda c: (last_update[c.id], c.id),
    )
    where = CaseFilter(status=status.value, severity=severity.value)
    assert _pages(CaseQueueView(live.db), where, "last_update", False) == [c.id for c in expected]


def test_queue_rows_take_the_version_of_clock_facts_but_not_their_moment(
    live: LiveStore,
) -> None:
    """A clock fact is no change anyone made to the case: the scheduled check's
    breach moves the row's version and position (the version is the ETag a
    client sends back as If-Match) but not its last update, which stays at the
    last of the case's own events."""
    withdrawn = next(
        e for e in live.events if isinstance(e, SupportCase.ServiceClockBreachWithdrawn)
    )
    case_id = withdrawn.originator_id
    events = [e for e in live.events if e.originator_id == case_id]
    last_own = [e for e in events if not isinstance(e, ClockFact)][-1]
    assert isinstance(events[-1], SupportCase.ServiceClockBreached)
    assert events[-1].meta.source is Source.SCHEDULER
    assert events[-1].meta.occurred_at > last_own.meta.occurred_at
    row = CaseQueueView(live.db).get(case_id)
    assert row is not None
    assert (
        row["version"] == events[-1].originator_version == live.services.desk.case(case_id).version
    )
    assert row["position"] == live.positions[live.events.index(events[-1])]
    assert as_moment(row["last_update_at"]) == last_own.meta.occurred_at


def test_queue_filters_by_assignee_category_and_received_range(live: LiveStore) -> None:
    """Assignee, category and a received-at window combine (AND)."""
    cases = live.cases()
    agent = Counter(c.assignee for c in cases if c.assignee).most_common(1)[0][0]
    start, end = START + timedelta(days=3), START + timedelta(days=10)
    expected = sorted(
        (
            c
            for c in cases
            if c.assignee == agent
            and c.category is CaseCategory.TECHNICAL
            and start <= c.received_at < end
        ),
        key=lambda c: (c.received_at, c.id),
    )
    where = CaseFilter(
        assignee=agent, category="technical", received_from=start, received_before=end
    )
    found = _pages(CaseQueueView(live.db), where, "received", False)
    assert found == [c.id for c in expected]
    assert found


# Case timeline ----------------------------------------------------------------


def test_timeline_shows_what_an_agent_did_on_a_day(live: LiveStore) -> None:
    """By actor and day: exactly that principal's events that occurred that day,
    in the order they occurred."""
    positions = dict(
        zip(
            ((e.originator_id, e.originator_version) for e in live.events),
            live.positions,
            strict=True,
        )
    )
    (agent, day), _ = Counter(
        (e.meta.actor.principal_id, e.meta.occurred_at.date())
        for e in live.events
        if e.meta.actor.principal_id.startswith("agent-")
    ).most_common(1)[0]
    start = datetime.combine(day, datetime.min.time(), tzinfo=START.tzinfo)
    end = start + timedelta(days=1)
    expected = sorted(
        (
            e
            for e in live.events
            if e.meta.actor.principal_id == agent and start <= e.meta.occurred_at < end
        ),
        key=lambda e: (e.meta.occurred_at, positions[(e.originator_id, e.originator_version)]),
    )
    rows = CaseTimelineView(live.db).by_actor(agent, start, end)
    assert [(as_uuid(r["case_id"]), r["version"]) for r in rows] == [
        (e.originator_id, e.originator_version) for e in expected
    ]
    assert {r["role"] for r in rows} == {"helpdesk_agent"}


def test_timeline_of_a_case_reads_like_its_audit_trail(live: LiveStore) -> None:
    """A case's timeline lists its events in version order with the short type
    name and a one-line summary; the escalation's line names the vehicle."""
    escalated = next(e for e in live.events if isinstance(e, SupportCase.Escalated) and e.vehicle)
    history = live.services.audit.history(SupportCase, escalated.originator_id)
    rows = CaseTimelineView(live.db).for_case(escalated.originator_id)
    assert [(r["version"], r["event_type"]) for r in rows] == [
        (h.version, h.event_type.removeprefix("SupportCase.")) for h in history
    ]
    line = next(r["summary"] for r in rows if r["event_type"] == "Escalated")
    assert escalated.vehicle is not None
    assert escalated.vehicle.value.replace("_", " ") in line
    assert all("\n" not in r["summary"] for r in rows)


def test_timeline_groups_a_request_by_correlation_id(live: LiveStore) -> None:
    """A customer's reply that ends a wait records two events of the case under
    one request, and the clock facts of resuming the customer's clocks; the
    correlation id finds them all, in log order."""
    ended = next(
        e
        for e in live.events
        if isinstance(e, SupportCase.WaitingOnCustomerEnded) and e.reason == "customer replied"
    )
    rows = CaseTimelineView(live.db).by_correlation(ended.meta.correlation_id)
    request = [e for e in live.events if e.meta.correlation_id == ended.meta.correlation_id]
    assert [(as_uuid(r["case_id"]), r["version"]) for r in rows] == [
        (e.originator_id, e.originator_version) for e in request
    ]
    own = [r["event_type"] for r in rows if not is_clock_fact(r["event_type"])]
    assert own == ["CommunicationRecorded", "WaitingOnCustomerEnded"]
    assert "ServiceClockResumed" in {r["event_type"] for r in rows}


def test_timeline_between_two_moments(live: LiveStore) -> None:
    """A time range returns the events that occurred in it, oldest first."""
    start = START + timedelta(days=2, hours=1)
    end = start + timedelta(hours=2)
    expected = [e for e in live.events if start <= e.meta.occurred_at < end]
    rows = CaseTimelineView(live.db).between(start, end)
    assert len(rows) == len(expected) > 0
    moments = [as_moment(r["occurred_at"]) for r in rows]
    assert moments == sorted(moments)


# Escalation register ----------------------------------------------------------


def test_register_counts_by_vehicle_and_category_match_the_cases(live: LiveStore) -> None:
    """Counts per vehicle and problem category equal the escalations the
    aggregates hold (vehicle None: to the indirect provider)."""
    expected = Counter(
        (e.vehicle.value if e.vehicle else None, e.category.value)
        for case in live.cases()
        for e in case.escalations
    )
    counts = EscalationRegisterView(live.db).counts_by_vehicle_and_category()
    assert counts == dict(expected)
    assert None in {vehicle for vehicle, _ in counts}
    assert len({vehicle for vehicle, _ in counts}) >= 3


def test_register_rows_of_a_customer_match_its_escalations(live: LiveStore) -> None:
    """A customer's register rows carry each escalation's target, reference,
    update count and hand-back moment as the aggregate holds them."""
    cases = live.cases()
    customer = Counter(c.customer_id for c in cases for _ in c.escalations).most_common(1)[0][0]
    expected = sorted(
        (
            (c.id, e.number, e.target.value, e.vendor_reference, len(e.updates), e.handed_back_at)
            for c in cases
            if c.customer_id == customer
            for e in c.escalations
        ),
        key=lambda t: (t[0], t[1]),
    )
    rows = EscalationRegisterView(live.db).for_customer(customer)
    found = sorted(
        (
            as_uuid(r["case_id"]),
            r["number"],
            r["target"],
            r["vendor_reference"],
            r["vendor_update_count"],
            as_moment(r["handed_back_at"]) if r["handed_back_at"] else None,
        )
        for r in rows
    )
    assert found == expected


def test_register_by_period(live: LiveStore) -> None:
    """Escalations opened in a period, and the counts restricted to it."""
    start, end = START + timedelta(days=4), START + timedelta(days=12)
    expected = [
        (c.id, e.number)
        for c in live.cases()
        for e in c.escalations
        if start <= e.escalated_at < end
    ]
    view = EscalationRegisterView(live.db)
    rows = view.in_period(start, end)
    assert sorted((as_uuid(r["case_id"]), r["number"]) for r in rows) == sorted(expected)
    assert sum(view.counts_by_vehicle_and_category(start, end).values()) == len(expected)
