"""The outbox table: queue derived messages, claim them with a lease, settle them.

A claim is an UPDATE that takes due messages whose lease is free or expired and
stamps them with the worker's id and a new lease, in one transaction (on
PostgreSQL `FOR UPDATE SKIP LOCKED`, so two workers never take the same row).
A worker killed mid-delivery leaves a lease that runs out: the message is taken
again and sent with the same id (a receiver that deduplicates sees it once).
Settling a message is conditional on the lease still being the worker's, so a
worker that outlived its lease never overwrites the next one's outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from cases.db.database import ProjectionDatabase, as_moment
from cases.db.statement import Sql, identifiers, parameters, sql
from cases.outbox.messages import Channel, NewMessage, QueuedMessage, Status
from cases.persistence.personal_data import ERASED

_COLUMNS = identifiers(
    (
        "message_id", "event_id", "aggregate_kind", "aggregate_id", "kind", "channel",
        "recipient", "language", "subject", "body", "status", "attempts", "created_at",
        "next_attempt_at", "last_error", "deferral_recorded", "period_started_at",
        "operator_retries",
    )
)  # fmt: skip
_INSERT = sql(
    "INSERT INTO outbox_messages (message_id, position, event_id, aggregate_kind, "
    "aggregate_id, subject_id, kind, channel, recipient, language, subject, body, status, "
    "created_at, next_attempt_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, "
    "{}, {}) ON CONFLICT (message_id) DO NOTHING"
)
DEAD = (Status.FAILED, Status.BOUNCED)
SWEPT = "swept"
"""What a swept message's recipient, subject and body read (ADR 68)."""


def _uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _message(row: Sequence[object]) -> QueuedMessage:
    return QueuedMessage(
        message_id=_uuid(row[0]),
        event_id=str(row[1]),
        aggregate_kind=str(row[2]),
        aggregate_id=_uuid(row[3]),
        kind=str(row[4]),
        channel=Channel(str(row[5])),
        recipient=str(row[6]),
        language=str(row[7]),
        subject=str(row[8]),
        body=str(row[9]),
        status=Status(str(row[10])),
        attempts=int(str(row[11])),
        created_at=as_moment(row[12]),
        next_attempt_at=as_moment(row[13]),
        last_error=None if row[14] is None else str(row[14]),
        deferral_recorded=bool(row[15]),
        period_started_at=None if row[16] is None else as_moment(row[16]),
        operator_retries=int(str(row[17])),
    )


class OutboxStore:
    """Reads and changes the outbox, each call in its own transaction unless the
    caller holds one (the follower's batch)."""

    def __init__(self, db: ProjectionDatabase) -> None:
        self.db = db

    # Queueing (inside the follower's transaction) -------------------------------

    def enqueue(self, queued: Sequence[tuple[int, Sequence[NewMessage]]], now: datetime) -> None:
        """Queue each event's messages (by the event's position), all in one statement
        sent once for the batch."""
        self.db.executemany(
            _INSERT,
            [
                (
                    m.message_id,
                    position,
                    m.event_id,
                    m.aggregate_kind,
                    m.aggregate_id,
                    m.subject_id,
                    m.kind,
                    m.channel,
                    m.recipient,
                    m.language,
                    m.subject,
                    m.body,
                    Status.PENDING,
                    now,
                    now,
                )
                for position, messages in queued
                for m in messages
            ],
        )

    def erase_subjects(self, subject_ids: Sequence[UUID]) -> None:
        """Blank the erased subjects' messages; those not yet sent are never sent."""
        if not subject_ids:
            return
        self.db.execute(
            sql(
                "UPDATE outbox_messages SET recipient = {}, subject = {}, body = {}, "
                "last_error = NULL, lease_until = NULL, status = CASE WHEN status = {} "
                "THEN status ELSE {} END WHERE subject_id IN ({subjects})",
                subjects=parameters(len(subject_ids)),
            ),
            [ERASED, ERASED, ERASED, Status.DELIVERED, Status.ERASED, *subject_ids],
        )

    # Claiming and settling (the delivery worker) --------------------------------

    def claim(
        self,
        worker: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        channels: Sequence[Channel] = tuple(Channel),
    ) -> list[QueuedMessage]:
        """Take up to `limit` due messages for `lease`; each attempt is counted, and
        the first of a retry period starts the period (ADR 68)."""
        skip_locked = sql(" FOR UPDATE SKIP LOCKED") if self.db.is_postgres else sql("")
        due = sql(
            "SELECT message_id FROM outbox_messages WHERE status = {} AND next_attempt_at <= {} "
            "AND (lease_until IS NULL OR lease_until <= {}) AND channel IN ({channels}) "
            "ORDER BY next_attempt_at, message_id LIMIT {}",
            channels=parameters(len(channels)),
        )
        with self.db.transaction():
            ids = [
                row[0]
                for row in self.db.fetchall(
                    due + skip_locked, (Status.PENDING, now, now, *channels, limit)
                )
            ]
            if not ids:
                return []
            rows = self.db.fetchall(
                sql(
                    "UPDATE outbox_messages SET lease_until = {}, leased_by = {}, "
                    "attempts = attempts + 1, period_started_at = COALESCE(period_started_at, {}) "
                    "WHERE message_id IN ({ids}) RETURNING {columns}",
                    ids=parameters(len(ids)),
                    columns=_COLUMNS,
                ),
                [now + lease, worker, now, *ids],
            )
        return sorted(
            (_message(r) for r in rows), key=lambda m: (m.next_attempt_at, str(m.message_id))
        )

    def _settle(
        self, message_id: UUID, worker: str, assignments: Sql, params: list[object]
    ) -> bool:
        changed = self.db.execute(
            sql(
                "UPDATE outbox_messages SET {assignments}, lease_until = NULL, "
                "leased_by = NULL WHERE message_id = {} AND leased_by = {} AND status = {}",
                assignments=assignments,
            ),
            [*params, message_id, worker, Status.PENDING],
        )
        return changed == 1

    def delivered(self, message_id: UUID, worker: str, now: datetime) -> bool:
        return self._settle(
            message_id,
            worker,
            sql("status = {}, finished_at = {}, last_error = NULL"),
            [Status.DELIVERED, now],
        )

    def deferred(
        self, message_id: UUID, worker: str, until: datetime, error: str, *, recorded: bool
    ) -> bool:
        return self._settle(
            message_id,
            worker,
            sql("next_attempt_at = {}, last_error = {}, deferral_recorded = {}"),
            [until, error, recorded],
        )

    def dead(
        self, message_id: UUID, worker: str, status: Status, now: datetime, error: str
    ) -> bool:
        return self._settle(
            message_id,
            worker,
            sql("status = {}, finished_at = {}, last_error = {}"),
            [status, now, error],
        )

    # Operations -----------------------------------------------------------------

    def counts(self) -> dict[Status, int]:
        rows = self.db.fetchall(
            "SELECT status, COUNT(*) FROM outbox_messages GROUP BY status ORDER BY status"
        )
        found = {Status(str(r[0])): int(r[1]) for r in rows}
        return {status: found.get(status, 0) for status in Status}

    def oldest_pending_since(self) -> datetime | None:
        """When the oldest message still waiting to be delivered was queued (or
        queued again by a retry); None when nothing waits."""
        row = self.db.fetchone(
            sql(
                "SELECT MIN(COALESCE(retried_at, created_at)) FROM outbox_messages "
                "WHERE status = {}"
            ),
            (Status.PENDING,),
        )
        return None if row is None or row[0] is None else as_moment(row[0])

    def listed(self, *, dead: bool = False, limit: int = 100) -> list[QueuedMessage]:
        statuses = DEAD if dead else tuple(Status)
        return [
            _message(r)
            for r in self.db.fetchall(
                sql(
                    "SELECT {columns} FROM outbox_messages WHERE status IN ({statuses}) "
                    "ORDER BY created_at DESC, message_id LIMIT {}",
                    statuses=parameters(len(statuses)),
                    columns=_COLUMNS,
                ),
                [*statuses, limit],
            )
        ]

    def get(self, message_id: UUID) -> QueuedMessage | None:
        row = self.db.fetchone(
            sql("SELECT {columns} FROM outbox_messages WHERE message_id = {}", columns=_COLUMNS),
            (message_id,),
        )
        return None if row is None else _message(row)

    def retry(self, message_id: UUID, now: datetime) -> bool:
        """Put a dead-lettered message back in the queue, due now, for one fresh
        retry period (from its next attempt), and count the operator's retry. When
        it was queued (`created_at`) stays as it was."""
        return (
            self.db.execute(
                sql(
                    "UPDATE outbox_messages SET status = {}, next_attempt_at = {}, "
                    "period_started_at = NULL, attempts = 0, deferral_recorded = {}, "
                    "operator_retries = operator_retries + 1, retried_at = {}, "
                    "finished_at = NULL, lease_until = NULL, leased_by = NULL "
                    "WHERE message_id = {} AND status IN ({dead})",
                    dead=parameters(len(DEAD)),
                ),
                [Status.PENDING, now, False, now, message_id, *DEAD],
            )
            == 1
        )

    def sweep(self, now: datetime, delivered: timedelta, dead: timedelta) -> int:
        """Blank the recipient, subject and body of messages delivered longer than
        `delivered` ago and dead-lettered longer than `dead` ago; the row stays
        (its id keeps a re-derivation from queueing it again), and so do the
        delivery events on the account or case. Returns how many were swept."""
        return self.db.execute(
            sql(
                "UPDATE outbox_messages SET recipient = {}, subject = {}, body = {}, "
                "last_error = NULL, swept_at = {} WHERE swept_at IS NULL AND "
                "((status = {} AND finished_at < {}) OR "
                "(status IN ({dead}) AND finished_at < {}))",
                dead=parameters(len(DEAD)),
            ),
            [SWEPT, SWEPT, SWEPT, now, Status.DELIVERED, now - delivered, *DEAD, now - dead],
        )  # fmt: skip
