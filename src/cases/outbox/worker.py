"""The delivery worker: claim due messages, send each, record what became of it.

Per message: the attempt; then the outcome, recorded as an event on the account
or case the message came from (through the billing office or the support desk,
once per message and outcome); then the message settled in the outbox. A worker
killed between sending and settling leaves a lease that runs out: the message is
sent again with the same id (one duplicate attempt at most per lease), and the
outcome, asked again, is recorded once.

A failed attempt is retried after `first_retry * 2**(attempts-1)` seconds (at
most an hour), with jitter (a random half to whole of it), until the retry
period has passed since the message's first attempt, as the database recorded it
(a worker restart does not restart the period): then it is dead-lettered as
failed. A refusal (bounce) is dead-lettered at once. `cases outbox retry` puts a
dead-lettered message back for one fresh period, counted (ADR 68). Settled
messages are swept past their retention (`sweep`, at start and hourly).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import uuid4

import structlog

from cases.application.billing_office import BillingOffice
from cases.application.caller import Caller
from cases.application.support_desk import SupportDesk
from cases.clock import Clock, SystemClock
from cases.db.database import CONNECTION_ERRORS, ProjectionDatabase
from cases.domain.deliveries import Delivery, DeliveryOutcome, RecordDelivery
from cases.domain.metadata import Actor, Role, Source
from cases.outbox.messages import Channel, QueuedMessage, Status
from cases.outbox.store import OutboxStore
from cases.outbox.transports import DeliveryDeferredError, DeliveryRefusedError, Transport
from cases.settings import Settings

logger = structlog.get_logger("cases.outbox")

LONGEST_WAIT = timedelta(hours=1)
OUTBOX_ACTOR = Actor("outbox", Role.SYSTEM)


class OutcomeRecorder(Protocol):
    def __call__(self, message: QueuedMessage, outcome: DeliveryOutcome, detail: str) -> None: ...


@dataclass(frozen=True, slots=True)
class RecordOnAggregates:
    """Records outcomes on the account or case through their application services."""

    billing: BillingOffice
    desk: SupportDesk

    def __call__(self, message: QueuedMessage, outcome: DeliveryOutcome, detail: str) -> None:
        command = RecordDelivery(
            Delivery(
                message_id=message.message_id,
                message=message.kind,
                channel=message.channel.value,
                recipient=message.recipient,
                outcome=outcome,
                attempts=message.attempts,
                detail=detail,
            )
        )
        caller = Caller.new(OUTBOX_ACTOR, Source.SCHEDULER)
        if message.aggregate_kind == "account":
            self.billing.handle(caller, message.aggregate_id, command)
        else:
            self.desk.handle(caller, message.aggregate_id, command)


@dataclass(frozen=True, slots=True)
class Retries:
    """How long and how often a message is retried."""

    period: timedelta
    first: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Retries:
        return cls(
            timedelta(hours=settings.outbox_retry_hours),
            timedelta(seconds=settings.outbox_first_retry_seconds),
        )

    def period_ends(self, message: QueuedMessage) -> datetime:
        """When the message's retry period ends: `period` after the first attempt
        the database recorded for it (a claimed message has one; a worker restart
        does not move it; an operator's retry starts one fresh period)."""
        started = message.period_started_at or message.created_at
        return started + self.period

    def wait(self, attempts: int, rng: random.Random) -> timedelta:
        full: timedelta = min(self.first * 2 ** max(attempts - 1, 0), LONGEST_WAIT)
        return full * rng.uniform(0.5, 1.0)


@dataclass(frozen=True, slots=True)
class Retention:
    """How long a settled message's recipient, subject and body are kept, and
    how often (in seconds) a running worker sweeps those past it (ADR 68)."""

    delivered: timedelta = timedelta(days=30)
    dead: timedelta = timedelta(days=90)
    every: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Retention:
        return cls(
            timedelta(days=settings.outbox_retention_days),
            timedelta(days=settings.outbox_dead_retention_days),
            settings.outbox_sweep_seconds,
        )


@dataclass(frozen=True, slots=True)
class StepResult:
    claimed: int
    delivered: int


class DeliveryWorker:
    """Delivers what the outbox holds for the channels it has transports for."""

    def __init__(
        self,
        db: ProjectionDatabase,
        transports: Mapping[Channel, Transport],
        record: OutcomeRecorder,
        retries: Retries,
        *,
        lease: timedelta = timedelta(seconds=60),
        batch_size: int = 20,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        worker_id: str | None = None,
        retention: Retention | None = None,
    ) -> None:
        self.store = OutboxStore(db)
        self.db = db
        self.transports = dict(transports)
        self.record = record
        self.retries = retries
        self.lease = lease
        self.batch_size = batch_size
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy
        self.worker_id = worker_id or f"{os.getpid()}-{uuid4().hex[:8]}"
        self.retention = retention or Retention()

    def step(self) -> StepResult:
        """Claim one batch of due messages and attempt each."""
        claimed = self.store.claim(
            self.worker_id, self.clock.now(), self.lease, self.batch_size, tuple(self.transports)
        )
        try:
            delivered = sum(self.attempt(message) for message in claimed)
        finally:
            for transport in self.transports.values():
                transport.close()
        return StepResult(len(claimed), delivered)

    def attempt(self, message: QueuedMessage) -> bool:
        transport = self.transports[message.channel]
        try:
            detail = transport.send(message)
        except DeliveryRefusedError as e:
            self._dead(message, Status.BOUNCED, DeliveryOutcome.BOUNCED, str(e))
            return False
        except DeliveryDeferredError as e:
            self._deferred(message, str(e))
            return False
        self.record(message, DeliveryOutcome.DELIVERED, detail)
        self.store.delivered(message.message_id, self.worker_id, self.clock.now())
        logger.info(
            "outbox_delivered",
            message_id=str(message.message_id),
            kind=message.kind,
            channel=message.channel.value,
            attempts=message.attempts,
        )
        return True

    def _deferred(self, message: QueuedMessage, error: str) -> None:
        now = self.clock.now()
        until = now + self.retries.wait(message.attempts, self.rng)
        if until > self.retries.period_ends(message):
            self._dead(message, Status.FAILED, DeliveryOutcome.FAILED, error)
            return
        if not message.deferral_recorded:
            self.record(message, DeliveryOutcome.DEFERRED, error)
        self.store.deferred(message.message_id, self.worker_id, until, error, recorded=True)
        logger.info(
            "outbox_deferred",
            message_id=str(message.message_id),
            attempts=message.attempts,
            retry_at=until.isoformat(),
            error=error,
        )

    def _dead(
        self, message: QueuedMessage, status: Status, outcome: DeliveryOutcome, error: str
    ) -> None:
        self.record(message, outcome, error)
        self.store.dead(message.message_id, self.worker_id, status, self.clock.now(), error)
        logger.warning(
            "outbox_dead_lettered",
            message_id=str(message.message_id),
            status=status.value,
            attempts=message.attempts,
            error=error,
        )

    def sweep(self) -> int:
        """Blank the messages past their retention; return how many."""
        swept = self.store.sweep(self.clock.now(), self.retention.delivered, self.retention.dead)
        if swept:
            logger.info("outbox_swept", messages=swept)
        return swept

    def drain(self) -> int:
        """Attempt every message due now until none is; return how many were delivered."""
        total = 0
        while True:
            result = self.step()
            total += result.delivered
            if result.claimed == 0:
                return total


def run_deliveries(
    make_worker: Callable[[], DeliveryWorker],
    stopping: threading.Event,
    *,
    poll_interval: float = 0.5,
    max_backoff: float = 5.0,
) -> None:
    """Deliver until `stopping` is set, sweeping messages past their retention at
    start and then as often as the worker's retention says; a store outage is
    waited out with backoff."""
    backoff = poll_interval
    next_sweep = time.monotonic()
    while not stopping.is_set():
        worker = None
        try:
            worker = make_worker()
            while not stopping.is_set():
                if time.monotonic() >= next_sweep:
                    worker.sweep()
                    next_sweep = time.monotonic() + worker.retention.every
                if worker.step().claimed == 0:
                    stopping.wait(poll_interval)
            backoff = poll_interval
        except CONNECTION_ERRORS as e:
            logger.warning("outbox_store_unreachable", error=type(e).__name__, retry_in=backoff)
            stopping.wait(backoff)
            backoff = min(backoff * 2, max_backoff)
        finally:
            if worker is not None:
                worker.db.close()


def deliverable(now: datetime, message: QueuedMessage) -> bool:
    """Whether a pending message is due (for status displays)."""
    return message.status is Status.PENDING and message.next_attempt_at <= now
