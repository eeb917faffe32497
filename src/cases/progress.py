"""How a long run tells its caller how far it has come (every layer may import it)."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int], None]
"""Told (done, of) as a run goes: accounts evaluated of those listed, or the log
position reached of the log's head."""
