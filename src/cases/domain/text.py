"""Checks for the free text a person types into a case or an account."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cases.domain.errors import InvalidValueError

TITLE_LIMIT = 255  # Partner Center's service-request title limit
LINE_LIMIT = 500
TEXT_LIMIT = 20_000


def required_text(field: str, value: str, limit: int = TEXT_LIMIT) -> str:
    """Return `value` stripped, refusing blank or over-long text."""
    stripped = value.strip()
    if not stripped:
        raise InvalidValueError(f"{field} must not be blank")
    if "\x00" in stripped:
        raise InvalidValueError(f"{field} contains a NUL character")
    if len(stripped) > limit:
        raise InvalidValueError(f"{field} is {len(stripped)} characters long; the limit is {limit}")
    return stripped


def optional_text(field: str, value: str | None, limit: int = LINE_LIMIT) -> str | None:
    """Return `value` stripped, or None when absent or blank."""
    if value is None or not value.strip():
        return None
    return required_text(field, value, limit)


def aware(field: str, moment: datetime) -> datetime:
    """Refuse a moment without a time zone: every stored moment is unambiguous."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidValueError(f"{field} must carry a time zone")
    return moment


def known_zone(zone: str) -> str:
    """Refuse a name that is not an IANA time zone (e.g. 'Europe' or 'CET+1')."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # 'Europe' is a directory
        raise InvalidValueError(f"unknown time zone {zone!r}") from None
    return zone
