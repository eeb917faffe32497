"""When a checkpoint is due, and issuing one from the tree's head.

Issuing costs O(log n): the root is the frontier's (at most log2(n) hashes), so
the tree is never rescanned. It runs inside the tree builder's transaction, so
a checkpoint is kept exactly when the leaves it covers are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cases.audit_log.tree_store import KeptCheckpoint, TreeHead, TreeStore
from cases.settings import Settings
from cases.transparency.checkpoint import Checkpoint
from cases.transparency.signed_note import NoteSigner


@dataclass(frozen=True, slots=True)
class IssuePolicy:
    """Issue once the tree grew by `every_events`, or `every_seconds` after the last."""

    every_events: int
    every_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> IssuePolicy:
        return cls(settings.audit_log_checkpoint_events, settings.audit_log_checkpoint_seconds)

    def due(self, size: int, last: KeptCheckpoint | None, now: datetime) -> bool:
        if last is None:
            return size > 0
        if size <= last.size:
            return False
        grown = size - last.size >= self.every_events
        return grown or (now - last.issued_at).total_seconds() >= self.every_seconds


class CheckpointIssuer:
    """Signs checkpoints of the tree's head with the operator's key."""

    def __init__(self, signer: NoteSigner, origin: str, policy: IssuePolicy) -> None:
        self.signer = signer
        self.origin = origin
        self.policy = policy

    def issue_if_due(
        self, store: TreeStore, head: TreeHead, now: datetime
    ) -> KeptCheckpoint | None:
        """A checkpoint of `head` if the policy says one is due, kept; inside the
        caller's transaction."""
        if not self.policy.due(head.size, store.latest(), now):
            return None
        return self.issue(store, head, now)

    def issue(self, store: TreeStore, head: TreeHead, now: datetime) -> KeptCheckpoint:
        """The checkpoint of `head`, kept (the one kept already at its size, if any)."""
        kept = store.checkpoint_at(head.size)
        if kept is not None:
            return kept
        root = head.frontier.root()
        note = self.signer.sign(Checkpoint(self.origin, head.size, root).body())
        checkpoint = KeptCheckpoint(head.size, root, note, now)
        store.keep(checkpoint)
        return checkpoint
