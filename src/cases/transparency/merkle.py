"""The Merkle tree of RFC 9162 section 2.1, kept incrementally and proved from stored nodes.

A *node* `(level, index)` is the hash of the complete subtree of `2**level`
leaves starting at leaf `index * 2**level`; level 0 holds the leaf hashes.
`Frontier` appends leaves and hands back every node that became complete, so a
store can keep them; the proofs then ask a `NodeSource` for the O(log n) nodes
they need in one call, and hash O(log n) times.

The functions follow the RFC's recursive definitions (MTH, PATH, SUBPROOF),
unrolled into loops; the verifiers are the RFC's algorithms 2.1.3.2 and 2.1.4.2
step by step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_SIZE_BYTES = 8

Node = tuple[int, int]
"""`(level, index)`: the complete subtree of `2**level` leaves from leaf `index * 2**level`."""


def leaf_hash(leaf: bytes) -> bytes:
    """SHA-256(0x00 || leaf): the hash of one leaf."""
    return hashlib.sha256(_LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


class NodeSource(Protocol):
    """Where the proofs find stored node hashes."""

    def nodes(self, wanted: Collection[Node]) -> Mapping[Node, bytes]:
        """The hashes of `wanted` nodes, in one batch; a missing one is left out (or KeyError)."""
        ...


class MissingNodeError(KeyError):
    """A proof needed a node its source does not hold."""

    def __init__(self, node: Node) -> None:
        level, index = node
        super().__init__(f"the node at level {level}, index {index} is not stored")
        self.node = node


class NodeMap:
    """A `NodeSource` held in memory: the nodes `Frontier.append` returned, kept in a dict."""

    def __init__(self) -> None:
        self._hashes: dict[Node, bytes] = {}

    def keep(self, completed: Iterable[tuple[int, int, bytes]]) -> None:
        for level, index, digest in completed:
            self._hashes[(level, index)] = digest

    def nodes(self, wanted: Collection[Node]) -> Mapping[Node, bytes]:
        return {node: self._hashes[node] for node in wanted if node in self._hashes}

    def __len__(self) -> int:
        return len(self._hashes)


class FrontierFormatError(ValueError):
    """Bytes that are not a frontier written by `Frontier.to_bytes`."""


@dataclass(slots=True)
class Frontier:
    """The compact range [0, size): one perfect subtree per set bit of `size`, largest first."""

    size: int
    hashes: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if self.size < 0 or len(self.hashes) != self.size.bit_count():
            raise FrontierFormatError(
                f"a frontier of size {self.size} holds {max(self.size, 0).bit_count()} hashes,"
                f" not {len(self.hashes)}"
            )
        if any(len(h) != HASH_SIZE for h in self.hashes):
            raise FrontierFormatError(f"a frontier's hashes have {HASH_SIZE} bytes each")

    @classmethod
    def empty(cls) -> Frontier:
        return cls(0, ())

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf; return every node that became complete, the leaf `(0, size-1, h)` first."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"a leaf hash has {HASH_SIZE} bytes, not {len(leaf_hash)}")
        index = self.size
        completed = [(0, index, leaf_hash)]
        stack = list(self.hashes)
        digest, level = leaf_hash, 0
        while (index >> level) & 1:
            digest = node_hash(stack.pop(), digest)
            level += 1
            completed.append((level, index >> level, digest))
        stack.append(digest)
        self.size = index + 1
        self.hashes = tuple(stack)
        return completed

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append many leaves, keeping no nodes: the fast path of a verifier rebuilding roots."""
        stack, size, sha256 = list(self.hashes), self.size, hashlib.sha256
        try:
            for leaf in leaf_hashes:
                if len(leaf) != HASH_SIZE:
                    raise ValueError(f"a leaf hash has {HASH_SIZE} bytes, not {len(leaf)}")
                digest, index = leaf, size
                while index & 1:
                    digest = sha256(_NODE_PREFIX + stack.pop() + digest).digest()
                    index >>= 1
                stack.append(digest)
                size += 1
        finally:
            self.size, self.hashes = size, tuple(stack)

    def join(self, compact: CompactRange) -> None:
        """Append the leaves of `compact`, which begins where this frontier ends, from its
        subtree hashes alone (RFC 9162's trees are unique: same hashes as the leaves give)."""
        if compact.begin != self.size:
            raise ValueError(
                f"a compact range from leaf {compact.begin} cannot follow {self.size} leaves"
            )
        stack, size = list(self.hashes), self.size
        for level, node in compact.nodes:
            digest, index = node, size >> level
            while index & 1:
                digest = node_hash(stack.pop(), digest)
                index >>= 1
            stack.append(digest)
            size += 1 << level
        self.size, self.hashes = size, tuple(stack)

    def root(self) -> bytes:
        """MTH of the leaves [0, size); EMPTY_ROOT when there are none."""
        if not self.hashes:
            return EMPTY_ROOT
        digest = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            digest = node_hash(left, digest)
        return digest

    def to_bytes(self) -> bytes:
        """The size as 8 bytes big-endian, then the hashes, largest subtree first."""
        return self.size.to_bytes(_SIZE_BYTES, "big") + b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> Frontier:
        if len(data) < _SIZE_BYTES:
            raise FrontierFormatError(f"a frontier starts with {_SIZE_BYTES} bytes of size")
        size = int.from_bytes(data[:_SIZE_BYTES], "big")
        body = data[_SIZE_BYTES:]
        expected = size.bit_count() * HASH_SIZE
        if len(body) != expected:
            raise FrontierFormatError(
                f"a frontier of size {size} holds {expected} bytes of hashes, not {len(body)}"
            )
        hashes = tuple(body[i : i + HASH_SIZE] for i in range(0, len(body), HASH_SIZE))
        return cls(size, hashes)


@dataclass(slots=True)
class CompactRange:
    """The compact range [begin, end) of leaves: the fewest complete, aligned subtrees
    that cover it, left to right, each as (level, hash). A frontier is the compact
    range from 0; a range from elsewhere is a part of the log hashed on its own, which
    `Frontier.join` appends to the frontier that ends where it begins."""

    begin: int
    end: int
    nodes: list[tuple[int, bytes]]

    @classmethod
    def at(cls, begin: int) -> CompactRange:
        if begin < 0:
            raise ValueError(f"no leaf has the index {begin}")
        return cls(begin, begin, [])

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append leaves: two neighbours of one level become their parent whenever
        the left one starts where a subtree of the level above may."""
        nodes, end, sha256 = self.nodes, self.end, hashlib.sha256
        try:
            for leaf in leaf_hashes:
                if len(leaf) != HASH_SIZE:
                    raise ValueError(f"a leaf hash has {HASH_SIZE} bytes, not {len(leaf)}")
                digest, level, end = leaf, 0, end + 1
                while (
                    nodes
                    and nodes[-1][0] == level
                    and end % (2 << level) == 0
                    and end - (2 << level) >= self.begin
                ):
                    digest = sha256(_NODE_PREFIX + nodes.pop()[1] + digest).digest()
                    level += 1
                nodes.append((level, digest))
        finally:
            self.end = end

    def copy(self) -> CompactRange:
        return CompactRange(self.begin, self.end, list(self.nodes))


def _split(count: int) -> int:
    """The largest power of two smaller than `count` (count >= 2), where the RFC splits."""
    return 1 << ((count - 1).bit_length() - 1)


@dataclass(frozen=True, slots=True)
class _Pair:
    """The hash of two plans: MTH of a range that is not one stored node."""

    left: Node | _Pair
    right: Node | _Pair


_Plan = Node | _Pair
"""How MTH(D[start:end]) is made of stored nodes: one node, or the hash of two plans."""


def _plan(start: int, end: int) -> _Plan:
    """MTH(D[start:end]) (RFC 9162 2.1.1) as stored nodes; O(log n) of them if start is aligned."""
    count = end - start
    level = count.bit_length() - 1
    if count == 1 << level and start % count == 0:
        return (level, start >> level)
    k = _split(count)
    return _Pair(_plan(start, start + k), _plan(start + k, end))


def _wanted(plan: _Plan) -> Iterable[Node]:
    if isinstance(plan, _Pair):
        yield from _wanted(plan.left)
        yield from _wanted(plan.right)
    else:
        yield plan


def _digest(plan: _Plan, found: Mapping[Node, bytes]) -> bytes:
    if isinstance(plan, _Pair):
        return node_hash(_digest(plan.left, found), _digest(plan.right, found))
    if plan not in found:
        raise MissingNodeError(plan)
    return found[plan]


def _digests(ranges: Sequence[tuple[int, int]], source: NodeSource) -> list[bytes]:
    """MTH of each range, fetching every node they need in one `source.nodes` call."""
    plans = [_plan(start, end) for start, end in ranges]
    wanted = {node for plan in plans for node in _wanted(plan)}
    found = source.nodes(wanted) if wanted else {}
    return [_digest(plan, found) for plan in plans]


def subtree_hash(start: int, end: int, source: NodeSource) -> bytes:
    """MTH(D[start:end]); EMPTY_ROOT for an empty range."""
    if not 0 <= start <= end:
        raise ValueError(f"no range of leaves runs from {start} to {end}")
    if start == end:
        return EMPTY_ROOT
    return _digests([(start, end)], source)[0]


def root_at(size: int, source: NodeSource) -> bytes:
    """The root of the tree of the first `size` leaves."""
    return subtree_hash(0, size, source)


def inclusion_proof(index: int, size: int, source: NodeSource) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 2.1.3.1, nearest the leaf first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    siblings: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            siblings.append((start + k, end))
            end = start + k
        else:
            siblings.append((start, start + k))
            start += k
    return _digests(siblings[::-1], source)


def consistency_proof(old: int, new: int, source: NodeSource) -> list[bytes]:
    """PROOF(old, D[0:new]) of RFC 9162 2.1.4.1; empty when old is 0 or equals new."""
    if not 0 <= old <= new:
        raise ValueError(f"a tree of {old} leaves cannot grow into one of {new}")
    if old in (0, new):
        return []
    ranges: list[tuple[int, int]] = []
    start, end, known = 0, new, True
    while old != end - start:
        k = _split(end - start)
        if old <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            old -= k
            start += k
            known = False
    if not known:
        ranges.append((start, end))
    return _digests(ranges[::-1], source)


def _shift_to_odd_or_zero(fn: int, sn: int) -> tuple[int, int]:
    """The RFC's "right-shift both fn and sn equally until either LSB(fn) is set or fn is 0"."""
    while not fn & 1 and fn != 0:
        fn >>= 1
        sn >>= 1
    return fn, sn


def _hashes_ok(*hashes: bytes) -> bool:
    return all(len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: does `proof` put `leaf_hash` at `index` of the tree `root` of `size`?"""
    if not 0 <= index < size or not _hashes_ok(leaf_hash, root, *proof):
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_to_odd_or_zero(fn, sn)
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: is the tree `new_root` of `new` leaves an extension of `old_root`?"""
    if not 0 <= old <= new or not _hashes_ok(old_root, new_root, *proof):
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            fn, sn = _shift_to_odd_or_zero(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
