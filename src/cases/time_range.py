"""The span of time the service takes days and moments in: the years 1900 to 2999.

Every day and every moment that comes in (an API parameter or field, a CLI option)
lies in it or is refused before it reaches a store (ADR 0035). The span leaves
centuries of slack on either side, so that what the service computes from an
accepted value (a due date, an aging bucket, a deadline in business time, a day
in another time zone) stays inside what Python's `date` and `datetime` (years 1 to
9999) and both stores can hold.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
END = datetime(3000, 1, 1, tzinfo=UTC)  # the first moment past the span

RULE = "date-out-of-range"
DAYS_TEXT = f"a day lies from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"
MOMENTS_TEXT = "a moment lies from 1900-01-01T00:00:00Z up to (not including) 3000-01-01T00:00:00Z"


def day_in_range(day: date) -> bool:
    """Whether the day lies in the span."""
    return FIRST_DAY <= day <= LAST_DAY


def moment_in_range(moment: datetime) -> bool:
    """Whether the instant of a moment with a UTC offset lies in the span.

    Compares without converting to UTC, which overflows at the calendar's edges
    (0001-01-01T00:00+01:00 is in year 0 in UTC).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a moment in the span needs a UTC offset")
    return EARLIEST <= moment < END
