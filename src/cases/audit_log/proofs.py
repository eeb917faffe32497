"""Proofs for auditors from the stored tree: one event's inclusion in a kept
checkpoint's tree, and the consistency of two kept checkpoints (RFC 9162
2.1.3-2.1.4). Proofs are against kept checkpoints only, so each can be checked
with the checkpoint's signed root and the verifier key alone."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from cases.audit_log.leaves import encode_leaf, record_of
from cases.audit_log.tree_store import KeptCheckpoint, TreeStore
from cases.persistence.event_log import EventLog
from cases.transparency.merkle import consistency_proof, inclusion_proof


class ProofUnavailableError(LookupError):
    """Raised when no kept checkpoint, or no event of the tree, answers the request."""


@dataclass(frozen=True, slots=True)
class Inclusion:
    """An event's leaf, its index, and its inclusion proof in `checkpoint`'s tree."""

    position: int
    version: int
    leaf_index: int
    leaf: bytes
    proof: list[bytes]
    checkpoint: KeptCheckpoint


def kept_checkpoint(store: TreeStore, size: int | None) -> KeptCheckpoint:
    """The kept checkpoint at `size`, or the latest one if `size` is None."""
    checkpoint = store.latest() if size is None else store.checkpoint_at(size)
    if checkpoint is None:
        wanted = "yet" if size is None else f"at size {size}"
        raise ProofUnavailableError(f"no checkpoint is kept {wanted}")
    return checkpoint


def inclusion(log: EventLog, store: TreeStore, position: int, size: int | None) -> Inclusion:
    """The inclusion proof of the event at log `position` in the kept checkpoint
    at `size` (default: the latest)."""
    checkpoint = kept_checkpoint(store, size)
    leaf = store.leaf_at(position)
    if leaf is None or leaf.index >= checkpoint.size:
        raise ProofUnavailableError(
            f"no event at position {position} is in the tree of size {checkpoint.size}"
        )
    found = log.recorder.select_notifications(start=position, limit=1, stop=position)
    if not found:
        raise ProofUnavailableError(f"the store holds no event at position {position}")
    record = record_of(found[0])
    proof = inclusion_proof(leaf.index, checkpoint.size, store)
    return Inclusion(position, record.version, leaf.index, encode_leaf(record), proof, checkpoint)


def aggregate_inclusions(
    log: EventLog, store: TreeStore, aggregate_id: UUID, size: int | None
) -> list[Inclusion]:
    """`inclusion` of each event of one aggregate in a kept checkpoint's tree (default:
    the latest), in log order: one case's or account's history, proved without
    the rest of the log."""
    found = proved_events(log, store, aggregate_id, size)
    if not found:
        checkpoint = kept_checkpoint(store, size)
        raise ProofUnavailableError(
            f"no event of {aggregate_id} is in the tree of size {checkpoint.size}"
        )
    return found


def proved_events(
    log: EventLog, store: TreeStore, aggregate_id: UUID, size: int | None
) -> list[Inclusion]:
    """`inclusion` of each event of one aggregate that is in a kept checkpoint's tree
    (default: the latest), in log order; none if it has none there yet."""
    checkpoint = kept_checkpoint(store, size)
    positions = store.positions_of(aggregate_id, checkpoint.size)
    return [inclusion(log, store, position, checkpoint.size) for position in positions]


def consistency(
    store: TreeStore, old: int, new: int
) -> tuple[KeptCheckpoint, KeptCheckpoint, list[bytes]]:
    """The consistency proof between the kept checkpoints at sizes `old` <= `new`."""
    if old > new:
        raise ValueError(f"old ({old}) is larger than new ({new})")
    older, newer = kept_checkpoint(store, old), kept_checkpoint(store, new)
    return older, newer, consistency_proof(old, new, store)
