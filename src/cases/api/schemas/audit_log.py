"""The audit log's answers (issue 14, ADR 43): kept checkpoints, an event's leaf
and inclusion proof, the consistency of two checkpoints. Hashes, leaves and
proofs are standard base64; docs/audit-log.md says how to check them."""

from __future__ import annotations

import base64
from datetime import datetime

from pydantic import BaseModel, Field

from cases.audit_log.proofs import Inclusion
from cases.audit_log.tree_store import KeptCheckpoint


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class CheckpointOut(BaseModel):
    """A kept checkpoint: what it covers and its signed note (C2SP tlog-checkpoint)."""

    size: int = Field(description="How many events the tree holds.")
    root_hash: str = Field(description="The tree's root hash, base64.")
    note: str = Field(description="The signed note, byte for byte as signed.")
    issued_at: datetime

    @classmethod
    def of(cls, checkpoint: KeptCheckpoint) -> CheckpointOut:
        return cls(
            size=checkpoint.size,
            root_hash=b64(checkpoint.root_hash),
            note=checkpoint.note,
            issued_at=checkpoint.issued_at,
        )


class InclusionOut(BaseModel):
    """An event's leaf and its RFC 9162 inclusion proof in the checkpoint's tree."""

    position: int = Field(description="The event's position in the log.")
    leaf_index: int
    leaf: str = Field(description="The leaf bytes (docs/audit-log.md), base64.")
    proof: list[str] = Field(description="The audit path, base64 hashes, leaf first.")
    checkpoint: CheckpointOut

    @classmethod
    def of(cls, found: Inclusion) -> InclusionOut:
        return cls(
            position=found.position,
            leaf_index=found.leaf_index,
            leaf=b64(found.leaf),
            proof=[b64(h) for h in found.proof],
            checkpoint=CheckpointOut.of(found.checkpoint),
        )


class ConsistencyOut(BaseModel):
    """The RFC 9162 consistency proof from the old checkpoint's tree to the new one's."""

    old: CheckpointOut
    new: CheckpointOut
    proof: list[str] = Field(description="Base64 hashes, as RFC 9162 2.1.4.1 orders them.")
