"""The customer layer's cells packed a row per seal and months (ADR 85).

A seal's cells of one UTC month of receipt and one local month of receipt are
one row: the cells' customers (`names`, in order), and each column the cells'
blobs one after another, with, where a cell's blob has no fixed length, each
cell's number of values (`{column}_lengths`). A report by customer reads a row
per seal and month (about 25 a year) instead of a row per cell (about 120 000),
and unpacks each column at once.

Integers are packed as 8-byte big-endian integers (as PostgreSQL's int8send);
a name ends with a NUL character, which no customer id holds (the domain refuses
it, and PostgreSQL's text cannot hold it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Integers = npt.NDArray[np.int64]
DURATION = ">i8"  # a packed integer: 8 bytes, big-endian (as PostgreSQL's int8send)
END = b"\0"  # after each name


def pack(durations: Integers) -> bytes:
    return durations.astype(DURATION).tobytes()


def unpacked(packed: bytes) -> Integers:
    """The integers `pack` (or PostgreSQL's `int8send`) packed, in order."""
    return np.frombuffer(packed, dtype=DURATION).astype(np.int64)


def packed_names(names: Iterable[str]) -> bytes:
    """`names`, each UTF-8 and ended by a NUL; refuses a name that holds one."""
    encoded = [name.encode() for name in names]
    if any(END in name for name in encoded):
        raise ValueError("a packed name holds a NUL character")
    return b"".join(name + END for name in encoded)


def names_of(packed: bytes) -> list[str]:
    """The names `packed_names` packed, in order."""
    return packed.decode().split("\0")[:-1]


def counts_of_next(column: str) -> bool:
    """Whether `column` holds each cell's number of values of the column after it."""
    return column == "lengths" or column.endswith("_lengths")


def packed_rows(
    cells: Mapping[tuple[str, ...], Sequence[bytes]], columns: Sequence[str]
) -> list[list[object]]:
    """The rows of `cells` (each cell's key, the packed name last, and its blobs
    of the `columns` that are not `counts_of_next`, in order): a row per key less
    its last part, in order: that key, the names, then per column its cells'
    blobs joined, or, for a column `counts_of_next`, each cell's number of 8-byte
    values in the next one."""
    rows: dict[tuple[str, ...], list[tuple[str, Sequence[bytes]]]] = {}
    for cell in sorted(cells):
        rows.setdefault(cell[:-1], []).append((cell[-1], cells[cell]))
    packed = []
    for block, members in rows.items():
        row: list[object] = [*block, packed_names(name for name, _ in members)]
        at = 0  # the cells' next blob
        for column in columns:
            if counts_of_next(column):
                row.append(pack(np.array([len(blobs[at]) // 8 for _, blobs in members])))
            else:
                row.append(b"".join(blobs[at] for _, blobs in members))
                at += 1
        packed.append(row)
    return packed


@dataclass(eq=False)
class CellGroups:
    """The report's groups the packed cells fall in, numbered as they are first
    met: `keys[i]` is group i's key, in the report's order of its dimensions."""

    keys: list[tuple[str, ...]] = field(default_factory=list)
    # per value of the dimensions other than the packed one: name -> group
    _numbered: dict[tuple[str, ...], dict[str, int]] = field(default_factory=dict)

    def number(self, others: tuple[str, ...], names: list[str], at: int) -> Integers:
        """The groups of the cells `names`, each with the other dimensions'
        values `others` (the packed name goes at `at` in the key)."""
        numbered = self._numbered.setdefault(others, {})
        found = np.empty(len(names), dtype=np.int64)
        for i, name in enumerate(names):
            group = numbered.get(name)
            if group is None:
                group = numbered[name] = len(self.keys)
                self.keys.append((*others[:at], name, *others[at:]))
            found[i] = group
        return found


def spread(groups: Integers, lengths: bytes) -> Integers:
    """Each value's group: its cell's (`groups`), repeated by the cell's number of
    values (`lengths`, packed)."""
    return np.repeat(groups, unpacked(lengths))
