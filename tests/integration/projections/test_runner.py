"""The projection runner: batches, resuming, leadership, waiting, concurrent writers."""

from __future__ import annotations

import itertools
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar
from uuid import UUID

import psycopg
import pytest

from cases.application.command_runner import Receipt
from cases.bootstrap import Services, bootstrap
from cases.clock import ManualClock
from cases.db.database import ProjectionDatabase
from cases.db.statement import identifier, sql
from cases.domain import case_commands as cmd
from cases.followers.decoded import DecodedEvents
from cases.followers.in_process import InProcessProjections
from cases.followers.leadership import Leadership
from cases.followers.log_head import LogHead
from cases.followers.rebuild import rebuild
from cases.followers.runner import BatchResult, ProjectionRunner, ReadBatch, RunnerLoop
from cases.followers.tracking import Tracking
from cases.persistence.database_url import parse_database_url
from cases.projections.case_queue import CaseQueueProjection, CaseQueueView
from cases.projections.case_timeline import CaseTimelineProjection
from cases.projections.escalation_register import EscalationRegisterProjection
from cases.projections.projection import (
    PositionedEvent,
    Projection,
    TableNames,
    catching_up,
    writing_begins,
)
from cases.settings import Settings
from tests.integration.projections.conftest import RecordedHistory
from tests.support.builders import caller, intake
from tests.support.catching_up import caught_up
from tests.support.projection_tables import (
    applied_positions,
    emptied,
    positions_of,
    projection_rows,
)
from tests.support.projection_worker import AuditedCaseQueue, create_applied_events


class CountingCaseQueue(CaseQueueProjection):
    """The case queue, noting the size of every batch it is given."""

    name: ClassVar[str] = CaseQueueProjection.name

    def __init__(self) -> None:
        self.batches: list[int] = []

    def apply(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        self.batches.append(len(events))
        super().apply(db, events, tables)


def connect(settings: Settings) -> ProjectionDatabase:
    return ProjectionDatabase(parse_database_url(settings.effective_database_url))


def receive_a_case(services: Services, notes: int = 0) -> Receipt:
    """A new case (and `notes` notes on it), received at the services' clock;
    the receipt of the last command (its version counts every event of the case)."""
    received_at = services.clock.now()
    receipt = services.desk.receive_case(caller(), cmd.TakeIn(received_at=received_at, **intake()))
    for n in range(notes):
        receipt = services.desk.handle(caller(), receipt.aggregate_id, cmd.AddNote(f"note {n}"))
    return receipt


def wait_until(condition: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def audited(db: ProjectionDatabase) -> ProjectionDatabase:
    create_applied_events(db)
    return db


class TestCatchingUp:
    def test_applies_many_events_per_transaction(
        self, services: Services, db: ProjectionDatabase, recorded: RecordedHistory
    ) -> None:
        """A catch-up of ~2000 events is a handful of transactions of 250 events each,
        each moving the tracking row once, ending at the head of the log."""
        projection = CountingCaseQueue()
        runner = ProjectionRunner(services.log, projection, db, batch_size=250)
        moves: list[int] = []
        move = runner.tracking.move

        def noting_move(name: str, position: int, now: datetime) -> None:
            moves.append(position)
            move(name, position, now)

        # The test wraps this one runner's tracking to see every move it makes.
        runner.tracking.move = noting_move  # type: ignore[method-assign]

        applied = runner.catch_up()

        expected = positions_of(services.log, projection)
        assert applied == len(expected) == recorded.case_events
        assert len(projection.batches) >= 7
        assert projection.batches[:-1] == [250] * (len(projection.batches) - 1)
        assert len(moves) == len(projection.batches)
        assert moves == sorted(moves)
        assert moves[-1] == runner.position == recorded.head

    def test_skips_events_it_does_not_handle_but_moves_past_them(
        self, services: Services, db: ProjectionDatabase, recorded: RecordedHistory
    ) -> None:
        """Terms and billing events are in the log too: the runner passes them and
        reaches the head, applying only support-case events."""
        runner = ProjectionRunner(services.log, CaseQueueProjection(), db)
        applied = runner.catch_up()
        assert applied < recorded.head
        assert runner.position == recorded.head
        assert runner.step().applied == 0

    def test_resumes_from_its_tracking_position(
        self, services: Services, audited: ProjectionDatabase, settings: Settings
    ) -> None:
        """A runner stopped after three batches leaves a position; a new runner on a
        new connection goes on from it, so every event is applied exactly once."""
        first = ProjectionRunner(services.log, AuditedCaseQueue("first"), audited, batch_size=200)
        for _ in range(3):
            first.step()
        stopped_at = first.position

        second_db = connect(settings)
        second = ProjectionRunner(
            services.log, AuditedCaseQueue("second"), second_db, batch_size=200
        )
        second.catch_up()
        second_db.close()

        applied = applied_positions(audited)
        assert [p for p, _ in applied] == positions_of(services.log, CaseQueueProjection())
        assert {r for p, r in applied if p <= stopped_at} == {"first"}
        assert {r for p, r in applied if p > stopped_at} == {"second"}

    def test_a_runner_whose_start_was_moved_reads_the_stored_one(
        self, services: Services, audited: ProjectionDatabase, settings: Settings
    ) -> None:
        """A runner starts each batch where it last moved tracking, without reading
        it; when another writer moved it meanwhile, the locked compare refuses the
        batch and the runner goes on from the stored position: every event once."""
        first = ProjectionRunner(services.log, AuditedCaseQueue("first"), audited, batch_size=200)
        for _ in range(3):
            first.step()
        second_db = connect(settings)
        second = ProjectionRunner(
            services.log, AuditedCaseQueue("second"), second_db, batch_size=200
        )
        second.catch_up()
        moved_to = second.position
        second_db.close()
        last = receive_a_case(services, notes=1)

        refused = first.step()
        assert (refused.applied, refused.position, refused.more) == (0, moved_to, True)
        assert first.catch_up() == last.version

        applied = applied_positions(audited)
        assert [p for p, _ in applied] == positions_of(services.log, CaseQueueProjection())
        assert {r for p, r in applied if p > moved_to} == {"first"}

    def test_an_idle_runner_reads_the_position_a_swap_moved(
        self, services: Services, db: ProjectionDatabase, recorded: RecordedHistory
    ) -> None:
        """Idle at the head, a runner must not go by where it last moved tracking
        once another writer swapped in other tables at another position (here
        empty ones at 0, as a projection rebuilt from nothing would be): it reads
        the stored position, reports it and applies from it; after a rebuild's
        swap it reports the rebuilt position."""
        projection = CaseQueueProjection()
        runner = ProjectionRunner(services.log, projection, db)
        runner.catch_up()
        live = projection_rows(db, projection)
        with db.transaction():
            for table in projection.tables:
                db.execute(sql("DELETE FROM {t}", t=identifier(table)))
            Tracking(db).move(projection.name, 0, services.clock.now())

        assert runner.catch_up() == recorded.case_events
        assert projection_rows(db, projection) == live
        assert runner.position == recorded.head

        rebuilt = rebuild(services.log, CaseQueueProjection(), db)
        assert runner.step() == BatchResult(0, rebuilt.position)

    def test_picks_up_events_recorded_after_catching_up(
        self, services: Services, db: ProjectionDatabase
    ) -> None:
        """New commands are applied by the next step, and only they are: every
        event of the new case (its clock facts too), up to the last receipt."""
        runner = ProjectionRunner(services.log, CaseQueueProjection(), db)
        runner.catch_up()
        last = receive_a_case(services, notes=2)
        assert runner.catch_up() == last.version
        assert runner.position == last.position
        row = CaseQueueView(db).get(last.aggregate_id)
        assert row is not None
        assert row["version"] == last.version
        assert row["position"] == last.position
        assert row["status"] == "new"

    def test_the_queue_agrees_with_every_aggregate(
        self, services: Services, db: ProjectionDatabase, recorded: RecordedHistory
    ) -> None:
        """Each row holds its case's version, status and assignee as the aggregate has them."""
        ProjectionRunner(services.log, CaseQueueProjection(), db, batch_size=300).catch_up()
        rows = db.fetchall("SELECT case_id, version, status, assignee FROM case_queue")
        assert len(rows) == recorded.cases
        for case_id, version, status, assignee in rows:
            case = services.desk.case(UUID(str(case_id)))
            assert (version, status, assignee) == (case.version, case.status.value, case.assignee)


class FailingCaseQueue(AuditedCaseQueue):
    """The audited case queue, failing in its `fail_at`-th batch after its writes."""

    def __init__(self, runner_id: str, fail_at: int) -> None:
        super().__init__(runner_id)
        self.fail_at = fail_at
        self.batches = 0

    def apply(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        self.batches += 1
        super().apply(db, events, tables)
        if self.batches == self.fail_at:
            raise RuntimeError("the projection failed")


class HeldCaseQueue(AuditedCaseQueue):
    """The audited case queue, holding its third batch until let go, so a test
    can act in the middle of a catch-up."""

    def __init__(self, runner_id: str) -> None:
        super().__init__(runner_id)
        self.batches = 0
        self.holding = threading.Event()
        self.go = threading.Event()

    def apply(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        self.batches += 1
        if self.batches == 3:
            self.holding.set()
            self.go.wait(30)
        super().apply(db, events, tables)


class FoldingCaseQueue(CaseQueueProjection):
    """The case queue as a projection that folds its batch, then writes it: it
    notes, when its writes begin, which batches the runner had begun reading."""

    name: ClassVar[str] = CaseQueueProjection.name
    folds_then_writes: ClassVar[bool] = True

    def __init__(self, reads: list[int], *, says_writing_begins: bool = True) -> None:
        self.reads = reads
        self.says_writing_begins = says_writing_begins
        self.read_while_folding: list[list[int]] = []

    def apply(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        time.sleep(0.2)  # a fold long enough for a read-ahead thread to start
        self.read_while_folding.append(list(self.reads))
        if self.says_writing_begins:
            writing_begins()
        super().apply(db, events, tables)


class PipelinedCaseQueue(AuditedCaseQueue):
    """The audited case queue as a projection whose writes need no results (ADR
    86): it notes, for each batch, whether its statements went in a pipeline, and
    has the server refuse a statement of its `refused_at`-th batch (the tracking
    row inserted again: a duplicate key), after its writes."""

    pipelines_writes: ClassVar[bool] = True

    def __init__(self, runner_id: str, refused_at: int = 0) -> None:
        super().__init__(runner_id)
        self.refused_at = refused_at
        self.pipelined: list[bool] = []

    def apply(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        self.pipelined.append(db.pipelining)
        super().apply(db, events, tables)
        if len(self.pipelined) == self.refused_at:
            db.execute(
                sql("INSERT INTO projection_tracking (projection, position) VALUES ({}, 0)"),
                [self.name],
            )


class NotingCaseQueue(CaseQueueProjection):
    """The case queue, noting for each batch whether it was applied while catching up."""

    def __init__(self) -> None:
        self.catching_up: list[bool] = []

    def apply(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        self.catching_up.append(catching_up())
        super().apply(db, events, tables)


class TestCatchUpBatches:
    """A runner far behind takes larger batches on PostgreSQL (ADR 89)."""

    def test_far_behind_on_postgres_it_takes_the_catch_up_batch_then_the_batch_near_the_head(
        self, services: Services, db: ProjectionDatabase, recorded: RecordedHistory
    ) -> None:
        """Batches of 400 while at least 400 log positions wait, then of 100; on
        SQLite batches of 100 throughout (its writer lock is the commands' too).
        Every event is applied, and tracking ends at the head."""
        projection = CountingCaseQueue()
        runner = ProjectionRunner(
            services.log, projection, db, batch_size=100, catch_up_batch_size=400
        )
        applied = runner.catch_up()

        assert applied == len(positions_of(services.log, projection)) == recorded.case_events
        assert runner.position == recorded.head
        batches = projection.batches
        if db.is_postgres:
            large = [n for n in batches if n > 100]
            assert len(large) >= 3
            assert batches[: len(large)] == large  # the large ones first
            assert large[:-1] == [400] * (len(large) - 1)  # full, but one that reached the head
        else:
            assert batches[:-1] == [100] * (len(batches) - 1)

    def test_near_the_head_it_takes_the_batch_size(
        self, services: Services, db: ProjectionDatabase, recorded: RecordedHistory
    ) -> None:
        """Fewer positions waiting than the catch-up batch: batches of the batch size,
        as a live runner's were before (a read's `min_position` waits no longer)."""
        projection = CountingCaseQueue()
        runner = ProjectionRunner(
            services.log, projection, db, batch_size=100, catch_up_batch_size=400
        )
        runner.catch_up()
        projection.batches.clear()
        receive_a_case(services, notes=150)
        waiting = services.log.head() - recorded.head
        assert 150 < waiting < 400

        applied = runner.catch_up()

        assert applied == waiting  # every new event is the case queue's
        full, rest = divmod(waiting, 100)
        assert projection.batches == [100] * full + ([rest] if rest else [])

    def test_a_catch_up_batch_smaller_than_the_batch_is_refused(
        self, services: Services, db: ProjectionDatabase
    ) -> None:
        with pytest.raises(ValueError, match=r"the catch-up batch \(50\) is smaller than"):
            ProjectionRunner(
                services.log, CaseQueueProjection(), db, batch_size=100, catch_up_batch_size=50
            )
        with pytest.raises(ValueError, match=r"the catch-up batch \(50\) is smaller than"):
            InProcessProjections(
                services.log, lambda: db, batch_size=100, catch_up_batch_size=50
            )  # at once, not in a runner's thread


def test_a_projection_knows_a_full_batch_from_one_that_reached_the_head(
    services: Services, db: ProjectionDatabase, recorded: RecordedHistory
) -> None:
    """Full batches are applied catching up; the last, short one is not, nor
    anything outside a runner's batch (ADR 84: the seals' changes by moment wait
    for the head)."""
    projection = NotingCaseQueue()
    ProjectionRunner(services.log, projection, db, batch_size=200).catch_up()
    assert len(projection.catching_up) > 2
    assert projection.catching_up == [True] * (len(projection.catching_up) - 1) + [False]
    assert not catching_up()


def test_a_rebuild_applies_every_batch_catching_up_its_swap_too(
    services: Services, db: ProjectionDatabase, recorded: RecordedHistory
) -> None:
    """A rebuild catches up until its swap, whose last events are applied
    catching up too: the swap, holding the projection's tracking, waits for no
    work a projection may leave for later (ADR 84)."""
    projection = NotingCaseQueue()
    more: list[int] = []

    def record_once_at_the_head(position: int, head: int) -> None:
        if position == head and not more:  # left for the swap to apply
            receipt = services.desk.receive_case(
                caller(), cmd.TakeIn(received_at=services.clock.now(), **intake())
            )
            more.append(receipt.position)

    result = rebuild(services.log, projection, db, record_once_at_the_head, batch_size=200)
    assert result.position == more[0] > recorded.head
    batches = projection.catching_up
    assert len(batches) > 3
    # Full batches, the one that reached the head, then the swap's.
    assert batches == [True] * (len(batches) - 2) + [False, True]


def reading_noted(runner: ProjectionRunner, reads: list[int]) -> None:
    """Note in `reads` where each of the runner's read-aheads starts, as it starts."""
    read_from = runner.read_from

    def noted(after: int) -> ReadBatch:
        reads.append(after)
        return read_from(after)

    runner.read_from = noted  # type: ignore[method-assign]


def ahead_of(runner: ProjectionRunner) -> ReadBatch | None:
    """The batch the runner read ahead (a call, so mypy does not keep a narrowing
    across the steps that change it)."""
    return runner.ahead


def read_ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("read-ahead ")]


class TestReadingAhead:
    """While behind, a runner reads the next batch while it applies one (ADR 71 amendment)."""

    def test_reads_ahead_only_while_behind(
        self, services: Services, db: ProjectionDatabase, recorded: RecordedHistory
    ) -> None:
        """A full batch leaves the next one read from where it reached, on a thread
        joined by the same step; the last, short batch leaves none."""
        runner = ProjectionRunner(services.log, CaseQueueProjection(), db, batch_size=200)
        first = runner.step()
        assert first.more
        assert runner.ahead is not None
        assert runner.ahead.after == first.position == runner.moved_to
        assert len(runner.ahead.events) > 0
        assert read_ahead_threads() == []
        runner.catch_up()
        assert ahead_of(runner) is None
        assert runner.position == recorded.head

    def test_a_projection_that_folds_then_writes_has_the_next_batch_read_once_it_writes(
        self, services: Services, db: ProjectionDatabase, recorded: RecordedHistory
    ) -> None:
        """The next batch is decoded beside the server's work on the writes, not
        beside the fold: nothing is read while the projection folds, and the
        batch is read ahead from where this one reached once the writes begin."""
        reads: list[int] = []
        projection = FoldingCaseQueue(reads)
        runner = ProjectionRunner(services.log, projection, db, batch_size=200)
        reading_noted(runner, reads)
        first = runner.step()
        assert projection.read_while_folding == [[]]
        assert reads == [first.position]
        assert runner.ahead is not None
        assert runner.ahead.after == first.position
        second = runner.step()
        assert projection.read_while_folding[1] == [first.position]
        assert reads == [first.position, second.position]
        runner.catch_up()
        assert runner.position == recorded.head
        assert read_ahead_threads() == []

    def test_a_batch_that_never_says_its_writes_began_still_has_the_next_read(
        self, services: Services, db: ProjectionDatabase
    ) -> None:
        """A projection that folds then writes but does not say so has the next
        batch read once it is applied: the step neither hangs nor loses it."""
        reads: list[int] = []
        projection = FoldingCaseQueue(reads, says_writing_begins=False)
        runner = ProjectionRunner(services.log, projection, db, batch_size=200)
        reading_noted(runner, reads)
        stepping = threading.Thread(target=runner.step, daemon=True)
        stepping.start()
        stepping.join(30)
        assert not stepping.is_alive()
        assert projection.read_while_folding == [[]]
        assert runner.ahead is not None
        assert reads == [runner.ahead.after]
        assert read_ahead_threads() == []

    def test_a_batch_read_ahead_from_a_moved_position_is_dropped(
        self, services: Services, audited: ProjectionDatabase, settings: Settings
    ) -> None:
        """Another writer moves the tracking row while a batch is read ahead: the
        runner's next batch is refused by the locked compare, the read-ahead one is
        thrown away, and it goes on from the stored position: every event once."""
        first = ProjectionRunner(services.log, AuditedCaseQueue("first"), audited, batch_size=200)
        first.step()
        assert first.ahead is not None
        ahead_from = first.ahead.after
        second_db = connect(settings)
        try:
            second = ProjectionRunner(
                services.log, AuditedCaseQueue("second"), second_db, batch_size=200
            )
            second.catch_up()
            moved_to = second.position
        finally:
            second_db.close()
        last = receive_a_case(services, notes=1)

        refused = first.step()
        assert (refused.applied, refused.position, refused.more) == (0, moved_to, True)
        assert ahead_of(first) is None
        assert first.catch_up() == last.version

        applied = applied_positions(audited)
        assert [p for p, _ in applied] == positions_of(services.log, CaseQueueProjection())
        assert {r for p, r in applied if p <= ahead_from} == {"first"}
        assert {r for p, r in applied if ahead_from < p <= moved_to} == {"second"}
        assert {r for p, r in applied if p > moved_to} == {"first"}

    def test_a_failed_batch_drops_the_batch_read_ahead(
        self, services: Services, audited: ProjectionDatabase, recorded: RecordedHistory
    ) -> None:
        """A batch that fails in the projection is rolled back, the batch read
        ahead of it is thrown away (its thread joined), and the next step starts
        from the stored position: every event once."""
        runner = ProjectionRunner(
            services.log, FailingCaseQueue("runner", fail_at=2), audited, batch_size=200
        )
        stored = runner.step().position
        assert runner.ahead is not None
        with pytest.raises(RuntimeError, match="the projection failed"):
            runner.step()
        assert ahead_of(runner) is None
        assert runner.moved_to is None
        assert read_ahead_threads() == []
        assert runner.after() == runner.position == stored

        runner.catch_up()
        assert runner.position == recorded.head
        applied = [p for p, _ in applied_positions(audited)]
        assert applied == positions_of(services.log, CaseQueueProjection())

    def test_stopping_in_the_middle_of_a_catch_up_leaves_no_thread(
        self, services: Services, audited: ProjectionDatabase, settings: Settings
    ) -> None:
        """A loop stopped while it applies a batch (a batch is read ahead beside it)
        ends after that batch, its read-ahead thread joined; what it applied is
        the log's first events, each once."""
        projection = HeldCaseQueue("loop")
        loop = RunnerLoop(
            lambda: ProjectionRunner(services.log, projection, connect(settings), batch_size=100),
            poll_interval=0.02,
        )
        thread = threading.Thread(target=loop.run, daemon=True)
        thread.start()
        try:
            assert projection.holding.wait(30)
        finally:
            loop.stop()
            projection.go.set()
            thread.join(30)
        assert not thread.is_alive()
        assert read_ahead_threads() == []
        assert not loop.caught_up.is_set()
        applied = [p for p, _ in applied_positions(audited)]
        expected = positions_of(services.log, CaseQueueProjection())
        assert len(applied) == 300
        assert applied == expected[:300]
        assert Tracking(audited).position("case_queue") < expected[-1]


class TestPipelinedWrites:
    """A projection whose writes need no results has each batch's statements sent
    in a pipeline on PostgreSQL, and only the commit waits for them (ADR 86)."""

    def test_a_pipelined_catch_up_builds_what_a_plain_one_builds(
        self, services: Services, audited: ProjectionDatabase, recorded: RecordedHistory
    ) -> None:
        plain = ProjectionRunner(services.log, AuditedCaseQueue("plain"), audited, batch_size=200)
        assert plain.catch_up() > 0
        built = projection_rows(audited, CaseQueueProjection())
        emptied(audited, CaseQueueProjection(), "applied_events")

        projection = PipelinedCaseQueue("pipelined")
        runner = ProjectionRunner(services.log, projection, audited, batch_size=200)
        runner.catch_up()

        assert len(projection.pipelined) > 2
        assert projection.pipelined == [audited.is_postgres] * len(projection.pipelined)
        assert not audited.pipelining
        assert runner.position == recorded.head
        assert projection_rows(audited, CaseQueueProjection()) == built
        applied = [p for p, _ in applied_positions(audited)]
        assert applied == positions_of(services.log, CaseQueueProjection())

    def test_a_statement_refused_in_a_pipelined_batch_leaves_nothing_of_it(
        self, services: Services, audited: ProjectionDatabase, recorded: RecordedHistory
    ) -> None:
        """The server refuses a statement of the second batch: the step raises the
        store's refusal (PostgreSQL: when the commit waits for the pipeline),
        nothing of the batch stays, tracking stays where the first batch moved it,
        and the next steps apply every event once, on the same connection."""
        projection = PipelinedCaseQueue("runner", refused_at=2)
        runner = ProjectionRunner(services.log, projection, audited, batch_size=200)
        stored = runner.step().position
        with pytest.raises((psycopg.errors.UniqueViolation, sqlite3.IntegrityError)):
            runner.step()
        assert not audited.pipelining
        assert runner.moved_to is None
        assert ahead_of(runner) is None
        assert read_ahead_threads() == []
        assert runner.after() == runner.position == stored
        assert [p for p, _ in applied_positions(audited)][-1] <= stored

        runner.catch_up()
        assert runner.position == recorded.head
        applied = [p for p, _ in applied_positions(audited)]
        assert applied == positions_of(services.log, CaseQueueProjection())


class TestSharedDecoding:
    def test_followers_of_one_log_decode_each_event_once(
        self, services: Services, db: ProjectionDatabase, settings: Settings
    ) -> None:
        """Two followers of the same log read the same events: the second is given
        the very objects the first decoded, and both apply every event."""
        other_db = connect(settings)
        try:
            queue = ProjectionRunner(services.log, CaseQueueProjection(), db, batch_size=300)
            timeline = ProjectionRunner(
                services.log, CaseTimelineProjection(), other_db, batch_size=300
            )
            assert queue.decoded is timeline.decoded
            head = queue.head()
            first, _ = queue.read_batch(0, head)
            again, _ = timeline.read_batch(0, head)
            by_position = {p.position: p.event for p in first}
            shared = [p for p in again if p.position in by_position]
            assert shared
            assert all(p.event is by_position[p.position] for p in shared)
            assert queue.catch_up() > 0
            assert timeline.catch_up() > 0
            assert queue.position == timeline.position == head
        finally:
            other_db.close()

    def test_keeps_at_most_its_size_and_forgets_on_erasure(self, services: Services) -> None:
        """The table drops the first kept beyond its size, decodes those again as
        equal events, and is emptied when the process sees an erasure."""
        head = services.log.head()
        notifications = services.log.recorder.select_notifications(start=1, limit=head)
        table = DecodedEvents(services.log.mapper, size=100)
        first = table.decode(notifications[:150])
        assert len(table) == 100
        again = table.decode(notifications[:150])
        assert again == first
        assert all(a is not b for a, b in zip(again[:50], first[:50], strict=True))
        assert len(table) == 100
        table.clear()
        assert len(table) == 0


class RefusalsCounted(Leadership):
    """Leadership as the loops take it, counting the attempts refused."""

    refused = 0

    def try_acquire(self) -> bool:
        acquired = super().try_acquire()
        if not acquired:
            RefusalsCounted.refused += 1
        return acquired


class TestLeadership:
    def test_a_second_runner_waits_while_the_first_leads(
        self,
        services: Services,
        audited: ProjectionDatabase,
        settings: Settings,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Two loops for one projection: only the leader applies; when it stops, the
        other takes over from where it left off."""

        def loop(runner_id: str) -> RunnerLoop:
            return RunnerLoop(
                lambda: ProjectionRunner(
                    services.log, AuditedCaseQueue(runner_id), connect(settings), batch_size=200
                ),
                poll_interval=0.02,
            )

        monkeypatch.setattr(sys.modules[RunnerLoop.__module__], "Leadership", RefusalsCounted)
        monkeypatch.setattr(RefusalsCounted, "refused", 0)
        first, second = loop("first"), loop("second")
        first_thread = threading.Thread(target=first.run, daemon=True)
        first_thread.start()
        assert first.caught_up.wait(30)
        second_thread = threading.Thread(target=second.run, daemon=True)
        second_thread.start()
        try:
            # the second has polled for leadership a few times
            assert wait_until(lambda: RefusalsCounted.refused >= 3)
            led_by_first = receive_a_case(services, notes=3)
            head = services.log.head()
            assert wait_until(lambda: Tracking(audited).position("case_queue") >= head)
            assert CaseQueueView(audited).get(led_by_first.aggregate_id) is not None
            assert not second.caught_up.is_set()

            first.stop()
            first_thread.join(10)
            led_by_second = receive_a_case(services, notes=1)
            later = services.log.head()
            assert wait_until(lambda: Tracking(audited).position("case_queue") >= later)
            assert second.caught_up.wait(30)
            row = CaseQueueView(audited).get(led_by_second.aggregate_id)
            assert row is not None
            assert row["version"] == led_by_second.version
        finally:
            first.stop()
            second.stop()
            first_thread.join(10)
            second_thread.join(10)

        applied = applied_positions(audited)
        assert [p for p, _ in applied] == positions_of(services.log, CaseQueueProjection())
        assert {r for p, r in applied if p <= head} == {"first"}
        assert {r for p, r in applied if p > head} == {"second"}


def timed_runner(
    services: Services,
    settings: Settings,
    projection: Projection,
    spans: list[tuple[str, float, float]],
) -> ProjectionRunner:
    """A runner of `projection` that notes when each of its batches began and
    ended in `spans`, each batch made to last 20 ms at least."""
    apply = projection.apply

    def timed(
        db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        started = time.monotonic()
        time.sleep(0.02)  # long enough for the others to try their step
        apply(db, events, tables)
        spans.append((projection.name, started, time.monotonic()))

    projection.apply = timed  # type: ignore[method-assign]
    return ProjectionRunner(services.log, projection, connect(settings))


def all_at(db: ProjectionDatabase, head: int) -> bool:
    names = ("case_queue", "case_timeline", "escalation_register")
    return all(Tracking(db).position(name) >= head for name in names)


class TestTurns:
    """The followers one watch of the head wakes step one at a time there (ADR
    91); a backlog's batches take no turn."""

    def test_followers_woken_together_step_one_at_a_time(
        self, services: Services, settings: Settings
    ) -> None:
        spans: list[tuple[str, float, float]] = []
        receive_a_case(services)
        watch = LogHead(services.log.head, 0.02)
        loops = [
            RunnerLoop(
                partial(timed_runner, services, settings, projection, spans),
                poll_interval=0.02,
                head=watch,
            )
            for projection in (
                CaseQueueProjection(),
                CaseTimelineProjection(),
                EscalationRegisterProjection(),
            )
        ]
        threads = [threading.Thread(target=loop.run, daemon=True) for loop in loops]
        for thread in threads:
            thread.start()
        db = connect(settings)
        try:
            assert all(loop.caught_up.wait(30) for loop in loops)
            spans.clear()
            for _ in range(4):
                receive_a_case(services, notes=2)
                assert wait_until(partial(all_at, db, services.log.head()), 30)
        finally:
            for loop in loops:
                loop.stop()
            for thread in threads:
                thread.join(10)
            db.close()
        assert len({name for name, _, _ in spans}) == 3
        ordered = sorted(spans, key=lambda span: span[1])
        assert [(a, b) for a, b in itertools.pairwise(ordered) if b[1] < a[2]] == []

    def test_a_backlog_takes_no_turn_and_a_step_at_the_head_waits_for_one(
        self, services: Services, settings: Settings
    ) -> None:
        for _ in range(6):
            receive_a_case(services, notes=2)
        watch = LogHead(services.log.head, 0.02)
        db = connect(settings)
        loop = RunnerLoop(
            lambda: ProjectionRunner(services.log, CaseQueueProjection(), db, batch_size=5),
            poll_interval=0.02,
            head=watch,
        )
        thread = threading.Thread(target=loop.run, daemon=True)
        try:
            with watch.turn:  # held elsewhere the whole time
                thread.start()
                assert loop.caught_up.wait(30)  # its backlog, in full batches of 5
                caught = Tracking(db).position("case_queue")
                assert caught == services.log.head()
                receive_a_case(services)
                reads = watch.reads
                assert wait_until(lambda: watch.reads > reads, 30)  # it saw the head move
                assert Tracking(db).position("case_queue") == caught  # and waits for its turn
            assert wait_until(
                lambda: Tracking(db).position("case_queue") == services.log.head(), 30
            )
        finally:
            loop.stop()
            thread.join(10)


class TestWaiting:
    def test_wait_for_a_receipt_gives_read_your_writes(
        self, settings: Settings, services: Services, clock: ManualClock, db: ProjectionDatabase
    ) -> None:
        """In-process runners catch up; a caller waits for its command's position and
        then reads its own write; waiting for a position never reached gives up."""
        with InProcessProjections.from_settings(settings, poll_interval=0.02) as projections:
            assert caught_up(projections, 60)
            clock.advance(timedelta(minutes=1))
            receipt = services.desk.receive_case(
                caller(), cmd.TakeIn(received_at=clock.now(), **intake())
            )
            assert projections.wait_for(receipt.position, timeout=10)
            row = CaseQueueView(db).get(receipt.aggregate_id)
            assert row is not None
            assert row["position"] == receipt.position

            started = time.monotonic()
            assert not projections.wait_for(receipt.position + 1000, timeout=0.3)
            assert time.monotonic() - started < 2
            assert set(projections.positions().values()) == {receipt.position}
        assert projections.failures == {}


WRITERS = 4
CASES_EACH = 8


@pytest.fixture
def writers(settings: Settings, clock: ManualClock) -> Iterator[list[Services]]:
    """Separate services (own connection pools) on one store, as separate processes."""
    group = [bootstrap(settings, ManualClock(clock.now())) for _ in range(WRITERS)]
    yield group
    for services in group:
        services.close()


@pytest.mark.parametrize("store_kind", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_gap_free_while_writers_append_on_postgres(
    services: Services,
    writers: list[Services],
    audited: ProjectionDatabase,
    settings: Settings,
    recorded: RecordedHistory,
) -> None:
    """Four writers append (racing on one shared case too) while a loop tails the
    log: afterwards every support-case event was applied exactly once and every
    row has its aggregate's version."""
    shared = receive_a_case(services)
    loop = RunnerLoop(
        lambda: ProjectionRunner(
            services.log, AuditedCaseQueue("tail"), connect(settings), batch_size=50
        ),
        poll_interval=0.005,
    )
    tail = threading.Thread(target=loop.run, daemon=True)  # not kept alive by an interrupted run
    tail.start()
    start = threading.Barrier(WRITERS)
    failures: list[BaseException] = []

    def write(writer: Services) -> None:
        start.wait()
        try:
            for _ in range(CASES_EACH):
                receive_a_case(writer, notes=2)
                writer.desk.handle(
                    caller(), shared.aggregate_id, cmd.AddNote("racing on the shared case")
                )
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            failures.append(e)

    threads = [threading.Thread(target=write, args=(w,)) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    head = services.log.head()
    try:
        assert wait_until(lambda: Tracking(audited).position("case_queue") >= head)
    finally:
        loop.stop()
        tail.join(10)

    assert failures == []
    applied = [p for p, _ in applied_positions(audited)]
    assert applied == positions_of(services.log, CaseQueueProjection())
    assert len(applied) == len(set(applied))
    rows = audited.fetchall("SELECT case_id, version FROM case_queue")
    assert len(rows) == recorded.cases + 1 + WRITERS * CASES_EACH
    for case_id, version in rows:
        assert version == services.log.repository.get(case_id).version
    # The writers' clocks stand still, so no deadline passes: a note records only itself.
    assert services.desk.case(shared.aggregate_id).version == (
        shared.version + WRITERS * CASES_EACH
    )
