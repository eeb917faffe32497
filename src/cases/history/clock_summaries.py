"""One line of plain English per service-level clock fact."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from cases.domain.service_clocks import ClockKind

Details = Mapping[str, Any]


def duration_text(duration: timedelta | None) -> str:
    """`1d 02h 05m` style, to the minute (seconds are rounded down)."""
    if duration is None:
        return "none"
    minutes = int(duration.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{hours}h {minutes:02d}m"
    return f"{days}d {text}" if days else text


def _moment(at: datetime | None) -> str:
    """`at` as `f"{at:%Y-%m-%d %H:%M %Z}".rstrip()` writes it (the year not
    padded, as the C library's %Y), without strftime's cost (the timeline
    summarises every clock fact with it)."""
    if at is None:
        return "none"
    zone = at.tzname() or ""
    return f"{at.year}-{at.month:02d}-{at.day:02d} {at.hour:02d}:{at.minute:02d} {zone}".rstrip()


def _clock(d: Details) -> str:
    kind: ClockKind = d["clock"]
    name = kind.value.replace("_", " ")
    if kind in (ClockKind.NEXT_UPDATE, ClockKind.VENDOR):
        return f"{name} clock {d['number']}"
    return f"{name} clock"


def _started(d: Details) -> str:
    target = d["target"]
    due = f"target {duration_text(target)}, due {_moment(d['deadline'])}" if target else "no target"
    return f"Started the {_clock(d)} at {_moment(d['at'])} ({due})"


def _fulfilled(d: Details) -> str:
    verdict = "within target" if d["within_target"] else "late"
    return (
        f"Fulfilled the {_clock(d)} at {_moment(d['at'])}: {duration_text(d['elapsed'])} "
        f"business time of {duration_text(d['target'])} ({verdict})"
    )


CLOCK_SUMMARIES: dict[str, Callable[[Details], str]] = {
    "ServiceClockStarted": _started,
    "ServiceClockPaused": lambda d: (
        f"Paused the {_clock(d)} at {_moment(d['at'])} after {duration_text(d['elapsed'])}"
    ),
    "ServiceClockResumed": lambda d: (
        f"Resumed the {_clock(d)} at {_moment(d['at'])}, due {_moment(d['deadline'])}"
    ),
    "ServiceClockRetargeted": lambda d: (
        f"Re-targeted the {_clock(d)} for {d['severity'].value} severity: target "
        f"{duration_text(d['target'])}, due {_moment(d['deadline'])}"
    ),
    "ServiceClockBreached": lambda d: (
        f"Breached the {_clock(d)} at {_moment(d['at'])} (target {duration_text(d['target'])})"
    ),
    "ServiceClockBreachWithdrawn": lambda d: (
        f"Withdrew the breach of the {_clock(d)}: it was fulfilled at "
        f"{_moment(d['fulfilled_at'])}, before {_moment(d['breached_at'])}"
    ),
    "ServiceClockBreachDisproved": lambda d: (
        f"Withdrew the breach of the {_clock(d)}: it was paused at "
        f"{_moment(d['paused_at'])} after {duration_text(d['elapsed'])}, before "
        f"{_moment(d['breached_at'])}"
    ),
    "ServiceClockFulfilled": _fulfilled,
    "ServiceClockStopped": lambda d: (
        f"Stopped the {_clock(d)} at {_moment(d['at'])} after "
        f"{duration_text(d['elapsed'])}: {d['reason']}"
    ),
}
