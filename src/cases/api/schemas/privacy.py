"""Shapes of the personal-data resource (ADR 0044)."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field

from cases.api.schemas.common import Strict
from cases.domain.erasure import DEFAULT_LEGAL_BASIS, SubjectKind


class EraseSubject(Strict):
    reason: str = Field(
        min_length=1, max_length=500, description="Names the request, never the person."
    )
    legal_basis: str = Field(default=DEFAULT_LEGAL_BASIS, min_length=1, max_length=500)


class ErasureOut(BaseModel):
    subject_id: UUID
    kind: SubjectKind
    erasure_id: UUID
    already_erased: bool
    position: int | None
