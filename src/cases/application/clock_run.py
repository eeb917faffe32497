"""The scheduled service-level check: breaches recorded when they happen.

A breach is a fact of its own, recorded at the clock's deadline even when
nothing else happens on the case. The run evaluates each candidate case as of
one moment, in its own command (like the collection run): deterministic, and
idempotent — a second run as of the same moment records nothing. Candidates
come from the service-levels projection (cases with a running clock whose
deadline has passed); a case the projection has not seen yet is caught by the
next run, or by the next command on the case, which records due breaches first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from cases.application.caller import Caller
from cases.application.refusals import Refused
from cases.application.support_desk import SupportDesk
from cases.domain.errors import DomainError, EvaluationInFutureError
from cases.domain.service_clocks import ClockKind

Progress = Callable[[int], None]
"""Told the number of cases evaluated so far, after each case."""


@dataclass(frozen=True, slots=True)
class RecordedBreach:
    case_id: UUID
    clock: ClockKind
    number: int
    breached_at: datetime


@dataclass(frozen=True, slots=True)
class ClockRunSummary:
    as_of: datetime
    evaluated: int
    breaches: tuple[RecordedBreach, ...]
    failures: tuple[Refused, ...]


def run_clock_evaluation(
    desk: SupportDesk,
    caller: Caller,
    as_of: datetime,
    candidates: Iterable[UUID],
    progress: Progress | None = None,
) -> ClockRunSummary:
    """Evaluate each candidate case's clocks as of `as_of`; return the breaches."""
    now = desk.runner.clock.now()
    if as_of > now:
        raise EvaluationInFutureError(
            f"service clocks cannot be evaluated as of {as_of.isoformat()}, a moment still to come"
        )
    evaluated = 0
    breaches: list[RecordedBreach] = []
    failures: list[Refused] = []
    for case_id in candidates:
        try:
            recorded = desk.evaluate_service_clocks(caller, case_id, as_of)
        except DomainError as e:
            failures.append(Refused.by(case_id, e))
        else:
            breaches += [RecordedBreach(case_id, b.clock, b.number, b.at) for b in recorded]
        evaluated += 1
        if progress is not None:
            progress(evaluated)
    return ClockRunSummary(as_of, evaluated, tuple(breaches), tuple(failures))
