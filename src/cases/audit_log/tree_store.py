"""The Merkle tree kept beside the event log, in SQL (migration 0009).

`TreeStore` is the tree's `NodeSource` (one query for any set of nodes) and
keeps its head (size, last position, frontier), its leaf hashes, its complete
interior nodes and every checkpoint issued. Writes happen inside the caller's
transaction (the tree builder's batch), so the head, the nodes and a checkpoint
at the new size commit together or not at all.
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from cases.db.database import ProjectionDatabase, as_moment
from cases.db.statement import Sql, parameters, sql
from cases.transparency.merkle import Frontier

LEAF_COLUMNS = ("leaf_index", "position", "aggregate_id", "hash")
NODE_COLUMNS = ("level", "node_index", "hash")

_FROM_START = sql("FROM audit_log_leaves WHERE leaf_index >= {} ORDER BY leaf_index LIMIT {}")
"""Up to `limit` stored leaves from index `start` on, in index order (the
parameters `start, limit`): what the three bulk reads of leaves read."""
_LEAVES = sql("SELECT leaf_index, position, hash {leaves}", leaves=_FROM_START)
_LEAF_ROWS = sql("SELECT position, hash {leaves}", leaves=_FROM_START)
_LEAF_BLOCKS = sql(
    "SELECT count(*), string_agg(int8send(position), ''::bytea ORDER BY leaf_index), "
    "string_agg(hash, ''::bytea ORDER BY leaf_index) FROM ({leaves}) AS t",
    leaves=_LEAVES,
)


@dataclass(frozen=True, slots=True)
class TreeHead:
    """How far the tree reaches: `size` leaves, the last at log `position`."""

    size: int
    position: int
    frontier: Frontier


@dataclass(frozen=True, slots=True)
class StoredLeaf:
    index: int
    position: int
    hash: bytes


@dataclass(frozen=True, slots=True)
class KeptCheckpoint:
    """A checkpoint as kept: the size it covers, its root and the signed note."""

    size: int
    root_hash: bytes
    note: str
    issued_at: datetime


class TreeStore:
    """The tree's tables on one projection database connection."""

    def __init__(self, db: ProjectionDatabase) -> None:
        self.db = db

    # The head ---------------------------------------------------------------------

    def head(self, *, lock: bool = False) -> TreeHead:
        """The tree's head; with `lock`, held until the transaction ends (PostgreSQL;
        SQLite's transactions hold the whole file), so two builders never both
        append after the same position."""
        statement = "SELECT size, position, frontier FROM audit_log_tree WHERE id = 1"
        if lock and self.db.is_postgres:
            statement += " FOR UPDATE"
        row = self.db.fetchone(statement)
        if row is None:
            raise LookupError("the audit log tree has no head row: run `cases migrate`")
        data = bytes(row[2])
        frontier = Frontier.from_bytes(data) if data else Frontier.empty()
        return TreeHead(int(row[0]), int(row[1]), frontier)

    def append(
        self,
        head: TreeHead,
        leaves: Sequence[tuple[int, UUID, bytes]],
        reached: int,
        now: datetime,
    ) -> TreeHead:
        """Append leaf hashes (each with its event's position and aggregate) after `head`, store
        every node they complete and move the head to `reached`; inside the
        caller's transaction. `head.frontier` is consumed."""
        frontier = head.frontier
        leaf_rows: list[tuple[object, ...]] = []
        node_rows: list[tuple[object, ...]] = []
        for position, aggregate_id, leaf_hash in leaves:
            for level, index, node in frontier.append(leaf_hash):
                if level == 0:
                    leaf_rows.append((index, position, aggregate_id, node))
                else:
                    node_rows.append((level, index, node))
        self.db.insert_rows("audit_log_leaves", LEAF_COLUMNS, leaf_rows)
        self.db.insert_rows("audit_log_nodes", NODE_COLUMNS, node_rows)
        self.db.execute(
            sql(
                "UPDATE audit_log_tree SET size = {}, position = {}, frontier = {}, "
                "updated_at = {} WHERE id = 1"
            ),
            (frontier.size, reached, frontier.to_bytes(), now),
        )
        return TreeHead(frontier.size, reached, frontier)

    # Nodes and leaves ------------------------------------------------------------

    def nodes(self, wanted: Collection[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        """The stored hashes of `wanted` (level, index) nodes, in one query; a node
        not stored is absent from the answer."""
        leaves = sorted(index for level, index in wanted if level == 0)
        inner = sorted((level, index) for level, index in wanted if level > 0)
        parts: list[Sql] = []
        params: list[object] = []
        if leaves:
            parts.append(
                sql(
                    "SELECT 0, leaf_index, hash FROM audit_log_leaves WHERE leaf_index IN ({ins})",
                    ins=parameters(len(leaves)),
                )
            )
            params += leaves
        if inner:
            pairs = sql(" OR ").join([sql("(level = {} AND node_index = {})")] * len(inner))
            parts.append(
                sql(
                    "SELECT level, node_index, hash FROM audit_log_nodes WHERE {pairs}", pairs=pairs
                )
            )
            params += [value for pair in inner for value in pair]
        if not parts:
            return {}
        rows = self.db.fetchall(sql(" UNION ALL ").join(parts), params)
        return {(int(r[0]), int(r[1])): bytes(r[2]) for r in rows}

    def leaves(self, start: int, limit: int) -> list[StoredLeaf]:
        """Up to `limit` stored leaves from index `start` on, in index order."""
        rows = self.db.fetchall(_LEAVES, (start, limit))
        return [StoredLeaf(int(r[0]), int(r[1]), bytes(r[2])) for r in rows]

    def leaf_rows(self, start: int, limit: int) -> list[tuple[int, bytes]]:
        """(position, hash) of up to `limit` stored leaves from index `start` on, in
        index order, as the driver returns them (the verifier's bulk read)."""
        rows = self.db.fetchall(_LEAF_ROWS, (start, limit))
        return [(int(r[0]), bytes(r[1])) for r in rows]

    def leaf_blocks(self, start: int, limit: int) -> tuple[int, bytes, bytes]:
        """Up to `limit` stored leaves from index `start` on, in bulk: how many, their
        positions as concatenated big-endian i64s, and their hashes concatenated.
        PostgreSQL concatenates them itself (one row back, not one per leaf)."""
        if not self.db.is_postgres:
            rows = self.leaf_rows(start, limit)
            positions = struct.pack(f">{len(rows)}q", *(row[0] for row in rows))
            return len(rows), positions, b"".join(row[1] for row in rows)
        row = self.db.fetchone(_LEAF_BLOCKS, (start, limit))
        if row is None or not row[0]:
            return 0, b"", b""
        return int(row[0]), bytes(row[1]), bytes(row[2])

    def leaf_end(self) -> int:
        """One past the largest stored leaf index (0: no leaves)."""
        row = self.db.fetchone("SELECT max(leaf_index) FROM audit_log_leaves")
        return 0 if row is None or row[0] is None else int(row[0]) + 1

    def positions_at(self, indexes: Sequence[int]) -> dict[int, int]:
        """The positions of the stored leaves at `indexes`; an index not stored is absent."""
        if not indexes:
            return {}
        rows = self.db.fetchall(
            sql(
                "SELECT leaf_index, position FROM audit_log_leaves WHERE leaf_index IN ({ins})",
                ins=parameters(len(indexes)),
            ),
            tuple(indexes),
        )
        return {int(r[0]): int(r[1]) for r in rows}

    def positions_of(self, aggregate_id: UUID, size: int) -> list[int]:
        """The positions of the aggregate's events among the first `size` leaves."""
        rows = self.db.fetchall(
            sql(
                "SELECT position FROM audit_log_leaves WHERE aggregate_id = {} "
                "AND leaf_index < {} ORDER BY leaf_index"
            ),
            (aggregate_id, size),
        )
        return [int(r[0]) for r in rows]

    def leaf_at(self, position: int) -> StoredLeaf | None:
        """The leaf of the event at log `position`, if the tree holds it."""
        row = self.db.fetchone(
            sql("SELECT leaf_index, position, hash FROM audit_log_leaves WHERE position = {}"),
            (position,),
        )
        return StoredLeaf(int(row[0]), int(row[1]), bytes(row[2])) if row else None

    # Checkpoints -------------------------------------------------------------------

    def keep(self, checkpoint: KeptCheckpoint) -> None:
        self.db.execute(
            sql(
                "INSERT INTO audit_log_checkpoints (size, root_hash, note, issued_at) "
                "VALUES ({}, {}, {}, {})"
            ),
            (checkpoint.size, checkpoint.root_hash, checkpoint.note, checkpoint.issued_at),
        )

    def latest(self) -> KeptCheckpoint | None:
        rows = self._checkpoints(sql("ORDER BY size DESC LIMIT 1"))
        return rows[0] if rows else None

    def checkpoint_at(self, size: int) -> KeptCheckpoint | None:
        rows = self._checkpoints(sql("WHERE size = {}"), (size,))
        return rows[0] if rows else None

    def checkpoints(self) -> list[KeptCheckpoint]:
        """Every checkpoint kept, smallest size first."""
        return self._checkpoints(sql("ORDER BY size"))

    def _checkpoints(self, where: Sql, params: Iterable[object] = ()) -> list[KeptCheckpoint]:
        rows = self.db.fetchall(
            sql(
                "SELECT size, root_hash, note, issued_at FROM audit_log_checkpoints {where}",
                where=where,
            ),
            tuple(params),
        )
        return [KeptCheckpoint(int(r[0]), bytes(r[1]), str(r[2]), as_moment(r[3])) for r in rows]
