"""`verify` in worker processes: the log cut into ranges of leaves, each followed on
its own connections, the roots rebuilt from the ranges' compact ranges (ADR 0043).
Whatever is tampered with, the pool finds what one process finds, word for word."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator

import pytest

from cases.audit_log.ranges import RangeTask, follow_range
from cases.audit_log.tree_store import TreeStore
from cases.db.statement import sql
from cases.transparency.merkle import Frontier, root_at
from tests.integration.audit_log.conftest import ONE_PROCESS, TWO_WORKERS, Copy, TreeHistory
from tests.support.raw_events import RawEvents

RANGE = TWO_WORKERS.range_events or 0


@pytest.fixture
def raw(copy: Copy) -> Iterator[RawEvents]:
    events = RawEvents(copy.settings.effective_database_url)
    yield events
    events.close()


def _tasks(copy: Copy) -> list[RangeTask]:
    return copy.verifier(TWO_WORKERS)._ranges([])


def _leaf_position(copy: Copy, index: int) -> int:
    return TreeStore(copy.db).positions_at([index])[index]


def test_the_tree_is_cut_into_ranges_of_whole_batches_from_their_first_leaf(
    copy: Copy, history: TreeHistory
) -> None:
    tasks = _tasks(copy)
    starts = list(range(0, history.events, RANGE))
    assert [task.index for task in tasks] == starts
    assert tasks[0].position == 1
    for task, following in itertools.pairwise(tasks):
        assert following.position == _leaf_position(copy, following.index)
        assert task.stop == following.position - 1
        assert task.leaves == RANGE
    assert (tasks[-1].stop, tasks[-1].leaves) == (None, history.events - starts[-1])


def test_each_range_hashes_to_the_stored_tree_and_they_join_into_its_root(
    copy: Copy, history: TreeHistory
) -> None:
    store = TreeStore(copy.db)
    sizes = (2_500, 4_000, history.events)
    frontier = Frontier.empty()
    for task in _tasks(copy):
        inside = tuple(s for s in sizes if task.index < s <= task.index + task.leaves)
        result = follow_range(copy.log, store, dataclasses.replace(task, sizes=inside))
        assert not result.parted
        covered = task.index
        for level, digest in result.compact.nodes:
            assert store.nodes([(level, covered >> level)]) == {(level, covered >> level): digest}
            covered += 1 << level
        for cut in result.cuts:
            joined = Frontier(frontier.size, frontier.hashes)
            joined.join(cut.compact)
            assert joined.root() == root_at(cut.size, store)
        frontier.join(result.compact)
        assert frontier.root() == root_at(frontier.size, store)
    assert frontier.size == history.events


def test_a_changed_row_parts_its_range_alone(copy: Copy, raw: RawEvents) -> None:
    changed = _leaf_position(copy, 2 * RANGE + 17)
    raw.set_topic(changed, raw.row(changed)[2] + "X")
    store = TreeStore(copy.db)
    parted = [follow_range(copy.log, store, task).parted for task in _tasks(copy)]
    assert parted == [i == 2 for i in range(len(parted))]


def _boundary(copy: Copy) -> int:
    return _leaf_position(copy, 3 * RANGE)


def _forge_at_a_boundary(copy: Copy, raw: RawEvents) -> None:
    originator, version, topic, state = raw.row(_boundary(copy) + 5)
    raw.insert_before(_boundary(copy), originator, version + 100_000, topic, state)


def _on_leaves(*statements: str) -> Callable[[Copy, RawEvents], None]:
    """Statements on the stored leaves, `{}` the index of a range's first leaf."""

    def tamper(copy: Copy, _: RawEvents) -> None:
        for statement in statements:
            copy.db.execute(sql(statement), (3 * RANGE,))

    return tamper


TAMPERINGS: list[tuple[str, Callable[[Copy, RawEvents], None]]] = [
    ("the first row of a range deleted", lambda c, r: r.delete(_boundary(c))),
    ("the last row of a range deleted", lambda c, r: r.delete(_boundary(c) - 1)),
    ("a row forged at a range's start", _forge_at_a_boundary),
    (
        "a row moved past a range's end",
        lambda c, r: r.move(_boundary(c) - 3, _boundary(c) + 1_000_000),
    ),
    ("the tail cut at a range's start", lambda c, r: r.delete_from(_boundary(c))),
    (
        "the stored leaf at a range's start deleted",
        _on_leaves("DELETE FROM audit_log_leaves WHERE leaf_index = {}"),
    ),
    (
        "the stored leaf at a range's start moved",
        _on_leaves(
            "DELETE FROM audit_log_leaves WHERE leaf_index = {} + 1",
            "UPDATE audit_log_leaves SET position = position + 1 WHERE leaf_index = {}",
        ),
    ),
    (
        "the stored leaf at a range's start out of order",
        _on_leaves("UPDATE audit_log_leaves SET position = -position WHERE leaf_index = {}"),
    ),
    (
        "the stored leaves' tail cut",
        _on_leaves("DELETE FROM audit_log_leaves WHERE leaf_index >= {} + 1000"),
    ),
]


@pytest.mark.parametrize("tamper", [t[1] for t in TAMPERINGS], ids=[t[0] for t in TAMPERINGS])
def test_the_pool_finds_what_one_process_finds(
    copy: Copy, raw: RawEvents, tamper: Callable[[Copy, RawEvents], None]
) -> None:
    tamper(copy, raw)
    alone = copy.verifier(ONE_PROCESS).verify()
    assert alone.finding is not None
    assert copy.verifier(TWO_WORKERS).verify() == alone


def test_a_small_tree_is_followed_in_one_process(copy: Copy, history: TreeHistory) -> None:
    whole = copy.verifier(TWO_WORKERS)
    whole.range_events = history.events
    assert whole._ranges([]) == []
    assert whole.verify() == copy.verifier(ONE_PROCESS).verify()
