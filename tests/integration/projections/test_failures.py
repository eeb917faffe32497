"""Exactly once under failure: runners killed mid-batch, connections cut."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from cases.bootstrap import Services
from cases.clock import wait_until
from cases.db.database import ProjectionDatabase
from cases.domain import case_commands as cmd
from cases.followers.in_process import InProcessProjections
from cases.followers.rebuild import rebuild
from cases.followers.tracking import Tracking
from cases.projections.case_queue import CaseQueueProjection, CaseQueueView
from cases.settings import Settings
from tests.integration.projections.conftest import RecordedHistory
from tests.support.builders import caller, intake
from tests.support.catching_up import caught_up
from tests.support.projection_tables import applied_positions, positions_of, table_rows
from tests.support.projection_worker import create_applied_events
from tests.support.worker_processes import WORKER_DEADLINE, Workers


@pytest.fixture
def workers(database_url: str, tmp_path: Path) -> Iterator[Workers]:
    group = Workers(database_url, tmp_path)
    yield group
    group.stop_all()


@pytest.fixture
def audited(db: ProjectionDatabase) -> ProjectionDatabase:
    create_applied_events(db)
    return db


def assert_each_event_applied_once(services: Services, db: ProjectionDatabase) -> None:
    applied = [position for position, _ in applied_positions(db)]
    assert applied == positions_of(services.log, CaseQueueProjection())


def assert_tables_equal_a_rebuild(services: Services, db: ProjectionDatabase) -> None:
    live = table_rows(db, "case_queue")
    rebuild(services.log, CaseQueueProjection(), db)
    assert table_rows(db, "case_queue") == live


def test_a_runner_killed_mid_batch_restarts_and_applies_each_event_once(
    services: Services, audited: ProjectionDatabase, workers: Workers, recorded: RecordedHistory
) -> None:
    """SIGKILL inside the fourth batch: the three committed batches stay, the fourth
    leaves no trace; a restarted runner applies the rest, each event once, and the
    tables equal a rebuild from scratch."""
    killed = workers.start("killed", "--slow", "0.5", "--batch-size", "100")
    assert wait_until(lambda: len(workers.batches("killed")) >= 4, WORKER_DEADLINE)
    # Inside the batch: after its first writes, before its commit (it sleeps 0.5 s there).
    assert wait_until(lambda: workers.written("killed") >= 4, WORKER_DEADLINE)
    killed.send_signal(signal.SIGKILL)
    killed.wait(10)

    tracking = Tracking(audited).position("case_queue")
    killed_batch = workers.batches("killed")[3]
    assert 0 < tracking < killed_batch[0]
    applied = [position for position, _ in applied_positions(audited)]
    assert len(applied) == 300
    assert max(applied) <= tracking
    assert tracking < recorded.head

    restarted = workers.start("restarted", "--batch-size", "100")
    assert restarted.wait(60) == 0
    assert Tracking(audited).position("case_queue") == recorded.head
    assert workers.batches("restarted")[0][0] == killed_batch[0]
    assert_each_event_applied_once(services, audited)
    assert_tables_equal_a_rebuild(services, audited)


def test_when_the_leading_process_dies_the_waiting_one_takes_over(
    services: Services, audited: ProjectionDatabase, workers: Workers, recorded: RecordedHistory
) -> None:
    """Two runner processes: the second applies nothing while the first leads; the
    first is killed mid-batch; the second takes over from the last commit, and
    every event is applied once."""
    leader = workers.start("leader", "--loop", "--slow", "0.3", "--batch-size", "100")
    assert wait_until(lambda: len(workers.batches("leader")) >= 2, WORKER_DEADLINE)
    follower = workers.start("follower", "--loop", "--batch-size", "100")
    assert wait_until(lambda: len(workers.batches("leader")) >= 5, WORKER_DEADLINE)
    assert workers.batches("follower") == []
    # Inside its fifth batch, after its first writes (it sleeps 0.3 s there, before the commit).
    assert wait_until(lambda: workers.written("leader") >= 5, WORKER_DEADLINE)
    leader.send_signal(signal.SIGKILL)
    leader.wait(10)

    assert wait_until(
        lambda: Tracking(audited).position("case_queue") == recorded.head, WORKER_DEADLINE
    )
    follower.send_signal(signal.SIGTERM)
    assert follower.wait(10) == 0

    applied = applied_positions(audited)
    by_leader = [p for p, runner in applied if runner == "leader"]
    by_follower = [p for p, runner in applied if runner == "follower"]
    assert by_leader
    assert by_follower
    assert max(by_leader) < min(by_follower)
    assert workers.batches("follower")[0][0] == min(by_follower)
    assert_each_event_applied_once(services, audited)
    assert_tables_equal_a_rebuild(services, audited)


@pytest.mark.parametrize("store_kind", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_runner_survives_its_connections_being_terminated(
    settings: Settings, services: Services, db: ProjectionDatabase, database_url: str
) -> None:
    """Every connection to the database is terminated under a running runner (as
    when the server restarts); it reconnects, and applies what is recorded after."""
    with InProcessProjections.from_settings(
        settings, names=["case_queue"], poll_interval=0.02
    ) as projections:
        assert caught_up(projections, 60)
        with psycopg.connect(database_url, autocommit=True) as admin:
            terminated = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert terminated is not None
        assert terminated[0] >= 1
        receipt = services.desk.receive_case(
            caller(),
            cmd.TakeIn(received_at=services.clock.now(), **intake(title="After the outage")),
        )
        assert projections.wait_for(receipt.position, timeout=30)
        db.connect()  # this test's own connection was terminated too
        row = CaseQueueView(db).get(receipt.aggregate_id)
        assert row is not None
        assert row["title"] == "After the outage"
        assert projections.failures == {}
