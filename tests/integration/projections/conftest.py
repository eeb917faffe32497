"""Stores for the projection tests: SQLite and PostgreSQL (projections need a
real database), each holding a generated support history.

The history is recorded once per session and store kind, through the support
desk, then copied for each test (the SQLite backup API; a PostgreSQL database
created from the recorded one as its template), so every test starts from the
same few thousand events without paying for recording them again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from eventsourcing.utils import get_topic

from cases.bootstrap import bootstrap
from cases.clock import ManualClock
from cases.db.database import ProjectionDatabase
from cases.db.schema import migrate
from cases.domain.support_case import SupportCase
from cases.persistence.database_url import parse_database_url
from cases.settings import Settings
from tests.support.advisory_history import import_advisories
from tests.support.customers import register_all
from tests.support.history import START, DeskWriter, SupportHistory
from tests.support.postgres import database_copy, throwaway_database

HISTORY_EVENTS = 2000
STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@dataclass(frozen=True, slots=True)
class RecordedHistory:
    """A recorded store: where, how many support-case events, when it ended."""

    url: str
    case_events: int
    cases: int
    head: int
    ended_at: datetime


def _record(url: str) -> RecordedHistory:
    migrate(parse_database_url(url))
    clock = ManualClock(START)
    services = bootstrap(Settings(database_url=url, snapshot_interval=5), clock)
    try:
        history = SupportHistory(seed=11)
        events = history.record(DeskWriter(services, clock), HISTORY_EVENTS)
        import_advisories(services)
        register_all(services, [(c.customer_id, c.contact) for c in history.customers])
        head = services.log.head()
        received = services.log.recorder.select_notifications(
            start=1, limit=head, topics=[get_topic(SupportCase.Received)]
        )
    finally:
        services.close()
    return RecordedHistory(url, events, len(received), head, clock.now())


@pytest.fixture(scope="session")
def sqlite_history(tmp_path_factory: pytest.TempPathFactory) -> RecordedHistory:
    return _record(f"sqlite:///{tmp_path_factory.mktemp('history') / 'history.db'}")


@pytest.fixture(scope="session")
def postgres_history() -> Iterator[RecordedHistory]:
    with throwaway_database() as url:
        yield _record(url)


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def recorded(store_kind: str, request: pytest.FixtureRequest) -> RecordedHistory:
    history: RecordedHistory = request.getfixturevalue(f"{store_kind}_history")
    return history


@pytest.fixture
def database_url(recorded: RecordedHistory, tmp_path: Path) -> Iterator[str]:
    """A migrated store holding a copy of the recorded history."""
    with database_copy(recorded.url, tmp_path) as url:
        yield url


@pytest.fixture
def empty_database_url(store_kind: str, tmp_path: Path) -> Iterator[str]:
    """A store with nothing in it: no events, no migrations."""
    if store_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with throwaway_database() as url:
        yield url


@pytest.fixture
def clock(recorded: RecordedHistory) -> ManualClock:
    """A clock that starts a day after the recorded history ends."""
    return ManualClock(recorded.ended_at + timedelta(days=1))


@pytest.fixture
def db(settings: Settings) -> Iterator[ProjectionDatabase]:
    database = ProjectionDatabase(parse_database_url(settings.effective_database_url))
    yield database
    database.close()
