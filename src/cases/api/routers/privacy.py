"""Personal data: erase a data subject's (ADR 0044)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends

from cases.api.deps import CallerDep, ServicesDep, require
from cases.api.errors import documented_problems
from cases.api.routing import Router
from cases.api.schemas.privacy import (
    EraseSubject,
    ErasureOut,
    FindSubjects,
    SubjectExportOut,
    SubjectOut,
)
from cases.application.privacy_office import PrivacyOffice
from cases.domain.permissions import Permission

Manages = Depends(require(Permission.MANAGE_PERSONAL_DATA))
PROBLEMS = documented_problems(
    {
        403: "Only a user management admin manages personal data",
        404: "No personal data is held for this subject (unknown-subject)",
        409: "No master key is set (personal-data-not-sealed)",
    },
    invalid="Invalid request",
    unavailable=False,
)

router = Router(prefix="/privacy", tags=["privacy"], responses=PROBLEMS, dependencies=[Manages])


async def _privacy(services: ServicesDep) -> PrivacyOffice:
    return services.privacy


PrivacyDep = Annotated[PrivacyOffice, Depends(_privacy)]


@router.post("/subjects/{subject_id}/erasure")
def erase_subject(
    subject_id: UUID, body: EraseSubject, privacy: PrivacyDep, caller: CallerDep
) -> ErasureOut:
    """Throw the subject's key away: its personal data reads "erased" from now on in
    every history, state and export; the facts stay. Erasing again changes nothing
    (`already_erased`). The subject is a case id (its contact person) or a principal id.
    Events recorded before sealing keep their text and are counted (`plain_events`)."""
    erased = privacy.erase(caller, subject_id, body.reason, body.legal_basis)
    return ErasureOut(
        subject_id=erased.subject_id,
        kind=erased.kind,
        erasure_id=erased.erasure_id,
        already_erased=erased.already,
        position=None if erased.receipt is None else erased.receipt.position,
        plain_events=erased.plain_events,
    )


@router.post("/subjects/search")
def find_subjects(body: FindSubjects, privacy: PrivacyDep) -> list[SubjectOut]:
    """The subjects (not erased) recorded with this e-mail address and/or name,
    ignoring case and extra spaces. The values go in the body: paths are logged."""
    return [SubjectOut.of(s) for s in privacy.find(email=body.email, name=body.name)]


@router.get("/subjects/{subject_id}/export")
def export_subject(subject_id: UUID, privacy: PrivacyDep) -> SubjectExportOut:
    """Everything recorded about the subject, with each event's metadata and its
    personal fields opened: the answer to an access request (GDPR article 15)."""
    return SubjectExportOut.of(privacy.export(subject_id))
