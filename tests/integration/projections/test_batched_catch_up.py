"""A catch-up in batches builds the same tables as one event at a time.

Every projection the followers keep, over a support and a billing history on
one timeline (recorded in bulk, as the catch-up benchmark records its million
events), on both stores: first one event per transaction, then batches of
1 000 from an empty start, then batches of a size that cuts the log anywhere,
read ahead while the batch before is applied and not (ADR 71 amendment).
The customer directory and the advisories have no events in this history and
are compared over the recorded desk history in `test_read_models`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cases.db.database import ProjectionDatabase
from cases.db.schema import migrate
from cases.followers.catalog import PROJECTIONS, projection_named
from cases.followers.runner import ProjectionRunner
from cases.persistence.database_url import parse_database_url
from cases.persistence.event_log import EventLog
from cases.persistence.store import store_env
from cases.projections.projection import Projection
from cases.settings import Settings
from tests.support.history import BulkWriter, SupportHistory
from tests.support.mixed_history import MixedHistory
from tests.support.postgres import sql_store
from tests.support.projection_tables import emptied, projection_rows

EVENTS = 1500
STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
ELSEWHERE = {"customer_directory", "advisories"}  # no events in this history


@pytest.fixture(scope="module", params=STORES)
def mixed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[EventLog, ProjectionDatabase]]:
    with sql_store(request.param, tmp_path_factory.mktemp("batched-catch-up")) as url:
        log = EventLog(store_env(parse_database_url(url), Settings(database_url=url)))
        db: ProjectionDatabase | None = None
        try:
            support = SupportHistory(seed=5, customers=40, cases_per_day=40)
            MixedHistory(BulkWriter(log, chunk=500), support, accounts=30).record(EVENTS)
            migrate(parse_database_url(url))
            db = ProjectionDatabase(parse_database_url(url))
            yield log, db
        finally:
            if db is not None:
                db.close()
            log.close()


def _caught_up(
    log: EventLog,
    db: ProjectionDatabase,
    projection: Projection,
    size: int,
    *,
    read_ahead: bool = True,
) -> int:
    emptied(db, projection)
    return ProjectionRunner(log, projection, db, batch_size=size, read_ahead=read_ahead).catch_up()


@pytest.mark.parametrize("name", sorted(set(PROJECTIONS) - ELSEWHERE))
def test_batches_build_what_one_event_at_a_time_builds(
    mixed: tuple[EventLog, ProjectionDatabase], name: str
) -> None:
    log, db = mixed
    projection = projection_named(name)
    applied = _caught_up(log, db, projection, 1, read_ahead=False)
    one_at_a_time = projection_rows(db, projection)
    assert applied > 0, f"the history did not reach {name}"
    assert any(one_at_a_time.values())
    for size, read_ahead in ((1000, True), (97, True), (97, False)):
        assert _caught_up(log, db, projection, size, read_ahead=read_ahead) == applied
        assert projection_rows(db, projection) == one_at_a_time, f"{size}, {read_ahead=}"


def test_the_history_mixes_support_and_billing_in_time_order(
    mixed: tuple[EventLog, ProjectionDatabase],
) -> None:
    log, _ = mixed
    head = log.head()
    events: list[Any] = [
        log.mapper.to_domain_event(n) for n in log.recorder.select_notifications(1, head)
    ]
    kinds = {type(e).__qualname__.split(".")[0] for e in events}
    assert {"SupportCase", "BillingAccount", "CollectionPolicy", "SupportOffering"} <= kinds
    moments = [e.timestamp for e in events]
    assert moments == sorted(moments)
