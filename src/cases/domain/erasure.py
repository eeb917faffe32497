"""The erasure of a data subject's personal data: who erased it, when, why, on
which legal basis. It holds none of the personal data itself (ADR 0044)."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from cases.domain.audited import AuditedAggregate
from cases.domain.identity import derived_id
from cases.domain.metadata import CommandContext
from cases.domain.text import LINE_LIMIT, required_text

DEFAULT_LEGAL_BASIS = "GDPR article 17"


class SubjectKind(StrEnum):
    """Whose personal data a record holds."""

    CONTACT = "contact"  # a customer's contact person, one subject per support case
    PRINCIPAL = "principal"  # a person allowed to use the system
    CUSTOMER_CONTACT = "customer_contact"  # a person in the customer directory


def erasure_id_for(subject_id: UUID) -> UUID:
    """One erasure per subject: erasing it again finds this one."""
    return derived_id("erasure", subject_id)


class Erasure(AuditedAggregate):
    """The record that a subject's key was thrown away."""

    class SubjectErased(AuditedAggregate.Created):
        subject_id: UUID
        subject_kind: SubjectKind
        reason: str
        legal_basis: str

    def __init__(
        self, *, subject_id: UUID, subject_kind: SubjectKind, reason: str, legal_basis: str
    ) -> None:
        self.subject_id = subject_id
        self.subject_kind = subject_kind
        self.reason = reason
        self.legal_basis = legal_basis

    @classmethod
    def erase(
        cls,
        ctx: CommandContext,
        *,
        subject_id: UUID,
        subject_kind: SubjectKind,
        reason: str,
        legal_basis: str = DEFAULT_LEGAL_BASIS,
    ) -> Erasure:
        """Record that the subject's personal data is erased. The reason and the
        legal basis name the request, never the person (they are kept)."""
        return cls._start(
            cls.SubjectErased,
            ctx,
            erasure_id_for(subject_id),
            subject_id=subject_id,
            subject_kind=subject_kind,
            reason=required_text("erasure reason", reason, LINE_LIMIT),
            legal_basis=required_text("legal basis", legal_basis, LINE_LIMIT),
        )
