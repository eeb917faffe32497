"""The tree and proofs agree with an independent transcription of RFC 9162 (rfc9162.py)."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Collection, Mapping

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases.transparency.merkle import (
    EMPTY_ROOT,
    CompactRange,
    Frontier,
    FrontierFormatError,
    MissingNodeError,
    NodeMap,
    consistency_proof,
    inclusion_proof,
    root_at,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.unit.transparency import rfc9162

LARGEST = 1100
EDGES = sorted(
    {0, 1, 2, 3} | {p + d for p in (2**k for k in range(2, 11)) for d in (-1, 0, 1)} | {LARGEST}
)
SIZES = st.one_of(st.sampled_from(EDGES), st.integers(0, LARGEST))

HASHES = [rfc9162.leaf(i.to_bytes(4, "big")) for i in range(LARGEST)]


@functools.cache
def _tree() -> tuple[NodeMap, list[Frontier], list[list[tuple[int, int, bytes]]]]:
    """Every complete node of [0, LARGEST); the frontier and the new nodes after each append."""
    nodes, frontier = NodeMap(), Frontier.empty()
    frontiers, appended = [Frontier.empty()], []
    for h in HASHES:
        completed = frontier.append(h)
        nodes.keep(completed)
        appended.append(completed)
        frontiers.append(Frontier(frontier.size, frontier.hashes))
    return nodes, frontiers, appended


@functools.cache
def mth(start: int, end: int) -> bytes:
    return rfc9162.mth(HASHES[start:end])


class CountingNodes:
    """A NodeSource that counts its calls, as a database would count queries."""

    def __init__(self, inner: NodeMap) -> None:
        self.inner = inner
        self.calls = 0

    def nodes(self, wanted: Collection[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        self.calls += 1
        return self.inner.nodes(wanted)


@given(SIZES)
def test_the_root_is_mth_from_the_frontier_and_from_stored_nodes(size: int) -> None:
    nodes, frontiers, _ = _tree()
    assert frontiers[size].root() == mth(0, size)
    assert root_at(size, nodes) == mth(0, size)


@given(st.integers(0, LARGEST - 1))
def test_each_append_returns_exactly_the_nodes_it_completed(index: int) -> None:
    _, _, appended = _tree()
    completed = appended[index]
    assert completed[0] == (0, index, HASHES[index])
    expected = []
    level = 0
    while (index + 1) % (1 << level) == 0:
        start = index + 1 - (1 << level)
        expected.append((level, start >> level, mth(start, index + 1)))
        level += 1
    assert completed == expected


@given(SIZES, st.data())
def test_inclusion_proofs_are_rfc_paths_and_verify_both_ways(
    size: int, data: st.DataObject
) -> None:
    if size == 0:
        with pytest.raises(ValueError, match="not in a tree of 0 leaves"):
            inclusion_proof(0, 0, _tree()[0])
        return
    index = data.draw(
        st.one_of(st.sampled_from([0, size - 1, size // 2]), st.integers(0, size - 1))
    )
    source = CountingNodes(_tree()[0])
    proof = inclusion_proof(index, size, source)
    root = mth(0, size)
    assert source.calls == (1 if proof else 0)
    assert proof == rfc9162.path(index, HASHES[:size])
    assert verify_inclusion(HASHES[index], index, size, proof, root)
    assert rfc9162.verify_path(index, size, HASHES[index], proof, root)
    other = (index + 1) % size
    if other != index:
        assert not verify_inclusion(HASHES[other], index, size, proof, root)
        assert not verify_inclusion(HASHES[index], other, size, proof, root)
    if size > 1:
        assert not verify_inclusion(HASHES[index], index, size, proof, mth(0, size - 1))
    if proof:
        assert not verify_inclusion(HASHES[index], index, size, proof[:-1], root)


@given(SIZES, st.data())
def test_consistency_proofs_are_rfc_proofs_and_verify_both_ways(
    new: int, data: st.DataObject
) -> None:
    old = data.draw(st.one_of(st.sampled_from([0, 1, new // 2, new - 1, new]), st.integers(0, new)))
    old = max(0, min(old, new))
    source = CountingNodes(_tree()[0])
    proof = consistency_proof(old, new, source)
    old_root, new_root = mth(0, old), mth(0, new)
    assert source.calls == (1 if proof else 0)
    assert verify_consistency(old, new, old_root, new_root, proof)
    if 0 < old < new:
        assert proof == rfc9162.proof(old, HASHES[:new])
        assert rfc9162.verify_proof(old, new, old_root, new_root, proof)
        assert not verify_consistency(old, new, mth(0, old - 1), new_root, proof)
        assert not verify_consistency(old, new, old_root, mth(0, new - 1), proof)
        assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
        bent = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
        assert not verify_consistency(old, new, old_root, new_root, bent)
    else:
        assert proof == []


@given(st.integers(0, LARGEST), st.integers(0, LARGEST))
def test_any_range_hashes_as_mth_even_unaligned(a: int, b: int) -> None:
    start, end = min(a, b), max(a, b)
    assert subtree_hash(start, end, _tree()[0]) == (mth(start, end) if end > start else EMPTY_ROOT)


@given(SIZES, SIZES)
def test_extending_is_appending_without_keeping_nodes(a: int, b: int) -> None:
    start, end = min(a, b), max(a, b)
    _, frontiers, _ = _tree()
    frontier = Frontier(start, frontiers[start].hashes)
    frontier.extend(HASHES[start:end])
    assert (frontier.size, frontier.hashes) == (end, frontiers[end].hashes)


@given(st.lists(st.integers(0, LARGEST), max_size=6))
def test_a_log_cut_into_compact_ranges_joins_into_its_frontier(cuts: list[int]) -> None:
    """Hashing each part on its own (as verify's workers do) and joining the parts
    gives the frontier of the whole, and each part's nodes are the MTHs of the fewest
    aligned subtrees that cover it."""
    bounds = sorted({0, LARGEST, *cuts})
    _, frontiers, _ = _tree()
    frontier = Frontier.empty()
    for begin, end in itertools.pairwise(bounds):
        part = CompactRange.at(begin)
        part.extend(HASHES[begin:end])
        covered, previous = begin, (-1, -1)
        for level, digest in part.nodes:
            assert covered % (1 << level) == 0
            assert digest == mth(covered, covered + (1 << level))
            assert previous != (level, covered - (1 << level)) or previous[1] % (2 << level)
            previous = (level, covered)
            covered += 1 << level
        assert (part.end, covered) == (end, end)
        frontier.join(part)
        assert (frontier.size, frontier.hashes) == (end, frontiers[end].hashes)
    assert frontier.root() == mth(0, LARGEST)


def test_a_compact_range_joins_only_where_the_frontier_ends() -> None:
    part = CompactRange.at(5)
    part.extend(HASHES[5:9])
    with pytest.raises(ValueError, match="from leaf 5 cannot follow 4 leaves"):
        Frontier(4, (mth(0, 4),)).join(part)


def test_extending_stops_at_a_bad_hash_with_the_good_ones_kept() -> None:
    frontier = Frontier.empty()
    with pytest.raises(ValueError, match="32 bytes, not 2"):
        frontier.extend([*HASHES[:3], b"ab", HASHES[3]])
    assert (frontier.size, frontier.root()) == (3, mth(0, 3))


@given(SIZES)
def test_a_frontier_survives_its_bytes(size: int) -> None:
    frontier = _tree()[1][size]
    again = Frontier.from_bytes(frontier.to_bytes())
    assert (again.size, again.hashes, again.root()) == (size, frontier.hashes, mth(0, size))
    assert len(frontier.hashes) == size.bit_count()


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"\x00" * 7, "8 bytes of size"),
        ((3).to_bytes(8, "big") + b"\x00" * 32, "holds 64 bytes of hashes, not 32"),
        ((0).to_bytes(8, "big") + b"\x00", "holds 0 bytes"),
    ],
)
def test_bytes_that_are_not_a_frontier_are_refused(data: bytes, rule: str) -> None:
    with pytest.raises(FrontierFormatError, match=rule):
        Frontier.from_bytes(data)


def test_a_frontier_holds_one_hash_per_set_bit_of_its_size() -> None:
    with pytest.raises(FrontierFormatError, match="size 3 holds 2 hashes, not 1"):
        Frontier(3, (HASHES[0],))
    with pytest.raises(FrontierFormatError, match="32 bytes each"):
        Frontier(1, (b"short",))


def test_a_proof_missing_a_stored_node_names_it() -> None:
    nodes = NodeMap()
    frontier = Frontier.empty()
    for h in HASHES[:5]:
        nodes.keep(c for c in frontier.append(h) if c[:2] != (1, 0))
    with pytest.raises(MissingNodeError, match="level 1, index 0"):
        inclusion_proof(2, 5, nodes)


def test_impossible_ranges_are_refused() -> None:
    nodes = _tree()[0]
    with pytest.raises(ValueError, match="leaf 5 is not in a tree of 5 leaves"):
        inclusion_proof(5, 5, nodes)
    with pytest.raises(ValueError, match="cannot grow"):
        consistency_proof(6, 5, nodes)
    with pytest.raises(ValueError, match="no range"):
        subtree_hash(4, 3, nodes)


def test_a_leaf_hash_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes, not 3"):
        Frontier.empty().append(b"abc")


@pytest.mark.slow
@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(SIZES, st.data())
def test_many_proofs_agree_with_the_rfc(size: int, data: st.DataObject) -> None:
    """The two proof properties above with ten times the examples."""
    test_inclusion_proofs_are_rfc_paths_and_verify_both_ways.hypothesis.inner_test(size, data)  # type: ignore[attr-defined]
    test_consistency_proofs_are_rfc_proofs_and_verify_both_ways.hypothesis.inner_test(size, data)  # type: ignore[attr-defined]
