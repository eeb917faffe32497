"""A request sent with an Idempotency-Key, as the command runner sees it (ADR 0031).

The runner names each save of the request (a step), records the step in the
transaction of its events, and, when the step is found recorded already (a
retry after a crash, or a concurrent twin that won), answers from it instead
of deciding again: the events are in the log exactly once, and the answer is
the one their first recording earned.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from cases.domain.errors import DomainError
from cases.persistence.event_log import EventLog
from cases.persistence.idempotency_steps import RecordedStep, StepToRecord


class IdempotencyKeyReusedError(DomainError):
    """Raised when a key's recorded steps belong to a different request."""

    rule = "idempotency-key-reused"


@dataclass(eq=False)
class IdempotentRequest:
    """One request's key (hashed with its owner), its fingerprint, and its steps."""

    key_id: str
    request_hash: str
    replayed: bool = False  # a step was answered from the store, not decided
    _recorded: dict[str, RecordedStep] | None = None
    _named: Counter[str] = field(default_factory=Counter)
    _settled: set[str] = field(default_factory=set)  # steps in the log: recorded or found
    _answered_by_receipt: bool = False

    @property
    def answered_by_its_step(self) -> bool:
        """Whether a retry gets this request's answer from its step alone (ADR 95):
        the request named one step, the step is in the log, and its route answers
        with that step's receipt and nothing else."""
        return self._answered_by_receipt and sum(self._named.values()) == 1 == len(self._settled)

    def answer_is_receipt(self) -> None:
        """Said by a route whose answer is its one command's receipt, nothing else."""
        self._answered_by_receipt = True

    def saved(self, step: str) -> None:
        """The step was recorded with its events."""
        self._settled.add(step)

    def others_recorded(self) -> bool:
        """Whether steps read for this key belong to a different request."""
        return any(s.request_hash != self.request_hash for s in (self._recorded or {}).values())

    def name(self, what: str) -> str:
        """The next step named `what` (`what:0`, `what:1`, ...)."""
        number = self._named[what]
        self._named[what] += 1
        return f"{what}:{number}"

    def steps_read(self, steps: dict[str, RecordedStep]) -> None:
        """The request's recorded steps, read with its kept answer before it ran:
        the first step does not read them again."""
        self._recorded = steps

    def recorded(self, log: EventLog, step: str, *, fresh: bool = False) -> RecordedStep | None:
        """The step if it is recorded (read once per request, or `fresh`)."""
        if self._recorded is None or fresh:
            self._recorded = log.recorded_steps(self.key_id)
        if self.others_recorded():
            raise IdempotencyKeyReusedError("this Idempotency-Key was used for a different request")
        found = self._recorded.get(step)
        if found is not None:
            self.replayed = True
            self._settled.add(step)
        return found

    def to_record(self, step: str, decided_at: datetime, memo: str | None) -> StepToRecord:
        return StepToRecord(self.key_id, step, self.request_hash, decided_at, memo)
