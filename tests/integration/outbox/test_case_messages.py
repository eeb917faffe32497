"""Case messages on SQLite and PostgreSQL with sealed personal data: an outbound
communication goes to the case's contact, an inbound one to nobody; once the
contact is erased, their message that was not sent is never sent and its
recipient, subject and body are blanked; the other's delivery is recorded on
its case, naming the recipient (a personal field, sealed under the case)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.db.database import open_projection_db
from cases.domain import case_commands as cmd
from cases.domain import customer_commands as cc
from cases.domain.case_values import Direction
from cases.domain.customer_values import CommunicationPreferences, OptionalNotice
from cases.domain.metadata import Actor, Role
from cases.domain.support_case import SupportCase
from cases.domain.support_terms import Channel, Severity
from cases.followers.outbox import delivery_workers, outbox_runners
from cases.outbox.derivation import OutboxProjection
from cases.outbox.messages import Status
from cases.outbox.store import OutboxStore
from cases.persistence.personal_data import ERASED
from cases.persistence.subject_keys import MasterKey
from cases.projections.projection import PositionedEvent
from tests.integration.outbox.conftest import outbox_settings
from tests.support.builders import T0, caller, intake, terms
from tests.support.contact_book import FixedContactBook
from tests.support.customers import register
from tests.support.mail_server import mail_server

MASTER = MasterKey.generate()
ADMIN = caller(Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN))


@pytest.fixture
def desk(store_url: str, tmp_path: Path) -> Iterator[tuple[Services, ManualClock]]:
    settings = outbox_settings(store_url, tmp_path, master_key=MASTER.as_text())
    clock = ManualClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    services = bootstrap(settings, clock)
    try:
        services.desk.publish_terms(caller(), terms(), effective_from=T0)
        yield services, clock
    finally:
        services.close()


def test_replies_reach_the_contact_and_an_erased_contacts_never_leave(
    store_url: str, tmp_path: Path, desk: tuple[Services, ManualClock]
) -> None:
    services, clock = desk
    with mail_server() as (port, server):
        settings = outbox_settings(
            store_url,
            tmp_path,
            master_key=MASTER.as_text(),
            smtp_host="127.0.0.1",
            smtp_port=port,
        )
        db = open_projection_db(settings)
        try:
            first = services.desk.receive_case(caller(), cmd.TakeIn(**intake())).aggregate_id
            second = services.desk.receive_case(caller(), cmd.TakeIn(**intake())).aggregate_id
            for case_id in (first, second):
                services.desk.handle(
                    caller(),
                    case_id,
                    cmd.RecordCommunication(
                        direction=Direction.INBOUND, channel=Channel.EMAIL, summary="Any news?"
                    ),
                )
                services.desk.handle(
                    caller(),
                    case_id,
                    cmd.RecordCommunication(
                        direction=Direction.OUTBOUND,
                        channel=Channel.EMAIL,
                        summary="We restarted the transport service; mail flows again.",
                    ),
                )
            queue = outbox_runners(settings, services.log, lambda: db, clock=clock)()
            queue.catch_up()
            outbox = OutboxStore(db)
            assert outbox.counts()[Status.PENDING] == 2
            services.privacy.erase(ADMIN, second, "Article 17 request 2026-115")
            queue.catch_up()
            counts = outbox.counts()
            assert (counts[Status.PENDING], counts[Status.ERASED]) == (1, 1)
            [erased] = [m for m in outbox.listed() if m.status is Status.ERASED]
            assert (erased.recipient, erased.subject, erased.body) == (ERASED, ERASED, ERASED)
            make = delivery_workers(settings, services.log, lambda: open_projection_db(settings))
            assert make is not None
            worker = make()
            try:
                assert worker.drain() == 1
            finally:
                worker.db.close()
            [mail] = server.messages()
            assert mail["To"] == "karin.lund@contoso.example"
            assert "mail flows again" in mail.get_content()
            assert mail["Subject"] == "Your case: Mail to external recipients is delayed"
            [delivered] = [
                e
                for e in services.log.events.get(first)
                if isinstance(e, SupportCase.DeliveryRecorded)
            ]
            assert delivered.delivery.recipient == "karin.lund@contoso.example"
        finally:
            db.close()


def test_a_customer_that_declined_case_updates_gets_no_reply_by_mail(
    store_url: str, tmp_path: Path, desk: tuple[Services, ManualClock]
) -> None:
    """Contoso declined case updates: an outbound communication on its case queues
    nothing (the partner tells it through the channel it chose, by hand)."""
    services, clock = desk
    settings = outbox_settings(store_url, tmp_path, master_key=MASTER.as_text())
    declined = CommunicationPreferences(opted_out=(OptionalNotice.CASE_UPDATES,))
    book = FixedContactBook({}, preferences={"contoso": declined})
    db = open_projection_db(settings)
    try:
        case_id = services.desk.receive_case(caller(), cmd.TakeIn(**intake())).aggregate_id
        services.desk.handle(
            caller(),
            case_id,
            cmd.RecordCommunication(Direction.OUTBOUND, Channel.EMAIL, "We restarted it."),
        )
        queue = outbox_runners(settings, services.log, lambda: db, contacts=book, clock=clock)()
        assert queue.catch_up() > 0
        assert OutboxStore(db).listed() == []
    finally:
        db.close()


def test_a_case_kept_between_batches_follows_its_events_and_its_erasure(
    store_url: str, tmp_path: Path, desk: tuple[Services, ManualClock]
) -> None:
    """The follower keeps the case it last derived from and brings it forward: a
    reply after more notes still reaches the contact, with the case's title;
    after the contact's erasure a reply goes to nobody, though the copy kept
    before it held the address."""
    services, clock = desk
    settings = outbox_settings(store_url, tmp_path, master_key=MASTER.as_text())
    db = open_projection_db(settings)

    def reply(case_id: UUID, summary: str) -> None:
        services.desk.handle(
            caller(), case_id, cmd.RecordCommunication(Direction.OUTBOUND, Channel.EMAIL, summary)
        )

    try:
        case_id = services.desk.receive_case(caller(), cmd.TakeIn(**intake())).aggregate_id
        queue = outbox_runners(settings, services.log, lambda: db, clock=clock)()
        reply(case_id, "First reply.")
        assert queue.catch_up() > 0
        for n in range(3):
            services.desk.handle(caller(), case_id, cmd.AddNote(f"note {n}"))
        reply(case_id, "Second reply.")
        assert queue.catch_up() > 0
        outbox = OutboxStore(db)
        listed = outbox.listed()
        assert [m.recipient for m in listed] == ["karin.lund@contoso.example"] * 2
        assert all("Mail to external recipients is delayed" in m.subject for m in listed)
        services.privacy.erase(ADMIN, case_id, "Article 17 request 2026-116")
        reply(case_id, "Third reply.")
        assert queue.catch_up() > 0
        after = outbox.listed()
        assert len(after) == 2
        assert {m.status for m in after} == {Status.ERASED}
        assert all(m.recipient == ERASED for m in after)
    finally:
        db.close()


def test_a_kept_case_follows_the_batchs_own_events_to_each_alert(
    store_url: str, tmp_path: Path, desk: tuple[Services, ManualClock]
) -> None:
    """The follower keeps the case of its last reply and brings it forward by every
    event of the case it reads, derived from or not: after an assignment and a change
    of severity in the next batch, the breaches recorded there alert the new agent
    and name the new severity."""
    services, clock = desk
    settings = outbox_settings(store_url, tmp_path, master_key=MASTER.as_text())
    db = open_projection_db(settings)
    try:
        case_id = services.desk.receive_case(caller(), cmd.TakeIn(**intake())).aggregate_id
        queue = outbox_runners(settings, services.log, lambda: db, clock=clock)()
        services.desk.handle(
            caller(), case_id, cmd.RecordCommunication(Direction.OUTBOUND, Channel.EMAIL, "Hello.")
        )
        assert queue.catch_up() > 0
        services.desk.handle(caller(), case_id, cmd.Assign("omar@partner.example"))
        services.desk.handle(caller(), case_id, cmd.ChangeSeverity(Severity.CRITICAL, "Spreads"))
        clock.advance(timedelta(days=30))
        services.desk.handle(caller(), case_id, cmd.AddNote("Still queued."))  # breaches first
        assert queue.catch_up() > 0
        alerts = [m for m in OutboxStore(db).listed() if m.kind == "breach_alert"]
        assert alerts
        assert {m.recipient for m in alerts} == {"omar@partner.example"}
        assert all("(critical, Exchange Online)" in m.body for m in alerts)
        assert all("Assigned to omar@partner.example." in m.body for m in alerts)
    finally:
        db.close()


def test_a_retried_batch_derives_from_the_case_as_it_was(
    store_url: str, tmp_path: Path, desk: tuple[Services, ManualClock]
) -> None:
    """A batch derived twice (its transaction failed after its copies moved on)
    derives the same messages the second time: the copy, ahead of the batch, is
    dropped and the case loaded at the event's version, so the breach alerts still
    name the agent assigned then, not the one assigned after."""
    services, clock = desk
    settings = outbox_settings(store_url, tmp_path, master_key=MASTER.as_text())
    case_id = services.desk.receive_case(caller(), cmd.TakeIn(**intake())).aggregate_id
    services.desk.handle(caller(), case_id, cmd.Assign("omar@partner.example"))
    services.desk.handle(
        caller(), case_id, cmd.RecordCommunication(Direction.OUTBOUND, Channel.EMAIL, "Hello.")
    )
    clock.advance(timedelta(days=30))
    services.desk.handle(caller(), case_id, cmd.AddNote("Still queued."))  # breaches first
    services.desk.handle(caller(), case_id, cmd.Assign("lena@partner.example"))
    projection = OutboxProjection(services.log, settings, clock=clock)
    batch = [
        PositionedEvent(n.id, services.log.mapper.to_domain_event(n))
        for n in services.log.recorder.select_notifications(
            start=1, limit=1000, topics=OutboxProjection.topics()
        )
    ]
    first = [m for p in batch for m in projection.messages_for(p.event)]
    again = [m for p in batch for m in projection.messages_for(p.event)]
    assert again == first
    alerts = [m for m in first if m.kind == "breach_alert"]
    assert alerts
    assert {m.recipient for m in alerts} == {"omar@partner.example"}


def test_preferences_are_read_for_each_batch_as_it_is_derived(
    store_url: str, tmp_path: Path, desk: tuple[Services, ManualClock]
) -> None:
    """The follower reads a customer's preferences from the directory once per batch,
    when it derives the batch (ADR 60): Contoso declines case updates after the
    first batch, so the next batch's replies go to nobody, the one recorded before
    the decline too; after it takes them again, the next batch's reply is queued."""
    services, clock = desk
    settings = outbox_settings(store_url, tmp_path, master_key=MASTER.as_text())
    services.customers.register(ADMIN, register("contoso"))
    declined = CommunicationPreferences(opted_out=(OptionalNotice.CASE_UPDATES,))
    db = open_projection_db(settings)

    def reply(summary: str) -> None:
        services.desk.handle(
            caller(), case_id, cmd.RecordCommunication(Direction.OUTBOUND, Channel.EMAIL, summary)
        )

    def prefer(preferences: CommunicationPreferences) -> None:
        services.customers.handle(ADMIN, "contoso", cc.ChangePreferences(preferences))

    try:
        case_id = services.desk.receive_case(caller(), cmd.TakeIn(**intake())).aggregate_id
        queue = outbox_runners(settings, services.log, lambda: db, clock=clock)()
        reply("First reply.")
        assert queue.catch_up() > 0
        reply("Second reply.")
        prefer(declined)
        reply("Third reply.")
        assert queue.catch_up() > 0
        prefer(CommunicationPreferences())
        reply("Fourth reply.")
        assert queue.catch_up() > 0
        bodies = [m.body for m in OutboxStore(db).listed()]
        sent = {s for s in ("First", "Second", "Third", "Fourth") for b in bodies if s in b}
        assert sent == {"First", "Fourth"}
    finally:
        db.close()
