"""Verify the event log against its checkpoints, from the stored rows up.

Every leaf is recomputed from the events table (`leaves.encode_leaf`), the root
at each checkpoint's size is rebuilt from those leaves (a frontier: O(log n)
memory), every checkpoint's signature is checked, and every two consecutive
kept checkpoints are checked consistent through the stored nodes (RFC 9162
2.1.4). Checkpoints held outside the database (an auditor's files, a witness
directory) are checked the same way; they catch an operator who rewrote the
log and the tree and signed fresh checkpoints.

Where the store and the tree part, the stored leaves (each with its event's
position) say how: a leaf whose position has no row (missing), a row in no leaf
(extra), a row whose bytes moved to another position (out of order), a row
whose bytes changed (changed), leaves past the last row (tail truncated). The
stored leaves are trusted only as far as the signed roots vouch for them: if the
rows and the stored leaves agree but a checkpoint's root differs, the log was
rewritten between the last checkpoint that agrees and that one.

With worker processes the rows are read and hashed range by range in the pool
(`ranges`, `range_pool`), and the roots rebuilt here from the ranges' compact
ranges; from the first range where rows and stored leaves part, this process
follows the rest itself, so the findings do not depend on the pool.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from cases.audit_log.leaves import StoredRecord, encode_leaf, leaf_hashes
from cases.audit_log.range_pool import followed
from cases.audit_log.ranges import RangeTask, agree, read_ahead
from cases.audit_log.tree_store import StoredLeaf, TreeStore
from cases.persistence.event_log import EventLog
from cases.persistence.event_rows import StoredRow, row_batches
from cases.settings import Settings
from cases.transparency.checkpoint import Checkpoint, open_checkpoint
from cases.transparency.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    leaf_hash,
    verify_consistency,
)
from cases.transparency.signed_note import NoteVerifier

CHANGED = "changed"
MISSING = "missing"
EXTRA = "extra"
OUT_OF_ORDER = "out of order"
TRUNCATED = "tail truncated"
REWRITTEN = "rewritten"
UNSIGNED = "bad checkpoint"
INCONSISTENT = "inconsistent"


@dataclass(frozen=True, slots=True)
class Finding:
    """Where the store and the checkpoints part first, and how."""

    what: str
    position: int | None
    detail: str

    def __str__(self) -> str:
        where = f"position {self.position}" if self.position is not None else "the checkpoints"
        return f"{where}: {self.what}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Verification:
    """What was checked, and the first finding (None: everything verifies)."""

    events: int
    checkpoints: int
    finding: Finding | None

    @property
    def ok(self) -> bool:
        return self.finding is None


@dataclass(frozen=True, slots=True)
class _Anchor:
    source: str
    checkpoint: Checkpoint


class _PartedError(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(str(finding))
        self.finding = finding


def _records(batches: Iterator[list[StoredRow]]) -> Iterator[StoredRecord]:
    return (StoredRecord(*row) for row in itertools.chain.from_iterable(batches))


def _stored_leaves(store: TreeStore, batch_size: int, start: int = 0) -> Iterator[StoredLeaf]:
    while True:
        batch = store.leaves(start, batch_size)
        yield from batch
        if len(batch) < batch_size:
            return
        start = batch[-1].index + 1


RANGES_PER_WORKER = 4
"""With a pool, the log is cut into this many ranges per worker (a slow worker
holds the others up by a smaller share)."""


def default_workers() -> int:
    """The verifier's processes unless told: one per CPU."""
    return os.cpu_count() or 1


class LogVerifier:
    """Checks the log against the kept checkpoints and any held outside.

    With `workers` > 1 and the `settings` of the store (each worker opens its own
    connections), the rows are followed in that many processes, one range of leaf
    indexes at a time (`range_events` leaves each; default: the tree cut into
    `RANGES_PER_WORKER` ranges per worker, whole batches each), and the roots
    rebuilt from the ranges' compact ranges; the findings are those of one
    process. A tree of less than two ranges is followed in this process."""

    def __init__(
        self,
        log: EventLog,
        store: TreeStore,
        verifier: NoteVerifier,
        origin: str,
        *,
        batch_size: int = 10_000,
        workers: int = 1,
        range_events: int | None = None,
        settings: Settings | None = None,
    ) -> None:
        if workers > 1 and settings is None:
            raise ValueError("a verifier with worker processes needs the store's settings")
        self.log = log
        self.store = store
        self.verifier = verifier
        self.origin = origin
        self.batch_size = batch_size
        self.workers = workers
        self.range_events = range_events
        self.settings = settings

    def verify(self, held: Sequence[tuple[str, str]] = ()) -> Verification:
        """Verify everything; `held` are (source, note) of checkpoints kept elsewhere."""
        events = 0
        try:
            anchors, kept = self._anchors(held)
            events = self._follow_rows(anchors)
            self._check_consistency(kept)
        except _PartedError as parted:
            return Verification(events, 0, parted.finding)
        return Verification(events, len(anchors), None)

    # Checkpoints ----------------------------------------------------------------

    def _opened(self, source: str, note: str) -> Checkpoint:
        try:
            return open_checkpoint(note, self.verifier, self.origin)
        except ValueError as e:
            raise _PartedError(Finding(UNSIGNED, None, f"{source}: {e}")) from None

    def _anchors(self, held: Sequence[tuple[str, str]]) -> tuple[list[_Anchor], list[Checkpoint]]:
        anchors: list[_Anchor] = []
        kept: list[Checkpoint] = []
        for row in self.store.checkpoints():
            source = f"the kept checkpoint at size {row.size}"
            checkpoint = self._opened(source, row.note)
            if (checkpoint.size, checkpoint.root_hash) != (row.size, row.root_hash):
                raise _PartedError(
                    Finding(UNSIGNED, None, f"{source}: its size or root differs from its note")
                )
            anchors.append(_Anchor(source, checkpoint))
            kept.append(checkpoint)
        for source, note in held:
            anchors.append(_Anchor(source, self._opened(source, note)))
        anchors.sort(key=lambda a: a.checkpoint.size)
        return anchors, kept

    def _check_consistency(self, kept: list[Checkpoint]) -> None:
        for old, new in itertools.pairwise(kept):
            try:
                proof = consistency_proof(old.size, new.size, self.store)
                consistent = verify_consistency(
                    old.size, new.size, old.root_hash, new.root_hash, proof
                )
            except KeyError as e:
                consistent, why = False, f"a stored node is missing ({e})"
            else:
                why = "the stored nodes give no valid consistency proof"
            if not consistent:
                raise _PartedError(
                    Finding(
                        INCONSISTENT,
                        None,
                        f"the kept checkpoints at sizes {old.size} and {new.size}: {why}",
                    )
                )

    # Rows -----------------------------------------------------------------------

    def _follow_rows(self, anchors: list[_Anchor]) -> int:
        """Recompute every leaf, batch by batch: compare it with the stored leaf at
        its index and, at each anchor's size, the root with the anchor's."""
        pending = [a for a in anchors if a.checkpoint.size > 0]
        for anchor in anchors:
            if anchor.checkpoint.size == 0 and anchor.checkpoint.root_hash != EMPTY_ROOT:
                raise _PartedError(Finding(REWRITTEN, None, f"{anchor.source}: not the empty root"))
        pending.reverse()  # smallest size last: popped first
        tasks = self._ranges(pending) if self.workers > 1 else []
        if tasks:
            return self._follow_ranges(tasks, pending)
        return self._follow_from(Frontier.empty(), 1, pending, (0, 0))

    def _follow_from(
        self, frontier: Frontier, position: int, pending: list[_Anchor], agreed: tuple[int, int]
    ) -> int:
        """Follow the rows from `position` on, the leaves from `frontier.size` on, in
        this process. `agreed` is (size, last position) of the last checkpoint that
        agreed."""
        tree_ended = False
        batches = read_ahead(
            row_batches(self.log, self.batch_size, position), self.store, frontier.size
        )
        for batch, (count, positions, hashes) in batches:
            digests = leaf_hashes(batch)
            if not tree_ended:
                tree_ended = count < len(batch)  # rows past the tree: not in it yet
                if not agree(batch[:count], digests[:count], positions, hashes):
                    batches.close()  # the read in flight ends before the store is read here
                    expected = self.store.leaf_rows(frontier.size, count)
                    at = next(
                        at
                        for at, (row, digest, leaf) in enumerate(
                            zip(batch, digests, expected, strict=False)
                        )
                        if leaf != (row[0], digest)
                    )
                    leaf = StoredLeaf(frontier.size + at, *expected[at])
                    after = row_batches(self.log, self.batch_size, batch[-1][0] + 1)
                    rest = _records(itertools.chain([batch[at + 1 :]], after))
                    later = _stored_leaves(self.store, self.batch_size, leaf.index + 1)
                    raise _PartedError(self._parted(StoredRecord(*batch[at]), leaf, rest, later))
            start = frontier.size
            while pending and pending[-1].checkpoint.size <= start + len(digests):
                size = pending[-1].checkpoint.size
                frontier.extend(digests[frontier.size - start : size - start])
                last = batch[size - start - 1][0]
                self._check_anchors(pending, size, frontier.root(), agreed, last)
                agreed = (size, last)
            frontier.extend(digests[frontier.size - start :])
        return self._end(frontier, tree_ended, pending, agreed)

    def _ranges(self, pending: list[_Anchor]) -> list[RangeTask]:
        """The tree cut into ranges for the pool: whole batches each, every range
        starting at its first leaf's position (the first at position 1); none if
        the tree holds less than two ranges or the stored leaves cannot place them."""
        leaves = self.store.leaf_end()
        events = self.range_events or -(-leaves // (self.workers * RANGES_PER_WORKER))
        events = max(1, -(-events // self.batch_size)) * self.batch_size
        starts = list(range(0, leaves, events))
        if len(starts) < 2:
            return []
        placed = self.store.positions_at(starts[1:])
        positions = [1, *(placed.get(index, 0) for index in starts[1:])]
        if any(b <= a for a, b in itertools.pairwise(positions)):
            return []
        sizes = sorted({anchor.checkpoint.size for anchor in pending})
        tasks = []
        for j, (index, position) in enumerate(zip(starts, positions, strict=True)):
            last = j == len(starts) - 1
            end = leaves if last else starts[j + 1]
            tasks.append(
                RangeTask(
                    index,
                    position,
                    None if last else positions[j + 1] - 1,
                    end - index,
                    tuple(size for size in sizes if index < size and (last or size <= end)),
                    self.batch_size,
                )
            )
        return tasks

    def _follow_ranges(self, tasks: list[RangeTask], pending: list[_Anchor]) -> int:
        """Follow the ranges in the pool and join their compact ranges in order,
        checking the anchors at each cut; from the first range where rows and leaves
        part, follow the rest in this process (the pool stopped first), so the
        finding is the one a single process makes."""
        if self.settings is None:
            raise ValueError("a verifier with worker processes needs the store's settings")
        frontier, agreed, position, tree_ended = Frontier.empty(), (0, 0), 1, False
        with followed(self.settings, self.workers, tasks) as results:
            for result in results:
                if result.parted:
                    break
                for cut in result.cuts:
                    joined = Frontier(frontier.size, frontier.hashes)
                    joined.join(cut.compact)
                    self._check_anchors(pending, cut.size, joined.root(), agreed, cut.position)
                    agreed = (cut.size, cut.position)
                frontier.join(result.compact)
                if result.last_position is not None:
                    position = result.last_position + 1
                tree_ended = result.tree_ended
            else:
                return self._end(frontier, tree_ended, pending, agreed)
        return self._follow_from(frontier, position, pending, agreed)

    def _check_anchors(
        self,
        pending: list[_Anchor],
        size: int,
        root: bytes,
        agreed: tuple[int, int],
        position: int,
    ) -> None:
        """The anchors of `size` (the last of `pending`), against the root of the first
        `size` leaves, whose last is the event at `position`."""
        while pending and pending[-1].checkpoint.size == size:
            anchor = pending.pop()
            if anchor.checkpoint.root_hash != root:
                raise _PartedError(self._rewritten(anchor, agreed, position))

    def _end(
        self, frontier: Frontier, tree_ended: bool, pending: list[_Anchor], agreed: tuple[int, int]
    ) -> int:
        """Every row followed: leaves past the last row, or anchors past it, are a cut tail."""
        stored = _stored_leaves(self.store, self.batch_size, frontier.size)
        beyond = None if tree_ended else next(stored, None)
        if beyond is not None:
            rest_count = sum(1 for _ in stored) + 1
            raise _PartedError(
                Finding(
                    TRUNCATED,
                    beyond.position,
                    f"the tree holds {rest_count} events from position {beyond.position} on "
                    f"(leaf {beyond.index} on); the store has no rows from there",
                )
            )
        if pending:
            anchor = pending[-1]
            raise _PartedError(
                Finding(
                    TRUNCATED,
                    agreed[1] + 1,
                    f"{anchor.source} vouches for {anchor.checkpoint.size} events; "
                    f"the store holds {frontier.size}",
                )
            )
        return frontier.size

    def _rewritten(self, anchor: _Anchor, agreed: tuple[int, int], position: int) -> Finding:
        return Finding(
            REWRITTEN,
            agreed[1] + 1,
            f"the first {anchor.checkpoint.size} events (to position {position}) do not hash "
            f"to the root of {anchor.source}; they agree up to size {agreed[0]} (position "
            f"{agreed[1]}), so the log was rewritten at a position after {agreed[1]} and at "
            f"or before {position}",
        )

    def _parted(
        self,
        record: StoredRecord,
        leaf: StoredLeaf,
        rows: Iterator[StoredRecord],
        stored: Iterator[StoredLeaf],
    ) -> Finding:
        if record.position > leaf.position:
            return Finding(
                MISSING,
                leaf.position,
                f"leaf {leaf.index} is the event at position {leaf.position}; the store has "
                f"no row there (the next row is at position {record.position})",
            )
        if record.position < leaf.position:
            return Finding(
                EXTRA,
                record.position,
                f"the row at position {record.position} is in no leaf: leaf {leaf.index} is "
                f"the event at position {leaf.position}",
            )
        home, moved_to = _homes(record, leaf, rows, stored)
        if home is not None:
            return Finding(
                OUT_OF_ORDER,
                leaf.position,
                f"the row at position {leaf.position} is the event recorded at position "
                f"{home} (leaf {leaf.index} is another event)",
            )
        if moved_to is not None:
            return Finding(
                EXTRA,
                leaf.position,
                f"the row at position {leaf.position} is in no leaf; the event of leaf "
                f"{leaf.index} is now at position {moved_to}",
            )
        return Finding(
            CHANGED,
            leaf.position,
            f"the row's aggregate id, version, topic, timestamp or state differs from "
            f"leaf {leaf.index}",
        )


def _hash_at(record: StoredRecord, position: int) -> bytes:
    return leaf_hash(encode_leaf(dataclasses.replace(record, position=position)))


def _homes(
    record: StoredRecord,
    leaf: StoredLeaf,
    rows: Iterator[StoredRecord],
    stored: Iterator[StoredLeaf],
) -> tuple[int | None, int | None]:
    """Where the row found at `leaf`'s position belongs (the position of a later
    leaf it hashes to), and where the leaf's own event went (a later row that
    hashes to the leaf at its position); each None if nowhere. Only on failure:
    it reads the rest of the log once."""
    home: int | None = None
    moved_to: int | None = None
    for later_leaf in stored:
        if _hash_at(record, later_leaf.position) == later_leaf.hash:
            home = later_leaf.position
            break
    for later in rows:
        if _hash_at(later, leaf.position) == leaf.hash:
            moved_to = later.position
            break
    return home, moved_to
