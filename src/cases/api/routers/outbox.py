"""The outbox for operators (issue 16, ADR 50): how many messages are in each
state, the latest messages or the dead letters, and a dead letter queued again.

Recipients and subjects are personal data: they are shown to the operator who
asks, never logged. For the `operator` role (`operate_outbox`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from cases.api.deps import ReadDbDep, ServicesDep, require
from cases.api.errors import ApiProblem
from cases.api.routing import Router
from cases.api.schemas.common import fields_of
from cases.domain.errors import NotFoundError
from cases.domain.permissions import Permission
from cases.followers.outbox import OUTBOX
from cases.followers.tracking import Tracking
from cases.outbox.messages import QueuedMessage
from cases.outbox.store import OutboxStore

Operates = Depends(require(Permission.OPERATE_OUTBOX))

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid bearer token"},
    403: {"description": "The role may not operate the outbox"},
    422: {"description": "Invalid request; the problem lists the fields"},
    503: {"description": "The database is unavailable; retry after Retry-After"},
}

router = Router(prefix="/outbox", tags=["outbox"], responses=PROBLEMS, dependencies=[Operates])


class OutboxStatusOut(BaseModel):
    """Messages by state, and how far the outbox follower has read the log."""

    counts: dict[str, int] = Field(description="Messages in each state.")
    position: int = Field(description="The last log position the follower queued from.")
    head: int = Field(description="The last position recorded in the log.")


class OutboxMessageOut(BaseModel):
    """One message: what, to whom, how far its delivery got."""

    message_id: UUID
    event_id: str = Field(description="The event it was derived from: aggregate:version.")
    aggregate_kind: str
    aggregate_id: UUID
    kind: str
    channel: str
    recipient: str
    language: str
    subject: str
    status: str
    attempts: int = Field(description="Attempts in the current retry period.")
    created_at: datetime = Field(description="When the message was queued.")
    next_attempt_at: datetime
    last_error: str | None
    retry_period_started_at: datetime | None = Field(
        description="The current retry period's first attempt (none before it): the "
        "message is dead-lettered once the period has run from here (ADR 68)."
    )
    operator_retries: int = Field(description="How often an operator queued it again.")

    @classmethod
    def of(cls, message: QueuedMessage) -> OutboxMessageOut:
        return fields_of(cls, message, retry_period_started_at=message.period_started_at)


@router.get("")
def get_outbox_status(db: ReadDbDep, services: ServicesDep) -> OutboxStatusOut:
    """Messages by state (pending, delivered, failed, bounced, erased), and the
    follower's position against the head of the log."""
    counts = OutboxStore(db).counts()
    return OutboxStatusOut(
        counts={status.value: count for status, count in counts.items()},
        position=Tracking(db).position(OUTBOX),
        head=services.log.head(),
    )


@router.get("/messages")
def list_outbox_messages(
    db: ReadDbDep,
    dead: Annotated[bool, Query(description="Only dead-lettered (failed, bounced).")] = False,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
) -> list[OutboxMessageOut]:
    """The latest messages, newest first (or only the dead letters)."""
    return [OutboxMessageOut.of(m) for m in OutboxStore(db).listed(dead=dead, limit=limit)]


@router.post(
    "/messages/{message_id}/retry",
    responses={
        404: {"description": "No such message"},
        409: {"description": "The message is not dead-lettered"},
    },
)
def retry_outbox_message(
    message_id: UUID, db: ReadDbDep, services: ServicesDep
) -> OutboxMessageOut:
    """Queue a dead-lettered message again, due now, for a new retry period."""
    outbox = OutboxStore(db)
    if outbox.get(message_id) is None:
        raise NotFoundError(f"no message {message_id} in the outbox")
    if not outbox.retry(message_id, services.clock.now()):
        raise ApiProblem(
            409,
            "message-not-dead-lettered",
            f"message {message_id} is not dead-lettered; only failed and bounced ones are retried",
        )
    found = outbox.get(message_id)
    if found is None:  # erased or removed between the two statements
        raise NotFoundError(f"no message {message_id} in the outbox")
    return OutboxMessageOut.of(found)
