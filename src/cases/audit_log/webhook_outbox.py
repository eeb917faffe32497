"""The checkpoint webhook's deliveries, kept in the database (issue 14, ADR 0055).

Every checkpoint is kept in `audit_log_checkpoints`; what a receiver has
acknowledged is one row of `audit_log_webhook` (keyed by a SHA-256 of its URL):
the largest size it answered 2xx for. The pending deliveries are therefore the
kept checkpoints after that size: stored, not queued in memory, so a process
that stops or crashes loses none, and the next one resumes them. They are
posted in size order, one attempt each; a failure is recorded with the moment
of the next attempt (exponential backoff from `first_delay`, capped at
`max_delay`), and delivery waits until then, so a receiver sees checkpoints in
order and a dead one costs a row update per attempt.

At least once: a process that dies after the receiver answered but before the
row moved posts that checkpoint again, as may two processes racing; a receiver
keeps checkpoints by size, so a repeat is a no-op (docs/audit-log.md).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field

import structlog

from cases.db.database import ProjectionDatabase
from cases.db.statement import sql
from cases.transparency.webhook import WebhookDeliveryError, WebhookWitness

logger = structlog.get_logger("cases.audit_log")


@dataclass(frozen=True, slots=True)
class DeliveryState:
    """A receiver's row: what it acknowledged, and the backoff after failures."""

    delivered_size: int
    failures: int
    next_attempt_at: float
    last_error: str | None


@dataclass(eq=False)
class WebhookOutbox:
    """Posts the kept checkpoints a receiver has not acknowledged, oldest first."""

    db: ProjectionDatabase
    webhook: WebhookWitness
    _: KW_ONLY
    clock: Callable[[], float] = time.time
    first_delay: float = 1.0
    max_delay: float = 300.0
    batch: int = 100
    receiver: str = field(init=False)  # the key of the receiver's row: its URL's SHA-256

    def __post_init__(self) -> None:
        self.receiver = hashlib.sha256(self.webhook.url.encode()).hexdigest()

    def state(self) -> DeliveryState:
        """The receiver's row, made (nothing delivered) the first time."""
        with self.db.transaction():
            self.db.execute(
                sql(
                    "INSERT INTO audit_log_webhook "
                    "(receiver, delivered_size, failures, next_attempt_at) "
                    "VALUES ({}, 0, 0, 0) ON CONFLICT (receiver) DO NOTHING"
                ),
                (self.receiver,),
            )
            row = self.db.fetchone(
                sql(
                    "SELECT delivered_size, failures, next_attempt_at, last_error "
                    "FROM audit_log_webhook WHERE receiver = {}"
                ),
                (self.receiver,),
            )
        if row is None:
            raise LookupError("the webhook's delivery row vanished")  # made just above
        return DeliveryState(int(row[0]), int(row[1]), float(row[2]), row[3])

    def pending(self) -> list[tuple[int, str]]:
        """The kept checkpoints (size, note) not yet acknowledged, at most a batch."""
        rows = self.db.fetchall(
            sql(
                "SELECT size, note FROM audit_log_checkpoints WHERE size > {} "
                "ORDER BY size LIMIT {}"
            ),
            (self.state().delivered_size, self.batch),
        )
        return [(int(size), str(note)) for size, note in rows]

    def deliver_due(self) -> float | None:
        """Post every pending checkpoint, unless a backoff is running; return None
        when none is left, else the moment the next attempt is due."""
        state = self.state()
        if state.next_attempt_at > self.clock():
            return state.next_attempt_at
        while found := self.pending():
            for size, note in found:
                try:
                    attempts = self.webhook.send(note)
                except WebhookDeliveryError as e:
                    return self._failed(size, state.failures + 1, str(e))
                self._delivered(size)
                state = DeliveryState(size, 0, 0.0, None)
                logger.info("audit_log_webhook_delivered", size=size, attempts=attempts)
        return None

    def _delivered(self, size: int) -> None:
        with self.db.transaction():
            self.db.execute(
                sql(
                    "UPDATE audit_log_webhook SET delivered_size = {}, failures = 0, "
                    "next_attempt_at = 0, last_error = NULL "
                    "WHERE receiver = {} AND delivered_size < {}"
                ),
                (size, self.receiver, size),
            )

    def _failed(self, size: int, failures: int, error: str) -> float:
        delay = min(self.first_delay * 2.0 ** (failures - 1), self.max_delay)
        due = self.clock() + delay
        with self.db.transaction():
            self.db.execute(
                sql(
                    "UPDATE audit_log_webhook SET failures = {}, next_attempt_at = {}, "
                    "last_error = {} WHERE receiver = {}"
                ),
                (failures, due, error, self.receiver),
            )
        logger.warning(
            "audit_log_webhook_failed", size=size, failures=failures, retry_in=delay, error=error
        )
        return due
