"""The timeline's summaries write a moment as strftime's `%Y-%m-%d %H:%M %Z` did
(the year unpadded, as the C library writes it), without calling strftime."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from cases.history.clock_summaries import _moment

ZONES = [
    UTC,
    None,
    ZoneInfo("Europe/Berlin"),
    ZoneInfo("America/New_York"),
    ZoneInfo("Asia/Kolkata"),
    timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=-3), "BRT"),
]


def test_a_moment_reads_as_strftime_wrote_it() -> None:
    draw = random.Random(20)  # noqa: S311 - a reproducible spread of moments
    for _ in range(5000):
        moment = datetime(1, 1, 1, tzinfo=UTC) + timedelta(
            seconds=draw.randrange(0, 9998 * 365 * 86400)
        )
        moment = moment.replace(tzinfo=draw.choice(ZONES))
        assert _moment(moment) == f"{moment:%Y-%m-%d %H:%M %Z}".rstrip()


def test_known_moments() -> None:
    assert _moment(datetime(2026, 3, 2, 8, 5, 59, tzinfo=UTC)) == "2026-03-02 08:05 UTC"
    naive = datetime(999, 1, 2, 3, 4, tzinfo=UTC).replace(tzinfo=None)
    assert _moment(naive) == "999-01-02 03:04"
    assert _moment(None) == "none"
