"""Moments given as options: refused in one usage error when outside the span the
service keeps (years 1900 to 2999, `cases.time_range`, ADR 0035)."""

from __future__ import annotations

from datetime import datetime

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
