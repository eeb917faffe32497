"""What a write's failure says about whether it was recorded."""

from __future__ import annotations

from eventsourcing.persistence import OperationalError


class OutcomeUnknownError(OperationalError):
    """Raised when a write was sent but the connection failed before its commit
    was confirmed, and reading it back failed too: it may or may not be recorded.
    A retry with the same Idempotency-Key finds out and never records it twice."""
