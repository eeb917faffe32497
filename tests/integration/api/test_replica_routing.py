"""The read-your-writes rule and the failover of a replica (ADR 0064), without a
real replica: two SQLite files stand in for the replica and the primary, each
with its own tracking rows, so this runs in every (CI) run. The real streaming
replica is in test_replica_reads.py (slow)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from cases.api import deps
from cases.api.deps import wait_for_projections
from cases.api.errors import ApiProblem
from cases.api.read_pool import ReadPool
from cases.api.replica import Replica, ReplicaDatabase, serving_pool
from cases.db.database import ProjectionDatabase
from cases.db.statement import sql
from cases.persistence.database_url import parse_database_url

TRACKED = sql("INSERT INTO projection_tracking (projection, position) VALUES ({}, {})")


def tracking_at(path: Path, position: int) -> str:
    """A database whose case queue has applied `position`; its URL."""
    url = f"sqlite:///{path}"
    db = ProjectionDatabase(parse_database_url(url))
    db.execute("CREATE TABLE projection_tracking (projection TEXT PRIMARY KEY, position INTEGER)")
    db.execute(TRACKED, ("case_queue", position))
    db.close()
    return url


def on_replica(tmp_path: Path, replayed: int, applied: int, wait: float = 0.0) -> ReplicaDatabase:
    """A connection to a 'replica' that has replayed up to `replayed`, whose
    primary has applied `applied`."""
    replica = tracking_at(tmp_path / "replica.db", replayed)
    primary = tracking_at(tmp_path / "primary.db", applied)
    return ReplicaDatabase(
        parse_database_url(replica), parse_database_url(primary), 5, (1.0, 1.0), wait
    )


class TestReadYourWrites:
    def test_a_replica_that_has_replayed_the_position_answers(self, tmp_path: Path) -> None:
        db = on_replica(tmp_path, replayed=10, applied=10)
        wait_for_projections(db, ("case_queue",), 10)
        assert not db.on_primary

    def test_past_the_bound_the_request_turns_to_the_primary(self, tmp_path: Path) -> None:
        db = on_replica(tmp_path, replayed=3, applied=10)
        wait_for_projections(db, ("case_queue",), 10)
        assert db.on_primary
        assert db.fetchone(sql("SELECT position FROM projection_tracking")) == (10,)

    def test_behind_on_both_is_503_as_without_a_replica(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(deps, "MAX_WAIT_SECONDS", 0.05)
        db = on_replica(tmp_path, replayed=3, applied=5)
        with pytest.raises(ApiProblem) as problem:
            wait_for_projections(db, ("case_queue",), 10)
        assert (problem.value.status, problem.value.rule) == (503, "projection-behind")

    def test_a_turned_connection_is_closed_not_pooled(self, tmp_path: Path) -> None:
        db = on_replica(tmp_path, replayed=3, applied=10)
        replica = Replica(ReadPool(lambda: db))
        with replica.lent(db):
            wait_for_projections(db, ("case_queue",), 10)
            assert serving_pool(ReadPool(lambda: db), replica, db) is not replica.pool
        assert replica.pool.take() is None


class TestFailover:
    def test_a_replica_that_cannot_be_reached_is_left_alone(self, tmp_path: Path) -> None:
        def refuse() -> ProjectionDatabase:
            raise psycopg.OperationalError("connection refused")

        replica = Replica(ReadPool(refuse))
        assert replica.open() is None
        assert not replica.usable()
        assert replica.unreachable == "connection refused"
        primary = ProjectionDatabase(parse_database_url(tracking_at(tmp_path / "p.db", 1)))
        assert replica.status(primary).reachable is False

    def test_a_connection_error_on_the_replica_marks_it_down(self, tmp_path: Path) -> None:
        db = on_replica(tmp_path, replayed=10, applied=10)
        replica = Replica(ReadPool(lambda: db))
        with pytest.raises(psycopg.OperationalError), replica.lent(db):
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        assert not replica.usable()
        assert replica.pool.take() is None

    def test_a_replica_kept_answering_stays_in_use(self, tmp_path: Path) -> None:
        db = on_replica(tmp_path, replayed=10, applied=10)
        replica = Replica(ReadPool(lambda: db))
        with replica.lent(db):
            wait_for_projections(db, ("case_queue",), 10)
        assert replica.usable()
        assert replica.pool.take() is db
