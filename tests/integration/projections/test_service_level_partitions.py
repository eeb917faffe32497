"""The service levels kept by partitions and sealed beside them (ADR 90), on
PostgreSQL: the same rows, seals and cells as one runner, however the
partitions' batches and the sealer's steps interleave; the sealer holds back for
a partition behind that has seen nothing, unseals for a late fact and seals
again; a batch that fails leaves its partition's progress as it was; the layout
changes only by a rebuild's swap, and a runner of another layout is refused.
SQLite refuses partitions."""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from uuid import uuid4

import pytest
from structlog.testing import capture_logs
from typer.testing import CliRunner, Result

from cases.bootstrap import Services
from cases.cli.main import app as main_app
from cases.clock import ManualClock, wait_until
from cases.db.database import ProjectionDatabase, Row, open_runner_db
from cases.db.schema import migrate
from cases.db.statement import sql
from cases.domain.support_case import SupportCase
from cases.followers.in_process import InProcessProjections
from cases.followers.leadership import Leadership
from cases.followers.partitions import (
    PartitionRunner,
    catch_up_partitioned,
    start_partitions,
)
from cases.followers.read_model_check import check_read_model
from cases.followers.rebuild import rebuild
from cases.followers.runner import ProjectionRunner
from cases.followers.sealer import Sealer
from cases.followers.status import projection_readings, projection_status
from cases.followers.tracking import Tracking
from cases.persistence.database_url import parse_database_url
from cases.persistence.event_log import EventLog
from cases.projections.case_queue import CaseQueueProjection
from cases.projections.layout import (
    LayoutError,
    Partition,
    layout,
    layout_rows,
    least_positions,
    set_layout,
)
from cases.projections.projection import LIVE, PositionedEvent
from cases.reports.compliance_seal import (
    add_seal,
    keep_moments,
    reseal,
    seal_state,
    unseal,
)
from cases.reports.service_level_partitions import (
    PartitionOfServiceLevels,
    read_progress,
)
from cases.reports.service_levels import ServiceLevelsProjection
from cases.settings import Settings, get_settings
from tests.support import children
from tests.support.month_end_history import START, record_month_end
from tests.support.postgres import database_copy, throwaway_database
from tests.support.projection_cli import app
from tests.support.projection_tables import emptied, events_of, table_rows

NAME = ServiceLevelsProjection.name
POSTGRES = [pytest.param("postgres", marks=pytest.mark.postgres)]
# The tables both layouts write alike: every one but the partitions' progress.
COMPARED = tuple(t for t in ServiceLevelsProjection.tables if t != "service_level_partitions")


def tables(db: ProjectionDatabase) -> dict[str, list[Row]]:
    return {table: table_rows(db, table) for table in COMPARED}


def keep_every_moment(db: ProjectionDatabase) -> None:
    """Every seal's changes by moment kept, as the runners at the head keep them."""
    while True:
        with db.transaction():
            if keep_moments(db, LIVE) is None:
                return


def one_runner(log: EventLog, db: ProjectionDatabase) -> dict[str, list[Row]]:
    """What one runner writes from the whole log, its moments all kept."""
    ProjectionRunner(log, ServiceLevelsProjection(), db, batch_size=89).catch_up()
    keep_every_moment(db)
    return tables(db)


def partitioned(db: ProjectionDatabase, parts: int, position: int = 0) -> None:
    """The service levels emptied and kept by `parts` partitions from `position`."""
    emptied(db, ServiceLevelsProjection())
    with db.transaction():
        start_partitions(db, parts, position, ManualClock(START).now())


@pytest.fixture(scope="module")
def crossing() -> Iterator[str]:
    """A history over the end of March (two seals, March and April), recorded
    once for the module on PostgreSQL."""
    with throwaway_database() as url:
        record_month_end(url)
        yield url


@pytest.fixture
def database_url(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A copy of the history on PostgreSQL; an empty, migrated store on SQLite."""
    if store_kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
        migrate(parse_database_url(url))
        yield url
        return
    with database_copy(request.getfixturevalue("crossing"), tmp_path) as url:
        yield url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START + timedelta(days=30))


@pytest.fixture
def log(services: Services) -> EventLog:
    return services.log


@pytest.fixture
def head(log: EventLog) -> int:
    return log.head()


@pytest.mark.parametrize("store_kind", POSTGRES)
@pytest.mark.parametrize(("parts", "seed"), [(2, 1), (2, 2), (3, 3)])
def test_partitions_and_their_sealer_write_what_one_runner_writes(
    log: EventLog, db: ProjectionDatabase, head: int, parts: int, seed: int
) -> None:
    """Batches of every partition and steps of the sealer, in a random order, end
    where one runner ends: the same rows, seals and cells, digest for digest; and
    no seal is made before every fact recorded by it is applied."""
    expected = one_runner(log, db)
    state = seal_state(db, LIVE)
    assert state is not None
    assert len(state.seals) >= 2  # the history crosses a month
    partitioned(db, parts)
    rng = random.Random(seed)  # noqa: S311 - an order of steps, not a secret
    runners = [
        PartitionRunner(log, db, Partition(k, parts), batch_size=rng.choice((13, 50, 200)))
        for k in range(parts)
    ]
    sealer = Sealer(log, db, sleep=lambda _: None)
    steps = {"sealer": 0, "batches": 0, "seals": 0}
    with capture_logs() as logs:
        while any(r.position < head for r in runners):
            if rng.random() < 0.3:  # a step of the sealer, now and then
                steps["seals"] += sealer.step().applied
                steps["sealer"] += 1
                continue
            steps["batches"] += rng.choice(runners).step().applied > 0
        while sealer.step().more:
            steps["seals"] += 1
    assert steps["sealer"] > 0
    # No seal was made that a fact applied later changed: none was dropped (the
    # history records no fact late), so each was made once every fact before it
    # was applied.
    assert [e for e in logs if e["event"] == "compliance_seals_dropped_for_late_fact"] == []
    assert steps["seals"] >= len(state.seals)
    assert tables(db) == expected
    assert {p.name: p.position for p in read_progress(db, LIVE)} == {
        Partition(k, parts).tracking_name(NAME): head for k in range(parts)
    }


@pytest.mark.parametrize("store_kind", POSTGRES)
def test_the_sealer_holds_back_while_a_partition_behind_has_seen_nothing(
    log: EventLog, db: ProjectionDatabase, head: int
) -> None:
    """Partition 0 at the head and partition 1 at 0: partition 1 may hold the
    earliest fact, so nothing is sealed until it has seen one; then the months
    both passed are, and once both are at the head every month one runner seals."""
    expected = one_runner(log, db)
    partitioned(db, 2)
    first, second = (PartitionRunner(log, db, Partition(k, 2), batch_size=50) for k in range(2))
    first.catch_up()
    sealer = Sealer(log, db, sleep=lambda _: None)
    result = sealer.step()
    assert (result.applied, result.more, result.position) == (0, False, 0)
    assert seal_state(db, LIVE) is None
    second.step()  # its first batch: it has seen a fact now
    progress = {p.name: p for p in read_progress(db, LIVE)}
    behind = progress[Partition(1, 2).tracking_name(NAME)]
    assert behind.latest is not None
    while sealer.step().more:
        pass
    held = seal_state(db, LIVE)
    assert held is not None
    assert held.seals  # the months its latest fact passed by GRACE, at least the first
    assert all(seal + timedelta(hours=1) <= behind.latest for seal in held.seals[1:])
    second.catch_up()
    while sealer.step().more:
        pass
    assert tables(db) == expected


@pytest.mark.parametrize("store_kind", POSTGRES)
def test_a_batch_that_fails_leaves_its_partitions_progress_as_it_was(
    log: EventLog, db: ProjectionDatabase, head: int
) -> None:
    """A partition's batch is one transaction with its progress: one that fails
    (as a process killed before its commit) leaves its rows, its position and its
    moments as they were, so the sealer seals by what was committed; the next
    runner goes on from there and the end is one runner's."""
    expected = one_runner(log, db)
    partitioned(db, 2)
    runners = [PartitionRunner(log, db, Partition(k, 2), batch_size=50) for k in range(2)]
    for runner in runners:
        runner.step()
    before = read_progress(db, LIVE)
    rows_before = tables(db)

    class Failing(PartitionOfServiceLevels):
        def seal(self, *args: object) -> None:
            super().seal(*args)  # type: ignore[arg-type]
            raise ConnectionError("the process is killed before its batch commits")

    failing = PartitionRunner(log, db, Partition(1, 2), batch_size=50)
    failing.projection = Failing(Partition(1, 2))
    with pytest.raises(ConnectionError):
        failing.step()
    assert read_progress(db, LIVE) == before
    assert tables(db) == rows_before
    sealer = Sealer(log, db, sleep=lambda _: None)
    while sealer.step().more:
        pass
    latest = min(p.latest for p in before if p.latest is not None)
    state = seal_state(db, LIVE)
    assert state is not None
    assert all(seal + timedelta(hours=1) <= latest for seal in state.seals[1:])
    for k in range(2):
        PartitionRunner(log, db, Partition(k, 2), batch_size=50).catch_up()
    while sealer.step().more:
        pass
    assert tables(db) == expected


@pytest.mark.parametrize("store_kind", POSTGRES)
def test_a_late_fact_in_a_partition_unseals_and_the_sealer_seals_again(
    log: EventLog, db: ProjectionDatabase
) -> None:
    """A case recorded before the last seal and applied by a partition after it:
    the partition drops that seal and the later ones in its batch, and the sealer
    seals them again, the case counted."""
    partitioned(db, 2)
    catch_up_partitioned(log, db, 2, batch_size=200)
    state = seal_state(db, LIVE)
    assert state is not None
    last = state.seals[-1]
    received = next(
        e for e in events_of(log, ServiceLevelsProjection()) if e.__class__ is SupportCase.Received
    )
    late = dataclasses.replace(  # type: ignore[call-arg]
        received,
        originator_id=uuid4(),
        timestamp=last - timedelta(hours=2),
        received_at=last - timedelta(hours=3),
    )
    part = late.originator_id.bytes[15] % 2
    runner = PartitionRunner(log, db, Partition(part, 2))
    position = runner.position
    with capture_logs() as logs:  # a batch as the runner applies one: pipelined
        runner.apply_batch([PositionedEvent(position, late)], position, position)
    dropped = [e for e in logs if e["event"] == "compliance_seals_dropped_for_late_fact"]
    assert [e["seals"] for e in dropped] == [[last.isoformat()]]
    unsealed = seal_state(db, LIVE)
    assert unsealed is not None
    assert unsealed.seals == state.seals[:-1]
    sealer = Sealer(log, db, sleep=lambda _: None)
    while sealer.step().more:
        pass
    resealed = seal_state(db, LIVE)
    assert resealed is not None
    assert resealed.seals == state.seals
    counted = db.fetchone(
        sql("SELECT count(*) FROM service_level_cases WHERE case_id = {}"), (late.originator_id,)
    )
    assert counted is not None
    assert counted[0] == 1


@pytest.mark.parametrize("store_kind", POSTGRES)
def test_one_runner_is_refused_where_partitions_keep_the_service_levels(
    log: EventLog, db: ProjectionDatabase
) -> None:
    partitioned(db, 2)
    with pytest.raises(LayoutError, match="kept by 2 partitions"):
        ProjectionRunner(log, ServiceLevelsProjection(), db)
    assert set(layout_rows(db, NAME)) == {f"{NAME}/0-of-2", f"{NAME}/1-of-2"}
    with pytest.raises(LayoutError, match="not 3 partitions"):
        PartitionRunner(log, db, Partition(0, 3))


@pytest.mark.parametrize("store_kind", POSTGRES)
def test_a_partition_is_refused_where_one_runner_keeps_the_service_levels(
    log: EventLog, db: ProjectionDatabase
) -> None:
    ProjectionRunner(log, ServiceLevelsProjection(), db, batch_size=500).catch_up()
    with pytest.raises(LayoutError, match="kept by one runner"):
        PartitionRunner(log, db, Partition(0, 2))
    assert layout(db, NAME) == 1


@pytest.mark.parametrize("store_kind", POSTGRES)
def test_a_rebuild_swaps_in_partitions_and_back(
    log: EventLog, db: ProjectionDatabase, head: int
) -> None:
    """`rebuild --partitions 2` leaves two partitions at the head with the moments
    seen, which go on from there; `--partitions 1` one runner again; the tables
    are one runner's throughout."""
    expected = one_runner(log, db)
    result = rebuild(log, ServiceLevelsProjection(), db, batch_size=300, partitions=2)
    assert result.position == head
    assert layout_rows(db, NAME) == {
        f"{NAME}/0-of-2": head,
        f"{NAME}/1-of-2": head,
    }
    state = seal_state(db, LIVE)
    assert state is not None
    progress = read_progress(db, LIVE)
    assert {p.latest for p in progress} == {state.latest_recorded_at}
    assert least_positions(db, [NAME, "case_queue"])[NAME] == head
    keep_every_moment(db)
    assert tables(db) == expected
    catch_up_partitioned(log, db, 2)  # nothing more to apply: the same tables
    assert tables(db) == expected
    rebuild(log, ServiceLevelsProjection(), db, batch_size=300, partitions=1)
    assert layout_rows(db, NAME) == {NAME: head}
    assert read_progress(db, LIVE) == []
    keep_every_moment(db)
    assert tables(db) == expected


@pytest.mark.parametrize("store_kind", POSTGRES)
def test_reads_wait_for_every_partition(log: EventLog, db: ProjectionDatabase) -> None:
    """A projection kept by partitions has applied what its least partition has."""
    partitioned(db, 2, position=40)
    with db.transaction():
        db.execute(
            sql("UPDATE projection_tracking SET position = 70 WHERE projection = {}"),
            (f"{NAME}/1-of-2",),
        )
    assert least_positions(db, [NAME])[NAME] == 40
    status = {st.name: st for st in projection_status(log, db, ManualClock(START))}
    assert status[NAME].position == 40  # what /ready and `projections status` show
    assert status[f"{NAME}/0-of-2"].position == 40  # and each partition, by its name
    assert status[f"{NAME}/1-of-2"].position == 70
    clock = ManualClock(START)
    readings = {r.name: r for r in projection_readings(log, db, clock)}
    assert not readings[f"{NAME}/1-of-2"].running  # no process keeps it: /ready says so
    leading = Leadership(db, f"{NAME}/1-of-2")  # as its process, when it runs
    assert leading.try_acquire()
    try:
        readings = {r.name: r for r in projection_readings(log, db, clock)}
        assert readings[f"{NAME}/1-of-2"].running
        assert not readings[f"{NAME}/0-of-2"].running
    finally:
        leading.release()


@pytest.mark.parametrize("store_kind", POSTGRES)
def test_set_layout_moves_the_rows_that_stay(db: ProjectionDatabase, database_url: str) -> None:
    """A row kept by the new layout is moved, not made again, so its runner,
    waiting on its lock while a swap holds it, reads the new position: a row
    deleted and made again would be gone for that waiting lock."""
    now = ManualClock(START).now()
    zero, one = f"{NAME}/0-of-2", f"{NAME}/1-of-2"
    with db.transaction():
        set_layout(db, NAME, 2, 10, now)
    runner_db = ProjectionDatabase(parse_database_url(database_url))
    seen: list[int | BaseException] = []

    def lock_as_a_runner() -> None:
        try:
            with runner_db.transaction():
                seen.append(Tracking(runner_db).lock(zero))
        except LookupError as e:
            seen.append(e)

    try:
        with db.transaction():
            assert set_layout(db, NAME, 2, 25, now) == [zero, one]
            waiting = threading.Thread(target=lock_as_a_runner)
            waiting.start()
            assert wait_until(lambda: _waits_on_a_lock(db), 10)  # the runner waits on the row
        waiting.join(timeout=10)
    finally:
        runner_db.close()
    assert seen == [25]
    assert layout_rows(db, NAME) == {zero: 25, one: 25}
    with db.transaction():
        set_layout(db, NAME, 1, 30, now)
    assert layout_rows(db, NAME) == {NAME: 30}


def _waits_on_a_lock(db: ProjectionDatabase) -> bool:
    """Whether another session of this database waits for a lock."""
    row = db.fetchone(
        sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
    )
    return row is not None and int(row[0]) > 0


@pytest.mark.parametrize("store_kind", ["sqlite"])
def test_sqlite_refuses_partitions(log: EventLog, db: ProjectionDatabase) -> None:
    with pytest.raises(LayoutError, match="PostgreSQL only"):
        PartitionRunner(log, db, Partition(0, 2))
    with pytest.raises(LayoutError, match="PostgreSQL only"):
        rebuild(log, ServiceLevelsProjection(), db, partitions=2)
    with pytest.raises(LayoutError, match="it has no partitions"):
        rebuild(log, CaseQueueProjection(), db, partitions=2)
    assert layout(db, NAME) == 1


@pytest.mark.parametrize("store_kind", POSTGRES)
def test_the_process_that_runs_the_other_projections_seals_beside_the_partitions(
    log: EventLog, db: ProjectionDatabase, settings: Settings
) -> None:
    """Where partitions keep the service levels, the in-process runners run their
    sealer in its place: it seals what one runner seals, and a read waits for
    every partition."""
    expected = one_runner(log, db)
    partitioned(db, 2)
    for k in range(2):
        PartitionRunner(log, db, Partition(k, 2), batch_size=300).catch_up()
    open_db = partial(open_runner_db, settings)
    with InProcessProjections(log, open_db, [NAME], poll_interval=0.02) as running:
        assert running.wait_for(log.head(), timeout=10)
        assert wait_until(lambda: tables(db) == expected, 20)
    assert not running.failures


@pytest.mark.parametrize("store_kind", POSTGRES)
def test_a_read_model_check_replays_each_partition_to_its_own_position(
    log: EventLog, db: ProjectionDatabase, head: int
) -> None:
    """`audit verify --read-models`' check, where two partitions stand at
    different positions and the sealer has sealed by what they applied: each is
    replayed to its own position, the seals made again where the live ones are,
    and everything matches; nothing of the check is left, and the partitions go
    on from where they were."""
    partitioned(db, 2)
    first, second = (PartitionRunner(log, db, Partition(k, 2), batch_size=50) for k in range(2))
    first.catch_up()
    for _ in range(3):
        second.step()
    sealer = Sealer(log, db, sleep=lambda _: None)
    while sealer.step().more:
        pass
    sealed = seal_state(db, LIVE)
    assert sealed is not None
    assert sealed.seals
    behind = second.position
    assert 0 < behind < head
    check = check_read_model(log, ServiceLevelsProjection(), db, batch_size=70)
    assert check.differences == ()
    assert (check.positions, check.position) == ((head, behind), behind)
    assert check.where == f"its 2 partitions' positions {head}, {behind}"
    assert [t.projection for t in Tracking(db).all() if "__rebuild" in t.projection] == []
    assert layout_rows(db, NAME) == {f"{NAME}/0-of-2": head, f"{NAME}/1-of-2": behind}
    second.catch_up()
    while sealer.step().more:  # every seal, with its changes by moment
        pass
    state = seal_state(db, LIVE)
    assert state is not None
    assert state.by_moment == frozenset(state.seals[1:])
    at_head = check_read_model(log, ServiceLevelsProjection(), db)
    assert (at_head.differences, at_head.positions) == ((), (head, head))
    with db.transaction():  # as seals made while catching up are left: no changes by moment
        reseal(db, LIVE, state.seals, state.latest_recorded_at, by_moment=frozenset())
    assert check_read_model(log, ServiceLevelsProjection(), db).matches


@pytest.mark.parametrize("store_kind", POSTGRES)
def test_a_read_model_check_finds_a_partitions_row_and_a_seal_made_too_early(
    log: EventLog, db: ProjectionDatabase
) -> None:
    """A case's row changed in its partition's tables is found, by table and case
    id; so is a seal made before a case recorded by its moment was applied (its
    cells lack the case), though every per-case row is right again."""
    partitioned(db, 2)
    catch_up_partitioned(log, db, 2, batch_size=200)
    assert check_read_model(log, ServiceLevelsProjection(), db).matches
    row = db.fetchone(sql("SELECT case_id, severity FROM service_level_cases ORDER BY case_id"))
    assert row is not None
    case_id, severity = row
    changed = "critical!"
    with db.transaction():
        db.execute(
            sql("UPDATE service_level_cases SET severity = {} WHERE case_id = {}"),
            (changed, case_id),
        )
    check = check_read_model(log, ServiceLevelsProjection(), db)
    assert [str(d) for d in check.differences] == [
        f"service_level_cases: 1 rows missing, 1 extra (an extra row begins {case_id!r})"
    ]
    with db.transaction():
        db.execute(
            sql("UPDATE service_level_cases SET severity = {} WHERE case_id = {}"),
            (severity, case_id),
        )
    state = seal_state(db, LIVE)
    assert state is not None
    previous, last = state.seals[-2:]
    late = db.fetchone(
        sql(
            "SELECT case_id FROM service_level_cases WHERE received_recorded_at > {} "
            "AND received_recorded_at < {} ORDER BY case_id"
        ),
        (previous, last),
    )
    assert late is not None
    with db.transaction():  # the last seal made again while the case was not applied
        db.execute(
            sql(
                "CREATE TEMPORARY TABLE held ON COMMIT DROP AS "
                "SELECT * FROM service_level_cases WHERE case_id = {}"
            ),
            (late[0],),
        )
        db.execute(sql("DELETE FROM service_level_cases WHERE case_id = {}"), (late[0],))
        unseal(db, LIVE, last)
        add_seal(db, LIVE, last, previous)
        db.execute(sql("INSERT INTO service_level_cases SELECT * FROM held"))
    early = check_read_model(log, ServiceLevelsProjection(), db)
    assert early.differences
    assert {d.table for d in early.differences} <= {
        t for t in ServiceLevelsProjection.tables if t.startswith("compliance_sealed_")
    }


@pytest.fixture
def cli_store(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[str]:
    monkeypatch.delenv("CASES_LOG_LEVEL", raising=False)
    monkeypatch.setenv("CASES_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["projections", *args])


@pytest.mark.parametrize("store_kind", POSTGRES)
@pytest.mark.usefixtures("cli_store")
def test_the_cli_rebuilds_into_partitions_and_runs_them(db: ProjectionDatabase, head: int) -> None:
    rebuilt = invoke("rebuild", NAME, "--partitions", "2")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert layout_rows(db, NAME) == {f"{NAME}/0-of-2": head, f"{NAME}/1-of-2": head}
    once = invoke("run", "--partition", "1/2", "--once")
    assert once.exit_code == 0, once.output
    assert f"{NAME}/1-of-2: applied 0 events; at position {head}." in once.stdout
    both = invoke("run", NAME, "--once")
    assert both.exit_code == 0, both.output
    assert f"{NAME}: its 2 partitions applied 0 events, and sealed." in both.stdout
    for args, said in (
        (("--partition", "0/3"), "not 3 partitions"),
        (("--partition", "2/2"), "k is one of 0 to n - 1"),
        (("--partition", "one"), "written k/n"),
        (("case_queue", "--partition", "0/2"), "of service_levels only"),
    ):
        refused = invoke("run", *args, "--once")
        assert refused.exit_code == 2, (args, refused.output)
        assert said in refused.output, args
    back = invoke("rebuild", NAME, "--partitions", "1")
    assert back.exit_code == 0, back.output
    assert layout_rows(db, NAME) == {NAME: head}


@pytest.mark.parametrize("store_kind", ["sqlite"])
@pytest.mark.usefixtures("cli_store")
def test_the_cli_refuses_partitions_on_sqlite(db: ProjectionDatabase) -> None:
    for args in (("run", "--partition", "0/2", "--once"), ("rebuild", NAME, "--partitions", "2")):
        refused = invoke(*args)
        assert refused.exit_code == 2, refused.output
        assert "PostgreSQL only" in refused.output
    assert layout(db, NAME) == 1


@pytest.mark.parametrize("store_kind", POSTGRES)
@pytest.mark.usefixtures("cli_store")
def test_the_clocks_and_the_report_read_what_every_partition_has_applied(
    log: EventLog, db: ProjectionDatabase, head: int
) -> None:
    """`cases clocks evaluate` waits for the partitions (it cannot run one runner
    beside them), and `cases report` says how far the least of them is."""
    partitioned(db, 2)
    catch_up_partitioned(log, db, 2)
    as_of = (START + timedelta(days=3)).isoformat()
    evaluated = CliRunner().invoke(main_app, ["clocks", "evaluate", "--as-of", as_of])
    assert evaluated.exit_code == 0, evaluated.output
    assert "cases evaluated" in evaluated.output
    recorded = log.head()  # the breaches the evaluation recorded
    assert recorded > head

    def report() -> Result:
        return CliRunner().invoke(
            main_app,
            [
                "report",
                "compliance",
                "--from",
                "2026-03-01",
                "--to",
                "2026-05-01",
                "--format",
                "csv",
            ],
        )

    behind = report()
    assert behind.exit_code == 0, behind.output
    assert f"is behind the log (at {head} of {recorded})" in behind.stderr
    catch_up_partitioned(log, db, 2)
    caught_up = report()
    assert caught_up.exit_code == 0, caught_up.output
    assert "behind the log" not in caught_up.stderr


ROOT = Path(__file__).resolve().parents[3]


def follower(url: str, *args: str, fault: str | None = None) -> subprocess.Popen[str]:
    """`cases projections run ARGS` in a process (group) of its own, on `url`;
    with `fault`, killed (SIGKILL) by itself at that fault point."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
        "CASES_DATABASE_URL": url,
        "CASES_LOG_LEVEL": "WARNING",
    }
    env.pop("CASES_FAULT_POINT", None)
    if fault is not None:
        env["CASES_FAULT_POINT"] = fault
    command = [sys.executable, "-m", "tests.support.projection_cli", "projections", "run", *args]
    return children.spawn(
        [*command, "--poll-interval", "0.05"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("store_kind", POSTGRES)
def test_partitions_and_a_sealer_killed_at_their_commits_end_as_one_runner(
    log: EventLog, db: ProjectionDatabase, database_url: str
) -> None:
    """Processes SIGKILLed between their writes and their commits: a partition's
    first batch leaves no row, position or progress; the sealer's first seal
    leaves no seal. Run again, the partitions and the sealer end where one runner
    ends."""
    expected = one_runner(log, db)
    partitioned(db, 2)
    zero = Partition(0, 2).tracking_name(NAME)
    killed = follower(database_url, "--partition", "0/2", fault="partition-batch-written")
    try:
        assert killed.wait(timeout=60) == -signal.SIGKILL, killed.stderr
    finally:
        children.kill(killed)
    assert layout_rows(db, NAME)[zero] == 0
    assert read_progress(db, LIVE)[0].latest is None
    assert table_rows(db, "service_level_cases") == []
    running = [follower(database_url, "--partition", f"{k}/2") for k in range(2)]
    try:
        assert wait_until(lambda: min(layout_rows(db, NAME).values()) >= log.head(), 60)
        sealer = follower(database_url, NAME, "--no-audit-log", fault="seal-made")
        try:
            assert sealer.wait(timeout=60) == -signal.SIGKILL, sealer.stderr
        finally:
            children.kill(sealer)
        assert seal_state(db, LIVE) is None
        running.append(follower(database_url, NAME, "--no-audit-log"))
        assert wait_until(lambda: tables(db) == expected, 60)
        assert all(process.poll() is None for process in running)
        # Back to one runner: the partitions and the sealer stop, saying why.
        rebuild(log, ServiceLevelsProjection(), db, batch_size=500, partitions=1)
        said = []
        for process in running:
            _, stderr = process.communicate(timeout=60)
            assert process.returncode == 1, stderr
            said.append(stderr)
        assert "has no tracking row" in said[0]
        assert "kept by one runner" in said[2]
    finally:
        for process in running:
            children.stop(process)
