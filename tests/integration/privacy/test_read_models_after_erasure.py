"""Read models drop a subject's plaintext on its erasure, and a rebuild from the
events then gives the same tables (ADR 0044), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest

from cases.application.caller import Caller
from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.db.database import ProjectionDatabase, open_projection_db
from cases.domain.deliveries import Delivery, DeliveryOutcome, RecordDelivery
from cases.domain.metadata import Actor, Role, Source
from cases.followers.catalog import PROJECTIONS, projection_named
from cases.followers.runner import ProjectionRunner
from cases.projections.case_timeline import ERASED_SUFFIX, CaseTimelineProjection
from cases.settings import Settings
from tests.integration.privacy.test_sealed_store import PERSONAL_TEXTS
from tests.integration.test_support_desk import walk_a_case_through_escalation
from tests.support.builders import caller
from tests.support.plaintext import tables_holding
from tests.support.projection_tables import emptied, projection_rows

ADMIN = caller(Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN))
TEXT_READ_MODELS = ("case_queue", "case_timeline", "escalation_register")
TEXTS = [*PERSONAL_TEXTS, "Mail to external recipients is delayed"]  # and the title


@pytest.fixture
def read_db(sealed_settings: Settings) -> Iterator[ProjectionDatabase]:
    if sealed_settings.effective_database_url.startswith("memory"):
        pytest.skip("read models need SQLite or PostgreSQL")
    db = open_projection_db(sealed_settings)
    try:
        yield db
    finally:
        db.close()


def catch_up(services: Services, db: ProjectionDatabase, batch_size: int) -> None:
    for name in sorted(PROJECTIONS):
        ProjectionRunner(services.log, projection_named(name), db, batch_size=batch_size).catch_up()


def test_erasure_drops_plaintext_and_a_rebuild_equals_live(
    sealed: Services, sealed_settings: Settings, read_db: ProjectionDatabase, clock: ManualClock
) -> None:
    walk = walk_a_case_through_escalation(sealed, clock)
    catch_up(sealed, read_db, batch_size=3)
    url = sealed_settings.effective_database_url
    assert set(TEXT_READ_MODELS) <= set(tables_holding(url, sealed.log, TEXTS))  # kept live

    sealed.privacy.erase(ADMIN, walk.case.id, "Article 17 request 2026-114")
    catch_up(sealed, read_db, batch_size=3)

    assert tables_holding(url, sealed.log, TEXTS) == {}
    [queued] = read_db.fetchall("SELECT title, product FROM case_queue")
    assert tuple(queued) == ("erased", walk.case.product)
    summaries = [r[0] for r in read_db.fetchall("SELECT summary FROM case_timeline")]
    assert "NoteAdded" + ERASED_SUFFIX in summaries

    for name in TEXT_READ_MODELS:
        projection = projection_named(name)
        live = projection_rows(read_db, projection)
        emptied(read_db, projection)
        ProjectionRunner(sealed.log, projection, read_db, batch_size=5000).catch_up()
        assert projection_rows(read_db, projection) == live, name


def test_a_delivery_line_of_the_timeline_loses_its_recipient_on_erasure(
    sealed: Services, sealed_settings: Settings, read_db: ProjectionDatabase, clock: ManualClock
) -> None:
    """The timeline's line for a delivery names the recipient (a personal field
    inside the `Delivery` value): erasing the case's subject blanks it, live as
    in a rebuild."""
    walk = walk_a_case_through_escalation(sealed, clock)
    delivery = Delivery(
        uuid4(),
        "case_communication",
        "email",
        "karin.lund@contoso.example",
        DeliveryOutcome.DELIVERED,
        1,
        "250 OK",
    )
    outbox = Caller.new(Actor("outbox", Role.SYSTEM), Source.SCHEDULER)
    sealed.desk.handle(outbox, walk.case.id, RecordDelivery(delivery))
    timeline = CaseTimelineProjection()
    ProjectionRunner(sealed.log, timeline, read_db).catch_up()
    line = "SELECT summary FROM case_timeline WHERE event_type = 'DeliveryRecorded'"
    [[before]] = read_db.fetchall(line)
    assert "karin.lund@contoso.example" in str(before)
    sealed.privacy.erase(ADMIN, walk.case.id, "Article 17 request 2026-116")
    ProjectionRunner(sealed.log, timeline, read_db).catch_up()
    [[after]] = read_db.fetchall(line)
    assert after == "DeliveryRecorded" + ERASED_SUFFIX
    live = projection_rows(read_db, timeline)
    emptied(read_db, timeline)
    ProjectionRunner(sealed.log, timeline, read_db).catch_up()
    assert projection_rows(read_db, timeline) == live
