"""Shapes of the personal-data resource (ADR 0044)."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field

from cases.api.schemas.common import HistoryEntryOut, ReadOff, Strict, fields_of
from cases.application.privacy_office import SubjectExport
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
    plain_events: int = Field(
        description="The subject's events recorded before sealing, whose personal data "
        "stays readable: the audit log forbids rewriting them (ADR 0066). 0: all erased."
    )


class FindSubjects(Strict):
    """Sent in the body, never the URL: request paths and queries are logged."""

    email: str | None = Field(default=None, min_length=1, max_length=254)
    name: str | None = Field(default=None, min_length=1, max_length=200)


class SubjectOut(ReadOff):  # of a `Subject`
    subject_id: UUID
    kind: SubjectKind


class SubjectExportOut(BaseModel):
    """Everything recorded about a subject, its personal fields opened."""

    subject_id: UUID
    kind: SubjectKind
    erased: bool
    events: list[HistoryEntryOut]

    @classmethod
    def of(cls, export: SubjectExport) -> SubjectExportOut:
        return fields_of(
            cls,
            export.subject,
            erased=export.erased,
            events=[HistoryEntryOut.of(entry) for entry in export.history],
        )
