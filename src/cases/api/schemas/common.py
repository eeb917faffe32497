"""Shapes shared by every resource."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Self, TypeVar
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from cases import time_range
from cases.api.schemas.audit_log import InclusionOut
from cases.application.command_runner import Receipt
from cases.history.entries import HistoryEntry
from cases.history.event_summaries import summarise

# Days and moments: every one that comes in lies in the span of time_range (ADR 0035),
# checked here, once, for every parameter and field of these types.


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a moment needs a UTC offset, e.g. 2026-03-02T09:30:00+01:00")
    if not time_range.moment_in_range(moment):
        raise PydanticCustomError(time_range.RULE, time_range.MOMENTS_TEXT)
    return moment


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: object) -> object:
    """Only `YYYY-MM-DD`: not a timestamp, not a datetime cut short."""
    if isinstance(value, str) and not _DAY.fullmatch(value):
        raise ValueError("a day is written YYYY-MM-DD, e.g. 2026-03-02")
    if not isinstance(value, str | date) or isinstance(value, datetime):
        raise PydanticCustomError("day_type", "a day is a string written YYYY-MM-DD")
    return value


def _day_in_range(day: date) -> date:
    if not time_range.day_in_range(day):
        raise PydanticCustomError(time_range.RULE, time_range.DAYS_TEXT)
    return day


Day = Annotated[
    date, BeforeValidator(_iso_day, json_schema_input_type=date), AfterValidator(_day_in_range)
]


M = TypeVar("M", bound=BaseModel)


@functools.cache
def _field_names(model: type[BaseModel]) -> tuple[str, ...]:
    # Asked once per model: pydantic's `model_fields` costs microseconds a call.
    return tuple(model.model_fields)


def fields_of(model: type[M], source: object, **given: object) -> M:
    """`model` with each field read off `source`: the attribute of the field's name
    (its key, where `source` is a read model's row), unless `given` names the
    field (one whose name or form differs). Enums come as they are: a field typed
    `str` takes a `StrEnum` member as its value."""
    if isinstance(source, Mapping):  # a row's other columns are ignored
        return model.model_validate({**source, **given})
    if not given:  # pydantic reads the attributes itself: as fast as naming each
        return model.model_validate(source, from_attributes=True)
    names = (name for name in _field_names(model) if name not in given)
    return model(**{name: getattr(source, name) for name in names}, **given)


class ReadOff(BaseModel):
    """A shape whose every field is read off one object (or row) by its name."""

    @classmethod
    def of(cls, source: object) -> Self:
        return fields_of(cls, source)


def example(body: dict[str, Any]) -> ConfigDict:
    """A model's configuration that shows one example of it in the OpenAPI document."""
    return ConfigDict(json_schema_extra={"examples": [body]})


class Strict(BaseModel):
    """Request bodies: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CommandResult(BaseModel):
    """What a recorded command reached."""

    id: UUID = Field(description="The case, account or principal the command changed.")
    version: int = Field(description="Its version now; send it back as If-Match.")
    position: int = Field(
        description="The log position reached; pass it as `min_position` to read your writes."
    )

    @classmethod
    def of(cls, receipt: Receipt) -> CommandResult:
        return cls(id=receipt.aggregate_id, version=receipt.version, position=receipt.position)


class ActorOut(BaseModel):
    principal_id: str
    role: str


class RecordedEventOut(BaseModel):
    """What history and replay both show of a recorded event: its audit metadata."""

    version: int
    event_type: str
    summary: str
    occurred_at: datetime
    recorded_at: datetime
    actor: ActorOut
    correlation_id: str
    causation_id: str | None
    source: str
    inclusion: InclusionOut | None = Field(
        default=None,
        description="With `proofs=true`: the event's leaf, leaf index and RFC 9162 inclusion "
        "proof in the kept checkpoint asked for (default: the latest); null for an event "
        "recorded after it.",
    )

    @staticmethod
    def recorded(entry: HistoryEntry) -> dict[str, Any]:
        """The shared fields' values for `entry`."""
        meta = entry.meta
        return {
            "version": entry.version,
            "event_type": entry.event_type,
            "summary": summarise(entry.event_type, entry.details),
            "occurred_at": meta.occurred_at,
            "recorded_at": entry.recorded_at,
            "actor": ActorOut(principal_id=meta.actor.principal_id, role=meta.actor.role.value),
            "correlation_id": meta.correlation_id,
            "causation_id": meta.causation_id,
            "source": meta.source.value,
        }


class HistoryEntryOut(RecordedEventOut):
    """One recorded event, with its audit metadata."""

    details: dict[str, Any]

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryEntryOut:
        details = {k: _jsonable(v) for k, v in entry.details.items()}
        return cls(**cls.recorded(entry), details=details)


def _jsonable(value: Any) -> Any:
    """Event fields as JSON: value objects as dicts, enums by value, the rest as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {k: _jsonable(getattr(value, k)) for k in value.__dataclass_fields__}
    return str(getattr(value, "value", value))
