"""The tree builder beside running writers, and after being killed (issue 14)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from uuid import uuid4

from eventsourcing.persistence import StoredEvent

from cases.audit_log.tree_store import TreeStore
from cases.db.database import open_runner_db
from cases.db.statement import sql
from cases.followers.runner import RunnerLoop
from cases.followers.tree_builder import tree_builders
from tests.integration.audit_log.conftest import Copy, TreeHistory
from tests.support import children
from tests.support.raw_events import RawEvents

ROOT = Path(__file__).resolve().parents[3]
WRITERS = 6
COMMANDS = 40  # per writer, one to three events each
WAIT = 120.0  # seconds at most for the killed runner to get going


def _template(copy: Copy) -> tuple[str, bytes]:
    """A real stored event's topic and state, to write again under new aggregates."""
    raw = RawEvents(copy.settings.effective_database_url)
    try:
        _, _, topic, state = raw.row(2)
    finally:
        raw.close()
    return topic, state


def test_checkpoints_issued_while_writers_write_cover_exactly_their_size(copy: Copy) -> None:
    """Writers commit (together, on PostgreSQL: ADR 27) while the builder follows
    in batches of at most 10 and issues a checkpoint every 25 events: every
    checkpoint's root is the root of exactly the first `size` rows in position
    order, and the tree ends holding every row."""
    settings = copy.settings.model_copy(update={"audit_log_checkpoint_events": 25})
    make = tree_builders(
        settings, copy.log, lambda: open_runner_db(settings), create_key=False, batch_size=10
    )
    loop = RunnerLoop(make, poll_interval=0.005)
    follower = threading.Thread(target=loop.run)
    before = len(TreeStore(copy.db).checkpoints())
    topic, state = _template(copy)

    def write(seed: int) -> None:
        for command in range(COMMANDS):
            aggregate = uuid4()
            count = 1 + (seed + command) % 3
            copy.log.recorder.insert_events(
                [StoredEvent(aggregate, v, topic, state) for v in range(1, count + 1)]
            )

    writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    follower.start()
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    loop.stop()
    follower.join()
    builder = make()
    builder.issue_now()
    builder.db.close()

    result = copy.verifier().verify()
    assert result.finding is None
    head = copy.log.recorder.max_notification_id()
    assert TreeStore(copy.db).head().position == head
    assert result.events == TreeStore(copy.db).head().size
    assert len(TreeStore(copy.db).checkpoints()) - before > 5


def _wipe_tree(copy: Copy) -> None:
    for table in ("audit_log_leaves", "audit_log_nodes", "audit_log_checkpoints"):
        copy.db.execute(f"DELETE FROM {table}")
    copy.db.execute(sql("UPDATE audit_log_tree SET size = 0, position = 0, frontier = {}"), (b"",))


def test_a_builder_killed_mid_way_resumes_with_no_gap(
    copy: Copy, history: TreeHistory, tmp_path: Path
) -> None:
    """`cases projections run` builds the tree in batches of 20; SIGKILLed part of
    the way, it leaves a tree that ends at a batch; the next run appends the
    rest, and the whole log verifies against the checkpoints of both runs."""
    _wipe_tree(copy)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASES_")}
    env |= {
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
        "CASES_DATABASE_URL": copy.settings.effective_database_url,
        "CASES_DATA_DIR": str(tmp_path),
        "CASES_AUDIT_LOG_KEY_FILE": str(history.key_file),
        "CASES_AUDIT_LOG_CHECKPOINT_EVENTS": "300",
        "CASES_POSTGRES_POOL_SIZE": "2",
    }
    command = [sys.executable, "-m", "tests.support.projection_cli", "projections", "run"]
    options = ["case_queue", "--batch-size", "20", "--poll-interval", "0.05"]
    with (tmp_path / "runner.log").open("w") as log:
        process = children.spawn(
            [*command, *options], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    store = TreeStore(copy.db)
    deadline = time.monotonic() + WAIT
    while store.head().size < 2_000:
        assert process.poll() is None, (tmp_path / "runner.log").read_text()
        assert time.monotonic() < deadline, "the builder did not get going"
        time.sleep(0.05)
    children.kill(process)
    killed_at = store.head().size
    assert 0 < killed_at < history.events

    resumed = subprocess.run(  # noqa: S603 - this interpreter, our own module
        [*command, *options, "--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert TreeStore(copy.db).head().size == history.events
    result = copy.verifier().verify()
    assert result.finding is None
    sizes = [c.size for c in TreeStore(copy.db).checkpoints()]
    assert min(sizes) <= killed_at < max(sizes)  # checkpoints of both runs verified


def test_a_batch_stops_at_the_head_it_was_read_to(copy: Copy) -> None:
    """The builder reads stored rows in batches, but never past the head of the log
    it saw before the read (an event recorded meanwhile waits for the next batch)."""
    builder = tree_builders(copy.settings, copy.log, lambda: copy.db, create_key=False)()
    head = builder.head()
    assert [row[0] for row in builder.rows(head - 30, head - 10)] == list(
        range(head - 29, head - 9)
    )
    assert builder.rows(head, head) == []


def test_small_batches_build_the_tree_the_checkpoints_vouch_for(copy: Copy) -> None:
    """Rebuilt in batches of 333 (leaves and nodes written in bulk: COPY on
    PostgreSQL), the tree holds the same leaves and nodes, and the log verifies
    against the checkpoints the first build issued."""
    tables = ("audit_log_leaves", "audit_log_nodes")
    before = {t: copy.db.fetchall(f"SELECT * FROM {t} ORDER BY 1, 2") for t in tables}
    for table in tables:  # the checkpoints stay
        copy.db.execute(f"DELETE FROM {table}")
    copy.db.execute(sql("UPDATE audit_log_tree SET size = 0, position = 0, frontier = {}"), (b"",))
    builder = tree_builders(
        copy.settings, copy.log, lambda: copy.db, create_key=False, batch_size=333
    )
    builder().catch_up()
    assert {t: copy.db.fetchall(f"SELECT * FROM {t} ORDER BY 1, 2") for t in tables} == before
    assert copy.verifier().verify().ok
