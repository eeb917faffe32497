"""A support history over the end of March, for the month seals' tests: recorded
through the support desk, not projected. One runner seals March and April."""

from __future__ import annotations

from datetime import UTC, datetime

from cases.bootstrap import bootstrap
from cases.clock import ManualClock
from cases.db.schema import migrate
from cases.persistence.database_url import parse_database_url
from cases.settings import Settings
from tests.support.history import DeskWriter, SupportHistory

START = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # a Monday, two days before April


def record_month_end(url: str) -> None:
    """Migrate the store at `url` and record the history in it."""
    migrate(parse_database_url(url))
    clock = ManualClock(START)
    services = bootstrap(Settings(database_url=url, snapshot_interval=5), clock)
    try:
        SupportHistory(seed=5, cases_per_day=40, start=START).record(
            DeskWriter(services, clock), 1500
        )
    finally:
        services.close()
