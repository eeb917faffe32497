"""Reading the vendor's documented shapes, tolerantly: enum values compared
without case, unknown fields ignored, "0001-01-01T00:00:00" read as no date,
and anything else malformed refused item by item with `MalformedItemError`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

NO_DATE = "0001-01-01T00:00:00"
_FRACTION = re.compile(r"(\.\d{6})\d+")


class MalformedItemError(Exception):
    """Raised when one item of a vendor's answer lacks a field or holds a wrong one."""


def canonical(value: object, known: tuple[str, ...], field: str) -> str:
    """The known enum value `value` names, whatever its case (camelCase,
    PascalCase, snake_case); a value not known is kept as sent."""
    if not isinstance(value, str) or not value.strip():
        raise MalformedItemError(f"{field} is not a name")
    folded = value.strip().replace("_", "").casefold()
    for name in known:
        if name.replace("_", "").casefold() == folded:
            return name
    return value.strip()


def text(item: Mapping[str, Any], field: str, *, required: bool = True) -> str | None:
    value = item.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise MalformedItemError(f"{field} is missing")
        return None
    if not isinstance(value, str):
        raise MalformedItemError(f"{field} is not text")
    return value.strip()


def moment(item: Mapping[str, Any], field: str) -> datetime:
    """A date the item must give."""
    value = optional_moment(item, field)
    if value is None:
        raise MalformedItemError(f"{field} is missing")
    return value


def optional_moment(item: Mapping[str, Any], field: str) -> datetime | None:
    """A vendor's date: ISO 8601, UTC when it names no offset; `NO_DATE` is none."""
    value = item.get(field)
    if value is None or (isinstance(value, str) and value.startswith(NO_DATE)):
        return None
    if not isinstance(value, str):
        raise MalformedItemError(f"{field} is not a date")
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value.strip()))
    except ValueError:
        raise MalformedItemError(f"{field} is not an ISO 8601 date") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
