"""An independent reading of RFC 9162 section 2.1, written from its recursive definitions.

Nothing here comes from `cases.transparency`: MTH (2.1.1), PATH (2.1.3.1) and
PROOF/SUBPROOF (2.1.4.1) are transcribed as the RFC states them, on a list of
leaves, and the two verifiers recompute the roots by walking the same recursion
backwards (rather than the RFC's bit-twiddling algorithms, which the code under
test uses).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf(data: bytes) -> bytes:
    return sha256(b"\x00" + data)


def node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes: the empty hash, the leaf, or the split's two halves."""
    n = len(hashes)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return hashes[0]
    k = split(n)
    return node(mth(hashes[:k]), mth(hashes[k:]))


def path(m: int, hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n])."""
    n = len(hashes)
    if n == 1:
        return []
    k = split(n)
    if m < k:
        return [*path(m, hashes[:k]), mth(hashes[k:])]
    return [*path(m - k, hashes[k:]), mth(hashes[:k])]


def subproof(m: int, hashes: Sequence[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b)."""
    n = len(hashes)
    if m == n:
        return [] if whole else [mth(hashes)]
    k = split(n)
    if m <= k:
        return [*subproof(m, hashes[:k], whole), mth(hashes[k:])]
    return [*subproof(m - k, hashes[k:], False), mth(hashes[:k])]


def proof(m: int, hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) for 0 < m < n."""
    return subproof(m, hashes, True)


def root_from_path(m: int, n: int, leaf_hash: bytes, audit: Sequence[bytes]) -> bytes | None:
    """The root PATH(m, D[n]) leads to from the leaf, or None if it has the wrong length."""
    if n == 1:
        return leaf_hash if not audit else None
    if not audit:
        return None
    k, last = split(n), audit[-1]
    if m < k:
        left = root_from_path(m, k, leaf_hash, audit[:-1])
        return None if left is None else node(left, last)
    right = root_from_path(m - k, n - k, leaf_hash, audit[:-1])
    return None if right is None else node(last, right)


def verify_path(m: int, n: int, leaf_hash: bytes, audit: Sequence[bytes], root: bytes) -> bool:
    return 0 <= m < n and root_from_path(m, n, leaf_hash, audit) == root


def _roots_from_subproof(
    m: int, n: int, items: Sequence[bytes], whole: bool, old_root: bytes
) -> tuple[bytes, bytes] | None:
    """(old subtree hash, new subtree hash) SUBPROOF(m, D[n], whole) leads to."""
    if m == n:
        if whole:
            return (old_root, old_root) if not items else None
        return (items[0], items[0]) if len(items) == 1 else None
    if not items:
        return None
    k, last = split(n), items[-1]
    if m <= k:
        inner = _roots_from_subproof(m, k, items[:-1], whole, old_root)
        return None if inner is None else (inner[0], node(inner[1], last))
    inner = _roots_from_subproof(m - k, n - k, items[:-1], False, old_root)
    return None if inner is None else (node(last, inner[0]), node(last, inner[1]))


def verify_proof(m: int, n: int, old_root: bytes, new_root: bytes, items: Sequence[bytes]) -> bool:
    """Does PROOF(m, D[n]) = items lead to both roots? (0 < m < n)"""
    if not 0 < m < n:
        return False
    roots = _roots_from_subproof(m, n, items, True, old_root)
    return roots == (old_root, new_root)
