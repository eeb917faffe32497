"""Rebuilding a projection beside its live tables, then swapping them in."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.db.database import ProjectionDatabase
from cases.domain import case_commands as cmd
from cases.followers.catalog import PROJECTIONS, projection_named
from cases.followers.in_process import InProcessProjections
from cases.followers.leadership import Leadership
from cases.followers.rebuild import RebuildInProgressError, rebuild
from cases.followers.runner import ProjectionRunner
from cases.followers.tracking import Tracking
from cases.persistence.database_url import parse_database_url
from cases.projections.projection import SHADOW
from cases.settings import Settings
from tests.integration.projections.conftest import RecordedHistory
from tests.support.builders import caller, intake
from tests.support.catching_up import caught_up
from tests.support.projection_tables import (
    columns,
    indexes,
    projection_rows,
    table_names,
    table_rows,
)


def connect(settings: Settings) -> ProjectionDatabase:
    return ProjectionDatabase(parse_database_url(settings.effective_database_url))


def assert_no_leftovers(db: ProjectionDatabase, name: str) -> None:
    projection = projection_named(name)
    assert not {SHADOW(t) for t in projection.tables} & table_names(db)
    assert SHADOW(name) not in {row.projection for row in Tracking(db).all()}


@pytest.mark.parametrize("name", sorted(PROJECTIONS))
def test_a_rebuild_equals_live_processing(
    name: str, services: Services, db: ProjectionDatabase, recorded: RecordedHistory
) -> None:
    """Tables built live, in many small batches, equal the tables a rebuild from
    scratch swaps in (every row, every column); the swap leaves nothing behind."""
    projection = projection_named(name)
    ProjectionRunner(services.log, projection, db, batch_size=37).catch_up()
    live = projection_rows(db, projection)
    assert any(live.values())

    result = rebuild(services.log, projection_named(name), db, batch_size=1000)

    assert projection_rows(db, projection) == live
    assert result.position == recorded.head
    assert Tracking(db).position(name) == recorded.head
    assert_no_leftovers(db, name)


@pytest.mark.parametrize("name", sorted(PROJECTIONS))
def test_a_rebuild_keeps_the_columns_and_index_names(
    name: str, services: Services, db: ProjectionDatabase
) -> None:
    """The swapped-in tables have the migrated columns and indexes, under their own
    names (later migrations find them), however often the projection is rebuilt."""
    projection = projection_named(name)
    before = {t: (columns(db, t), indexes(db, t)) for t in projection.tables}
    for _ in range(2):
        rebuild(services.log, projection, db, batch_size=500)
    assert {t: (columns(db, t), indexes(db, t)) for t in projection.tables} == before


class TestRebuildWhileLive:
    @pytest.fixture
    def writer(self, settings: Settings, clock: ManualClock) -> Iterator[Services]:
        writer = bootstrap(settings, clock)
        yield writer
        writer.close()

    def test_live_tables_serve_and_the_live_runner_runs_during_a_rebuild(
        self,
        settings: Settings,
        services: Services,
        db: ProjectionDatabase,
        writer: Services,
        recorded: RecordedHistory,
    ) -> None:
        """While a slow rebuild runs in a thread, a reader on another connection
        sees the full live table, a writer keeps recording and the live runner
        keeps applying; afterwards the live tables equal another rebuild."""
        projection = projection_named("case_queue")
        reader = connect(settings)
        stop_writing = threading.Event()
        writes: list[int] = []

        def write() -> None:
            while not stop_writing.is_set():
                receipt = writer.desk.receive_case(
                    caller(), cmd.TakeIn(received_at=writer.clock.now(), **intake())
                )
                writes.append(receipt.position)
                time.sleep(0.01)

        def slowly(_position: int, _head: int) -> None:
            time.sleep(0.05)

        rebuild_db = connect(settings)
        rebuilding = threading.Thread(
            target=rebuild,
            args=(services.log, projection, rebuild_db, slowly),
            kwargs={"batch_size": 100},
            daemon=True,
        )
        with InProcessProjections.from_settings(
            settings, names=["case_queue"], poll_interval=0.01
        ) as live:
            assert caught_up(live, 60)
            served = len(table_rows(reader, "case_queue"))
            writing = threading.Thread(target=write, daemon=True)
            writing.start()
            rebuilding.start()
            reads, grew_before_swap = 0, False
            while rebuilding.is_alive():
                shadow_before = SHADOW("case_queue") in table_names(reader)
                count = reader.fetchone("SELECT count(*) FROM case_queue")
                shadow_after = SHADOW("case_queue") in table_names(reader)
                assert count is not None
                assert count[0] >= served
                grew_before_swap |= shadow_before and shadow_after and count[0] > served
                served = count[0]
                reads += 1
                time.sleep(0.01)
            rebuilding.join()
            stop_writing.set()
            writing.join(10)
            assert caught_up(live, 30)
            assert live.failures == {}
        reader.close()
        rebuild_db.close()

        assert reads >= 10
        assert grew_before_swap  # the live runner applied new cases meanwhile
        assert Tracking(db).position("case_queue") >= max(writes)
        live_rows = table_rows(db, "case_queue")
        assert len(live_rows) == recorded.cases + len(writes)
        rebuild(services.log, projection, db)
        assert table_rows(db, "case_queue") == live_rows
        assert_no_leftovers(db, "case_queue")


class TestInterruptedRebuild:
    def test_a_rebuild_that_failed_midway_can_run_again(
        self, services: Services, db: ProjectionDatabase
    ) -> None:
        """A rebuild that dies after a few batches leaves its shadow tables and
        tracking row, and the live tables as they were; the next rebuild clears
        them and completes."""
        projection = projection_named("case_queue")
        ProjectionRunner(services.log, projection, db).catch_up()
        live = table_rows(db, "case_queue")
        calls: list[int] = []

        def crash_on_third_batch(position: int, _head: int) -> None:
            calls.append(position)
            if len(calls) == 3:
                raise RuntimeError("killed")

        with pytest.raises(RuntimeError, match="killed"):
            rebuild(services.log, projection, db, crash_on_third_batch, batch_size=100)

        assert SHADOW("case_queue") in table_names(db)
        assert Tracking(db).position(SHADOW("case_queue")) == calls[-1]
        assert table_rows(db, "case_queue") == live

        rebuild(services.log, projection, db, batch_size=100)
        assert table_rows(db, "case_queue") == live
        assert_no_leftovers(db, "case_queue")

    def test_only_one_rebuild_of_a_projection_runs_at_a_time(
        self, services: Services, db: ProjectionDatabase, settings: Settings
    ) -> None:
        """While one rebuild holds the projection's rebuild lock, another is refused."""
        other = connect(settings)
        held = Leadership(other, SHADOW("case_queue"))
        assert held.try_acquire()
        try:
            with pytest.raises(RebuildInProgressError):
                rebuild(services.log, projection_named("case_queue"), db)
        finally:
            held.release()
            other.close()
        rebuild(services.log, projection_named("case_queue"), db)

    def test_progress_goes_up_to_the_head(
        self, services: Services, db: ProjectionDatabase, recorded: RecordedHistory
    ) -> None:
        """The progress callback sees positions rise to the head, and ends there."""
        seen: list[tuple[int, int]] = []
        rebuild(
            services.log,
            projection_named("case_queue"),
            db,
            lambda position, head: seen.append((position, head)),
            batch_size=200,
            catch_up_batch_size=200,  # batches of 200 throughout (ADR 89)
        )
        positions = [position for position, _ in seen]
        assert len(seen) >= 9
        assert positions == sorted(positions)
        assert seen[-1] == (recorded.head, recorded.head)
