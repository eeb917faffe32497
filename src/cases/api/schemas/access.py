"""Bodies of the commands that act on access and collection by hand (ADR 47)."""

from __future__ import annotations

from pydantic import ConfigDict

from cases.api.schemas.accounts import Reason
from cases.api.schemas.common import Day, Strict


class SuspendAccess(Strict):
    reason: Reason

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Card reported stolen; customer asked."}]}
    )


class ReinstateAccess(Strict):
    reason: Reason

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Payment confirmed by the bank by phone."}]}
    )


class HoldCollection(Strict):
    until: Day
    reason: Reason

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"until": "2026-04-30", "reason": "Promised to pay by end of April."}]
        }
    )
