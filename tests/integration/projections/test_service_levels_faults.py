"""The service levels exactly once under faults. Their batch is the runner's
heaviest: on PostgreSQL its writes go in a pipeline and only the commit waits
for them (ADR 86), and a batch that passes a month start seals the month in the
same transaction (ADR 30). A runner SIGKILLed once a batch's writes and seal are
sent, and a commit the server made whose answer never comes back (the runner
cannot know it was made), must leave tables that a restarted runner brings to exactly what
an uninterrupted catch-up builds: every row of the five tables and of the seals.

The history starts two days before April, so the month's seal falls in a batch
the faults hit."""

from __future__ import annotations

import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import psycopg
import pytest

from cases.clock import wait_until
from cases.db.database import ProjectionDatabase, Row
from cases.domain.audited import AuditedAggregate
from cases.followers.runner import ProjectionRunner
from cases.followers.tracking import Tracking
from cases.persistence.database_url import parse_database_url
from cases.persistence.event_log import EventLog
from cases.persistence.store import open_event_log
from cases.projections.projection import LIVE, PositionedEvent, TableNames
from cases.reports.compliance_seal import GRACE, seal_state
from cases.reports.service_levels import ServiceLevelsProjection
from cases.settings import Settings
from tests.integration.projections.conftest import STORES
from tests.support.month_end_history import record_month_end
from tests.support.postgres import database_copy, throwaway_database
from tests.support.projection_tables import projection_rows
from tests.support.tcp_proxy import TcpProxy, tcp_proxy
from tests.support.worker_processes import WORKER_DEADLINE, Workers

APRIL = datetime(2026, 4, 1, tzinfo=UTC)
BATCH = 89  # events a batch: the history takes about a dozen


@pytest.fixture(params=STORES, scope="module")
def history(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A store holding a support history over the end of March (not projected)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('faults') / 'history.db'}"
        record_month_end(url)
        yield url
        return
    with throwaway_database() as url:
        record_month_end(url)
        yield url


@pytest.fixture(scope="module")
def uninterrupted(history: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Row]]:
    """Every service-level table as one runner builds it, uninterrupted."""
    with (
        database_copy(history, tmp_path_factory.mktemp("uninterrupted")) as url,
        opened(url) as (log, db),
    ):
        ProjectionRunner(log, ServiceLevelsProjection(), db, batch_size=BATCH).catch_up()
        return projection_rows(db, ServiceLevelsProjection())


@pytest.fixture
def store(history: str, tmp_path: Path) -> Iterator[str]:
    with database_copy(history, tmp_path) as url:
        yield url


@contextmanager
def opened(url: str, db_url: str | None = None) -> Iterator[tuple[EventLog, ProjectionDatabase]]:
    """The store's event log, and a projection database on `url` (or `db_url`)."""
    log = open_event_log(Settings(database_url=url))
    db = ProjectionDatabase(parse_database_url(db_url or url))
    try:
        yield log, db
    finally:
        db.close()
        log.close()


def april_position(log: EventLog) -> int:
    """The log position of the first service-level event recorded `GRACE` into
    April: the batch holding it seals March's end (`seal_after`)."""
    topics = ServiceLevelsProjection().topics()
    notifications = log.recorder.select_notifications(start=1, limit=log.head(), topics=topics)
    for notification in notifications:
        event = log.mapper.to_domain_event(notification)
        assert isinstance(event, AuditedAggregate.Event)
        if event.timestamp >= APRIL + GRACE:
            return notification.id
    raise AssertionError("the history never reaches April")


def seals(db: ProjectionDatabase) -> tuple[datetime, ...]:
    state = seal_state(db, LIVE)
    return () if state is None else state.seals


def finished_by_a_new_runner(
    log: EventLog, db: ProjectionDatabase, uninterrupted: dict[str, list[Row]]
) -> None:
    """A runner started anew catches up; the tables are the uninterrupted ones."""
    runner = ProjectionRunner(log, ServiceLevelsProjection(), db, batch_size=BATCH)
    runner.catch_up()
    assert runner.position == log.head()
    assert APRIL in seals(db)
    assert projection_rows(db, ServiceLevelsProjection()) == uninterrupted


def test_a_runner_killed_after_a_batch_sent_its_writes_and_seal_leaves_no_trace_of_it(
    store: str, tmp_path: Path, uninterrupted: dict[str, list[Row]]
) -> None:
    """SIGKILL while the batch that seals March's end waits to commit, its writes
    and seal sent: the batches before it stay, nothing of it does (no April seal),
    and a new runner builds exactly the uninterrupted tables."""
    with opened(store) as (log, db):
        april = april_position(log)
    workers = Workers(store, tmp_path)
    try:
        killed = workers.start(
            "killed", "--service-levels", "--slow", "0.5", "--batch-size", str(BATCH)
        )
        assert wait_until(
            lambda: any(
                first <= april <= last for first, last in workers.written_batches("killed")
            ),
            WORKER_DEADLINE,
        )
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
    finally:
        workers.stop_all()
    sealing = next(b for b in workers.batches("killed") if b[0] <= april <= b[1])
    with opened(store) as (log, db):
        tracking = Tracking(db).position(ServiceLevelsProjection.name)
        assert 0 < tracking < sealing[0]
        assert APRIL not in seals(db)
        finished_by_a_new_runner(log, db, uninterrupted)


class LosingCommits(ServiceLevelsProjection):
    """The service levels, arming the proxy in front of their database to lose
    the answer to the commit of the batch holding `at`."""

    name: ClassVar[str] = ServiceLevelsProjection.name

    def __init__(self, proxy: TcpProxy, at: int) -> None:
        self.proxy = proxy
        self.at: int | None = at

    def apply(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        super().apply(db, events, tables)
        if self.at is not None and events[-1].position >= self.at:
            self.proxy.arm(b"COMMIT", answer=b"COMMIT\x00")  # its command tag
            self.at = None


@pytest.mark.postgres
@pytest.mark.parametrize("history", [STORES[1]], indirect=True)
def test_a_batch_committed_whose_answer_is_lost_is_applied_once(
    store: str, uninterrupted: dict[str, list[Row]]
) -> None:
    """The server commits the batch that seals March's end, and the answer is
    lost with the connection: the runner raises, not knowing. A new runner on the
    connection made again goes on from what is stored (past that batch), and the
    tables are the uninterrupted ones: the batch and its seal applied once."""
    url = parse_database_url(store)
    with (
        tcp_proxy(url.host, url.port) as proxy,
        opened(store, proxy.url_to(store)) as (log, db),
    ):
        april = april_position(log)
        runner = ProjectionRunner(log, LosingCommits(proxy, april), db, batch_size=BATCH)
        with pytest.raises(psycopg.OperationalError):
            runner.catch_up()
        assert proxy.answers_lost == 1
        with opened(store) as (_, direct):  # what the server holds
            assert Tracking(direct).position(ServiceLevelsProjection.name) >= april
            assert APRIL in seals(direct)
        db.connect()
        assert not db.pipelining
        finished_by_a_new_runner(log, db, uninterrupted)
