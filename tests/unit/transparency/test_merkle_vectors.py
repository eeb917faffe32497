"""The tree, its proofs and their verifiers agree with RFC 6962's published vectors."""

from __future__ import annotations

import pytest

from cases.transparency.merkle import (
    EMPTY_ROOT,
    Frontier,
    NodeMap,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_at,
    verify_consistency,
    verify_inclusion,
)
from tests.unit.transparency.vectors import CONSISTENCY, INCLUSION, LEAVES, ROOTS
from tests.unit.transparency.vectors import EMPTY_ROOT as PUBLISHED_EMPTY_ROOT


def _tree() -> tuple[Frontier, NodeMap]:
    frontier, nodes = Frontier.empty(), NodeMap()
    for leaf in LEAVES:
        nodes.keep(frontier.append(leaf_hash(leaf)))
    return frontier, nodes


def _hashes(hexes: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


def test_the_empty_tree_has_the_published_root() -> None:
    assert EMPTY_ROOT.hex() == PUBLISHED_EMPTY_ROOT
    assert Frontier.empty().root() == EMPTY_ROOT
    assert root_at(0, NodeMap()) == EMPTY_ROOT


def test_each_prefix_has_the_published_root_from_the_frontier_and_from_stored_nodes() -> None:
    frontier, nodes = Frontier.empty(), NodeMap()
    for size, leaf in enumerate(LEAVES, start=1):
        nodes.keep(frontier.append(leaf_hash(leaf)))
        assert frontier.root().hex() == ROOTS[size - 1]
        assert root_at(size, nodes).hex() == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_proofs_are_the_published_ones(index: int, size: int, proof: list[str]) -> None:
    _, nodes = _tree()
    assert inclusion_proof(index, size, nodes) == _hashes(proof)
    root = bytes.fromhex(ROOTS[size - 1])
    assert verify_inclusion(leaf_hash(LEAVES[index]), index, size, _hashes(proof), root)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_proofs_are_the_published_ones(old: int, new: int, proof: list[str]) -> None:
    _, nodes = _tree()
    assert consistency_proof(old, new, nodes) == _hashes(proof)
    old_root, new_root = bytes.fromhex(ROOTS[old - 1]), bytes.fromhex(ROOTS[new - 1])
    assert verify_consistency(old, new, old_root, new_root, _hashes(proof))


def _flip(proof: list[bytes], i: int) -> list[bytes]:
    changed = list(proof)
    changed[i] = bytes([changed[i][0] ^ 8]) + changed[i][1:]
    return changed


@pytest.mark.parametrize(("index", "size", "proof"), [v for v in INCLUSION if v[2]])
def test_a_corrupted_inclusion_proof_fails(index: int, size: int, proof: list[str]) -> None:
    """The probes of transparency-dev's generated test data, each must fail."""
    good, root, leaf = _hashes(proof), bytes.fromhex(ROOTS[size - 1]), leaf_hash(LEAVES[index])
    some = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
    probes = [
        (leaf, index - 1, size, good, root),
        (leaf, index + 1, size, good, root),
        (leaf, index ^ 2, size, good, root),
        (leaf, index, size * 2, good, root),
        (leaf, index, size // 2, good, root),
        (b"WrongLeaf", index, size, good, root),
        (leaf, index, size, good, EMPTY_ROOT),
        (leaf, index, size, good, some),
        (leaf, index, size, [*good, b""], root),
        (leaf, index, size, [*good, root], root),
        (leaf, index, size, [b"", *good], root),
        (leaf, index, size, [root, *good], root),
        (leaf, index, size, good[:-1], root),
        (leaf, index, size, [good[0], some, *good[1:]], root),
        *((leaf, index, size, _flip(good, i), root) for i in range(len(good))),
    ]
    assert [verify_inclusion(*p) for p in probes] == [False] * len(probes)


@pytest.mark.parametrize(("old", "new", "proof"), [v for v in CONSISTENCY if v[2]])
def test_a_corrupted_consistency_proof_fails(old: int, new: int, proof: list[str]) -> None:
    good = _hashes(proof)
    r1, r2 = bytes.fromhex(ROOTS[old - 1]), bytes.fromhex(ROOTS[new - 1])
    probes = [
        (old - 1, new, r1, r2, good),
        (old + 1, new, r1, r2, good),
        (old ^ 2, new, r1, r2, good),
        (old, new * 2, r1, r2, good),
        (old, new // 2, r1, r2, good),
        (old, new, b"WrongRoot", r2, good),
        (old, new, r1, b"WrongRoot", good),
        (old, new, r2, r1, good),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*good, b""]),
        (old, new, r1, r2, [*good, r1]),
        (old, new, r1, r2, [*good, r2]),
        (old, new, r1, r2, [b"", *good]),
        (old, new, r1, r2, [r1, *good]),
        (old, new, r1, r2, [r2, *good]),
        (old, new, r1, r2, [good[0], *good]),
        (old, new, r1, r2, good[:-1]),
        *((old, new, r1, r2, _flip(good, i)) for i in range(len(good))),
    ]
    assert [verify_consistency(*p) for p in probes] == [False] * len(probes)


def test_the_edge_sizes_of_consistency_follow_the_reference() -> None:
    """transparency-dev's "additional" probes: equal sizes, size 0, time travel."""
    r1, r2 = bytes.fromhex(ROOTS[0]), bytes.fromhex(ROOTS[1])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(1, 1, r1, r1, [])
    assert verify_consistency(0, 1, EMPTY_ROOT, r1, [])
    rejected = [
        (0, 0, EMPTY_ROOT, r2, []),
        (1, 1, r1, r2, []),
        (1, 0, r1, r2, []),
        (2, 1, r1, r2, []),
        (1, 2, r1, r2, []),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
        (1, 1, r1, r1, [EMPTY_ROOT]),
        (0, 1, EMPTY_ROOT, r1, [EMPTY_ROOT]),
        (0, 1, r2, r1, []),
    ]
    assert [verify_consistency(*p) for p in rejected] == [False] * len(rejected)


def test_a_single_leaf_is_its_own_root() -> None:
    h = leaf_hash(b"data")
    assert verify_inclusion(h, 0, 1, [], h)
    assert not verify_inclusion(b"", 0, 1, [], h)
    assert not verify_inclusion(h, 0, 1, [], b"")
    for index, size in [(0, 0), (1, 0), (2, 1)]:
        assert not verify_inclusion(h, index, size, [], EMPTY_ROOT)
