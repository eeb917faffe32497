"""Waiting for in-process projections to reach the head of the log."""

from __future__ import annotations

from cases.followers.in_process import InProcessProjections


def caught_up(projections: InProcessProjections, timeout: float) -> bool:
    """Wait, at most `timeout` seconds, until every projection reaches the head
    of the log as it is now; whether they did."""
    return projections.wait_for(projections.log.head(), timeout)
