"""Auditor replay: each recorded event with its metadata and the changes it made.

A change's `before` and `after` are JSON values: `null` where there was none,
money as `{"amount": "18400.00", "currency": "SEK"}`, days and moments ISO 8601,
enums by value, ids and decimals as strings.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field

from cases.api.schemas.common import RecordedEventOut
from cases.application.replay import Change, ReplayStep
from cases.domain.money import Money


class ChangeOut(BaseModel):
    """One value an event changed."""

    path: str = Field(
        description="Where in the state: `status`, `escalations[1].vendor_reference` "
        "(escalation number 1), `invoices[F-2001].settled` (invoice F-2001), "
        "`findings[0]` (by position).",
        examples=["invoices[F-2001].settled"],
    )
    before: Any = Field(description="The value before the event; null if there was none.")
    after: Any = Field(description="The value after the event; null if there is none.")

    @classmethod
    def of(cls, change: Change) -> ChangeOut:
        return cls(path=change.path, before=jsonable(change.before), after=jsonable(change.after))


class ReplayStepOut(RecordedEventOut):
    """One recorded event, its audit metadata, and what it changed in the state."""

    changes: list[ChangeOut]

    @classmethod
    def of(cls, step: ReplayStep) -> ReplayStepOut:
        return cls(**cls.recorded(step.entry), changes=[ChangeOut.of(c) for c in step.changes])


def jsonable(value: Any) -> Any:
    """A state value as JSON, exactly (money and decimals as strings, never floats)."""
    if isinstance(value, Enum):
        value = value.value
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Money):
        return {"amount": f"{value.amount:f}", "currency": value.currency}
    if isinstance(value, tuple | list | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return _text(value)


def _text(value: object) -> str:
    """Days and moments ISO 8601, decimals without an exponent, ids as text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)
