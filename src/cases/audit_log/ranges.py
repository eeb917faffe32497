"""One part of the log checked against the stored leaves on its own (ADR 0043).

The verifier reads rows in batches, each with the stored leaves of its index
range (the count of rows before it), hashes them and compares. `follow_range`
does that for a range of leaf indexes, from a given position to another, and
hands back what the parent needs to go on without the rows: the range's compact
range (RFC 9162 subtree hashes at its boundaries), the compact range at each
checkpoint size inside it, and whether the rows and the stored leaves part in
it. Where they part it says no more: the parent re-reads from the range's start
the way a single process does, so the finding is the same.
"""

from __future__ import annotations

import struct
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass

from cases.audit_log.leaves import leaf_hashes
from cases.audit_log.tree_store import TreeStore
from cases.persistence.event_log import EventLog
from cases.persistence.event_rows import StoredRow, row_batches
from cases.transparency.merkle import CompactRange

Blocks = tuple[int, bytes, bytes]
"""The stored leaves of a batch's index range, as `TreeStore.leaf_blocks` gives them."""


def agree(rows: list[StoredRow], digests: list[bytes], positions: bytes, hashes: bytes) -> bool:
    """Are the rows' positions and leaf hashes the stored leaves' (as blocks)?"""
    packed = struct.pack(f">{len(rows)}q", *(row[0] for row in rows))
    return packed == positions and b"".join(digests) == hashes


def read_ahead(
    batches: Iterator[list[StoredRow]], store: TreeStore, start: int
) -> Generator[tuple[list[StoredRow], Blocks]]:
    """The batches, each with the stored leaves of its index range (from leaf `start`
    for the first, then on after the previous batch's), each next one read on a
    second thread while this one is hashed (the driver waits for the database
    without the GIL). Closing it early waits for the read in flight, so no read
    outlives it or overlaps another."""

    def read(start: int) -> tuple[list[StoredRow], Blocks] | None:
        batch = next(batches, None)
        return None if batch is None else (batch, store.leaf_blocks(start, len(batch)))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-verify-read") as pool:
        ahead = pool.submit(read, start)
        while (item := ahead.result()) is not None:
            start += len(item[0])
            ahead = pool.submit(read, start)
            yield item


@dataclass(frozen=True, slots=True)
class RangeTask:
    """Leaves from `index` on, read from the rows at positions `position` to `stop`
    (inclusive; None: to the log's end, rows past the tree included, as the last
    range reads them). A range with a `stop` holds exactly `leaves` leaves."""

    index: int
    position: int
    stop: int | None
    leaves: int
    sizes: tuple[int, ...]
    """The checkpoint sizes that end inside the range, ascending."""
    batch_size: int


@dataclass(frozen=True, slots=True)
class Cut:
    """The range's compact range up to a checkpoint's `size`, and the position of
    the event that is its last leaf."""

    size: int
    position: int
    compact: CompactRange


@dataclass(frozen=True, slots=True)
class RangeResult:
    parted: bool
    """The rows and the stored leaves part in this range (nothing else is then kept)."""
    compact: CompactRange
    cuts: tuple[Cut, ...]
    last_position: int | None
    """The position of the range's last row (None: it has none)."""
    tree_ended: bool
    """Rows past the tree's last leaf were read (the last range only)."""


def follow_range(log: EventLog, store: TreeStore, task: RangeTask) -> RangeResult:
    """Hash the range's rows, compare them with its stored leaves batch by batch (the
    batches the single-process verifier reads, if the range starts on a multiple of
    the batch size), and keep its compact range at each checkpoint size in it."""
    compact = CompactRange.at(task.index)
    sizes = list(reversed(task.sizes))  # smallest last: popped first
    cuts: list[Cut] = []
    tree_ended = False
    last: int | None = None
    parted = RangeResult(True, compact, (), None, False)
    rows = row_batches(log, task.batch_size, task.position, task.stop)
    with closing(read_ahead(rows, store, task.index)) as batches:
        for batch, (count, positions, hashes) in batches:
            digests = leaf_hashes(batch)
            if not tree_ended:
                tree_ended = count < len(batch)
                if (tree_ended and task.stop is not None) or not agree(
                    batch[:count], digests[:count], positions, hashes
                ):
                    return parted
            start = compact.end
            while sizes and sizes[-1] <= start + len(digests):
                size = sizes.pop()
                compact.extend(digests[compact.end - start : size - start])
                cuts.append(Cut(size, batch[size - start - 1][0], compact.copy()))
            compact.extend(digests[compact.end - start :])
            last = batch[-1][0]
    if task.stop is not None and compact.end != task.index + task.leaves:
        return parted
    return RangeResult(False, compact, tuple(cuts), last, tree_ended)
