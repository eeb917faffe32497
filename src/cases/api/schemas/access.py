"""Bodies of the commands that act on access and collection by hand (ADR 47)."""

from __future__ import annotations

from cases.api.schemas.accounts import Reason, Reasoned
from cases.api.schemas.common import Day, Strict, example


class SuspendAccess(Reasoned):
    model_config = example({"reason": "Card reported stolen; customer asked."})


class ReinstateAccess(Reasoned):
    model_config = example({"reason": "Payment confirmed by the bank by phone."})


class HoldCollection(Strict):
    until: Day
    reason: Reason

    model_config = example({"until": "2026-04-30", "reason": "Promised to pay by end of April."})
