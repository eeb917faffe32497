"""Personal data: erase a data subject's (ADR 0044)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends

from cases.api.deps import CallerDep, ServicesDep, require
from cases.api.routing import Router
from cases.api.schemas.privacy import EraseSubject, ErasureOut
from cases.application.privacy_office import PrivacyOffice
from cases.domain.permissions import Permission

router = Router(prefix="/privacy", tags=["privacy"])
Manages = Depends(require(Permission.MANAGE_PERSONAL_DATA))
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid bearer token"},
    403: {"description": "Only a user management admin manages personal data"},
    404: {"description": "No personal data is held for this subject (unknown-subject)"},
    409: {"description": "No master key is set (personal-data-not-sealed)"},
    422: {"description": "Invalid request"},
}


async def _privacy(services: ServicesDep) -> PrivacyOffice:
    return services.privacy


PrivacyDep = Annotated[PrivacyOffice, Depends(_privacy)]


@router.post(
    "/subjects/{subject_id}/erasure",
    operation_id="erase_subject",
    responses=PROBLEMS,
    dependencies=[Manages],
)
def erase_subject(
    subject_id: UUID, body: EraseSubject, privacy: PrivacyDep, caller: CallerDep
) -> ErasureOut:
    """Throw the subject's key away: its personal data reads "erased" from now on in
    every history, state and export; the facts stay. Erasing again changes nothing
    (`already_erased`). The subject is a case id (its contact person) or a principal id."""
    erased = privacy.erase(caller, subject_id, body.reason, body.legal_basis)
    return ErasureOut(
        subject_id=erased.subject_id,
        kind=erased.kind,
        erasure_id=erased.erasure_id,
        already_erased=erased.already,
        position=None if erased.receipt is None else erased.receipt.position,
    )
