"""Moments given as options: refused in one usage error when outside the span the
service keeps (years 1900 to 2999, `cases.time_range`, ADR 0035)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from cases import time_range


def within_range(moment: datetime, option: str) -> datetime:
    """The moment (with a UTC offset), or a usage error naming the option."""
    if not time_range.moment_in_range(moment):
        text = f"{moment.isoformat()} is out of range: {time_range.MOMENTS_TEXT}"
        raise typer.BadParameter(text, param_hint=option)
    return moment


def iso_moment(text: str, option: str) -> datetime:
    """The ISO 8601 moment `text` (perhaps without an offset), or a usage error."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 moment", param_hint=option) from None


EvaluateAt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="The moment to evaluate at, ISO 8601 with a UTC offset "
        "(e.g. 2026-05-01T06:00:00+02:00). Default: now.",
    ),
]
"""The `--as-of` of a scheduled run (collection, service clocks); see `parse_moment`."""


def parse_moment(text: str) -> datetime:
    """An `--as-of` moment: ISO 8601 with a UTC offset, within the range kept."""
    moment = iso_moment(text, "--as-of")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise typer.BadParameter(
            "give the moment a UTC offset, e.g. 2026-05-01T06:00:00+00:00 or ...Z",
            param_hint="--as-of",
        )
    return within_range(moment, "--as-of")
