"""Steps of idempotent requests, recorded in the transaction of their events (ADR 0031).

A request sent with an Idempotency-Key may save events once or a few times (a
step each). Each step is written to `idempotency_steps` in the same transaction
as the events it saved: if the events are in the log, so is the step, and the
other way round. A retry of the request finds its steps and answers from them
instead of deciding again, whatever crashed in between (the process, the
connection at commit, the client).

A step is named by what it did and to which aggregate (`create:SupportCase:0`,
`change:<id>:0`), not by its place in the request: a request that skips a step
on its retry (it found the aggregate created already) still meets the others.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import orjson

STEP_NAME = re.compile(r"^[A-Za-z0-9_.:\-]{1,200}$")
HEX = re.compile(r"^[0-9a-f]{64}$")


def key_id(owner: str, key: str) -> str:
    """The stored name of a client's key: both hashed, so a literal holds no input."""
    return hashlib.sha256(f"{owner}\x00{key}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StepReceipt:
    """What one step recorded on one aggregate."""

    aggregate_id: UUID
    first_version: int
    last_version: int
    position: int


@dataclass(frozen=True, slots=True)
class StepToRecord:
    """The step a save belongs to, written with its events."""

    key_id: str
    step: str
    request_hash: str
    decided_at: datetime
    memo: str | None = None

    def __post_init__(self) -> None:
        if not HEX.match(self.key_id) or not HEX.match(self.request_hash):
            raise ValueError("an idempotency step is named by SHA-256 hex digests")
        if not STEP_NAME.match(self.step):
            raise ValueError(f"not a step name: {self.step[:80]!r}")
        if self.decided_at.tzinfo is None:
            raise ValueError("decided_at must carry a time zone")


@dataclass(frozen=True, slots=True)
class RecordedStep:
    """A step found in the store: what it recorded, and when it was decided."""

    step: str
    request_hash: str
    receipts: tuple[StepReceipt, ...]
    decided_at: datetime
    memo: str | None

    def receipt_of(self, aggregate_id: UUID) -> StepReceipt | None:
        return next((r for r in self.receipts if r.aggregate_id == aggregate_id), None)


def receipts_of(rows: Iterable[tuple[object, int, int]]) -> tuple[StepReceipt, ...]:
    """Per aggregate, from (aggregate id, version, position) rows of one step, in
    the order they were saved (the first is the aggregate a creation created)."""
    spans: dict[UUID, list[int]] = {}
    for aggregate_id, version, position in rows:
        uid = aggregate_id if isinstance(aggregate_id, UUID) else UUID(str(aggregate_id))
        span = spans.setdefault(uid, [version, version, position, position])
        span[0], span[1] = min(span[0], version), max(span[1], version)
        span[2], span[3] = max(span[2], position), min(span[3], position)
    ordered = sorted(spans.items(), key=lambda item: item[1][3])
    return tuple(StepReceipt(uid, *span[:3]) for uid, span in ordered)


def stored_moment(moment: datetime) -> str:
    """A moment as SQLite keeps it: fixed-width UTC ISO text, so text order is
    time order (the read models store theirs so too: `cases.db.utc_text`)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def encode_rows(rows: Iterable[tuple[object, int, int]]) -> str:
    return orjson.dumps([[str(a), int(v), int(p)] for a, v, p in rows]).decode()


def decode_rows(text: str) -> list[tuple[object, int, int]]:
    return [(a, int(v), int(p)) for a, v, p in orjson.loads(text)]


def steps_from_rows(rows: Iterable[Sequence[object]]) -> dict[str, RecordedStep]:
    """Steps by name, from (step, request_hash, receipts, decided_at, memo) rows."""
    steps = {}
    for step, request_hash, receipts, decided_at, memo in rows:
        moment = (
            decided_at
            if isinstance(decided_at, datetime)
            else datetime.fromisoformat(str(decided_at))
        )
        steps[str(step)] = RecordedStep(
            str(step),
            str(request_hash),
            receipts_of(decode_rows(str(receipts))),
            moment,
            None if memo is None else str(memo),
        )
    return steps
