"""What a run over many aggregates reports of one a rule refused."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from cases.domain.errors import DomainError


@dataclass(frozen=True, slots=True)
class Refused:
    """A run's command on one account or case that a rule refused: nothing was
    recorded on it, and the run went on with the next."""

    aggregate_id: UUID
    rule: str
    message: str

    @classmethod
    def by(cls, aggregate_id: UUID, error: DomainError) -> Refused:
        return cls(aggregate_id, error.rule, error.message)
