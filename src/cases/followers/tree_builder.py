"""Follow the event log and append each event to the Merkle tree beside it.

Like a projection runner (ADR 12, 24): batches read after the tree's position,
each applied in one transaction that locks the tree's head first and compares
it with the position the batch was read from, so a builder killed at any point
resumes where its last commit left the tree, and a second builder (the on-demand
`cases audit checkpoint`, a runner that lost its leadership) never appends the
same events twice. A checkpoint due after the batch is issued in the same
transaction; a witness sees it only after the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import structlog

from cases.audit_log.issuing import CheckpointIssuer, IssuePolicy
from cases.audit_log.keys import KeyFileError, signer_from
from cases.audit_log.leaves import leaf_hashes
from cases.audit_log.tree_store import KeptCheckpoint, TreeStore
from cases.audit_log.webhook_outbox import WebhookOutbox
from cases.audit_log.witnessing import Witness, webhook_of, witness_of
from cases.clock import Clock, SystemClock
from cases.db.database import ProjectionDatabase
from cases.followers.runner import BatchResult, PositionMovedError
from cases.followers.status import TREE
from cases.persistence.database_url import StoreKind, parse_database_url
from cases.persistence.event_log import EventLog
from cases.persistence.event_rows import StoredRow, select_rows
from cases.settings import Settings
from cases.transparency.witness import CheckpointForkError

__all__ = ["TREE", "TreeBuilder", "checkpoint_now", "tree_builders"]

logger = structlog.get_logger("cases.audit_log")


class TreeBuilder:
    """Appends the event log to the tree, and issues checkpoints as they fall due."""

    tracking_name = TREE
    takes_turns = True

    def __init__(
        self,
        log: EventLog,
        db: ProjectionDatabase,
        *,
        issuer: CheckpointIssuer | None = None,
        witness: Witness | None = None,
        batch_size: int = 1000,
        clock: Clock | None = None,
    ) -> None:
        self.log = log
        self.db = db
        self.store = TreeStore(db)
        self.issuer = issuer
        self.witness = witness
        self.batch_size = batch_size
        self.clock = clock or SystemClock()

    def head(self) -> int:
        return self.log.head()

    @property
    def position(self) -> int:
        return self.store.head().position

    def step(self) -> BatchResult:
        """Append at most one batch (and issue a checkpoint if one is due)."""
        after = self.position
        head = self.head()
        rows = self.rows(after, head)
        full = len(rows) == self.batch_size
        reached = rows[-1][0] if full else max(head, after)
        if reached == after and not self._checkpoint_due():
            return BatchResult(0, after)
        digests = leaf_hashes(rows)
        leaves = [(row[0], row[1], digest) for row, digest in zip(rows, digests, strict=True)]
        try:
            issued = self._append(leaves, after, reached)
        except PositionMovedError:
            logger.warning("audit_log_position_moved")
            return BatchResult(0, self.position, more=True)
        if issued is not None:
            self._witness(issued)
        return BatchResult(len(leaves), reached, more=reached < head)

    def rows(self, after: int, head: int) -> list[StoredRow]:
        """The next batch of the log after position `after`, up to `head`, as stored
        rows (tuples: no notification objects, ADR 0043's amendment)."""
        if head <= after:
            return []
        rows = select_rows(self.log, after + 1, self.batch_size)
        if rows and rows[-1][0] > head:
            rows = [row for row in rows if row[0] <= head]
        return rows

    def _append(
        self, leaves: list[tuple[int, UUID, bytes]], after: int, reached: int
    ) -> KeptCheckpoint | None:
        now = self.clock.now()
        with self.db.transaction():
            current = self.store.head(lock=True)
            if current.position != after:
                raise PositionMovedError(TREE)
            grown = (
                self.store.append(current, leaves, reached, now)
                if leaves or reached != after
                else current
            )
            if self.issuer is None:
                return None
            issued = self.issuer.issue_if_due(self.store, grown, now)
        if issued is not None:
            logger.info("audit_log_checkpoint_issued", size=issued.size)
        return issued

    def _checkpoint_due(self) -> bool:
        """Whether the policy wants a checkpoint of the tree as it is (read unlocked)."""
        if self.issuer is None:
            return False
        return self.issuer.policy.due(self.store.head().size, self.store.latest(), self.clock.now())

    def catch_up(self) -> int:
        """Append everything recorded so far; return how many events were appended."""
        total = 0
        while True:
            result = self.step()
            total += result.applied
            if not result.more and result.position >= self.head():
                return total

    def issue_now(self) -> KeptCheckpoint:
        """Catch up, then issue (or find) the checkpoint of the whole tree as it is."""
        if self.issuer is None:
            raise RuntimeError("no signing key: checkpoints cannot be issued")
        self.catch_up()
        with self.db.transaction():
            current = self.store.head(lock=True)
            known = self.store.checkpoint_at(current.size)
            issued = known or self.issuer.issue(self.store, current, self.clock.now())
        if known is None:
            logger.info("audit_log_checkpoint_issued", size=issued.size)
            self._witness(issued)
        return issued

    def _witness(self, issued: KeptCheckpoint) -> None:
        """Hand the committed checkpoint to the witnesses. A fork in the witness
        directory is logged as an error and raised: the builder stops (its runner
        process exits non-zero, /ready reports it not running) for the operator."""
        if self.witness is None:
            return
        try:
            self.witness(issued)
        except CheckpointForkError as e:
            logger.exception("audit_log_fork", size=issued.size, error=str(e))
            raise


def tree_builders(
    settings: Settings,
    log: EventLog,
    open_db: Callable[[], ProjectionDatabase],
    *,
    create_key: bool,
    batch_size: int = 1000,
    clock: Clock | None = None,
    webhook_db: Callable[[], ProjectionDatabase] | None = None,
) -> Callable[[], TreeBuilder]:
    """Make tree builders for the configured store: signing with the configured key
    (generated on first use if `create_key`, the embedded store), witnessed in the
    configured directory, and by the configured webhook from a thread with its own
    connection from `webhook_db` (a long-running process's; without it the
    checkpoints stay pending for one). Without a key the tree is still kept, but no
    checkpoint is issued, and a warning says so."""
    issuer: CheckpointIssuer | None
    try:
        signer = signer_from(settings, create=create_key)
    except KeyFileError as e:
        logger.warning("audit_log_unsigned", reason=str(e))
        issuer = None
    else:
        issuer = CheckpointIssuer(
            signer, settings.audit_log_origin, IssuePolicy.from_settings(settings)
        )
    witness = witness_of(settings, webhook_db)

    def make() -> TreeBuilder:
        db = open_db()
        return TreeBuilder(
            log, db, issuer=issuer, witness=witness, batch_size=batch_size, clock=clock
        )

    return make


def checkpoint_now(settings: Settings, log: EventLog, db: ProjectionDatabase) -> KeptCheckpoint:
    """Bring the tree to the head of the log and issue its checkpoint (on demand):
    safe beside a running builder (the batch that loses the race is dropped).
    On the embedded store the key is generated on first use; elsewhere a missing
    key raises KeyFileError."""
    embedded = parse_database_url(settings.effective_database_url).kind is StoreKind.SQLITE
    signer = signer_from(settings, create=embedded)
    issuer = CheckpointIssuer(
        signer, settings.audit_log_origin, IssuePolicy.from_settings(settings)
    )
    issued = TreeBuilder(log, db, issuer=issuer, witness=witness_of(settings)).issue_now()
    webhook = webhook_of(settings)
    if webhook is not None:
        WebhookOutbox(db, webhook).deliver_due()  # what stays pending, a runner sends
    return issued
