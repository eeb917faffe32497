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
