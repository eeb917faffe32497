"""Auditor replay of a case or an account: every recorded event with its metadata
and what it changed in the state, up to a version or as recorded at a moment.

For roles that may read histories (`read_history`); others get 403.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Query

from cases.api.deps import ReadDbDep, ServicesDep, require
from cases.api.routers.audit_log import CheckpointQuery, ProofsQuery, add_proofs
from cases.api.routing import Router
from cases.api.schemas.common import AwareDatetime
from cases.api.schemas.replay import ReplayStepOut
from cases.application.replay import Replayer
from cases.domain.billing_account import BillingAccount
from cases.domain.permissions import Permission
from cases.domain.support_case import SupportCase

router = Router(tags=["audit"])

Audits = Depends(require(Permission.READ_HISTORY))

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid bearer token"},
    403: {"description": "The role may not read histories"},
    404: {
        "description": "No such case or account, no such version, or nothing recorded "
        "yet at the moment"
    },
    422: {"description": "Invalid request; the problem lists the fields"},
    503: {"description": "The database is unavailable; retry after Retry-After"},
}

VersionQuery = Annotated[
    int | None, Query(ge=1, description="Stop after this version of the aggregate.")
]
AsOfQuery = Annotated[
    AwareDatetime | None,
    Query(
        description="Stop after the last event recorded at or before this moment "
        "(ISO 8601 with a UTC offset)."
    ),
]


@router.get(
    "/cases/{case_id}/replay",
    operation_id="replay_case",
    responses=PROBLEMS,
    dependencies=[Audits],
)
def replay_case(
    case_id: UUID,
    services: ServicesDep,
    db: ReadDbDep,
    version: VersionQuery = None,
    as_of: AsOfQuery = None,
    proofs: ProofsQuery = False,
    checkpoint: CheckpointQuery = None,
) -> list[ReplayStepOut]:
    """The case's events applied one at a time, each with what it changed; with
    `proofs=true`, each with its inclusion proof in a kept audit-log checkpoint."""
    steps = Replayer(services.runner).replay(SupportCase, case_id, version=version, as_of=as_of)
    answer = [ReplayStepOut.of(s) for s in steps]
    add_proofs(answer, db, services, case_id, proofs=proofs, checkpoint=checkpoint)
    return answer


@router.get(
    "/accounts/{account_id}/replay",
    operation_id="replay_account",
    responses=PROBLEMS,
    dependencies=[Audits],
)
def replay_account(
    account_id: UUID,
    services: ServicesDep,
    db: ReadDbDep,
    version: VersionQuery = None,
    as_of: AsOfQuery = None,
    proofs: ProofsQuery = False,
    checkpoint: CheckpointQuery = None,
) -> list[ReplayStepOut]:
    """The account's events applied one at a time, each with what it changed; with
    `proofs=true`, each with its inclusion proof in a kept audit-log checkpoint."""
    steps = Replayer(services.runner).replay(
        BillingAccount, account_id, version=version, as_of=as_of
    )
    answer = [ReplayStepOut.of(s) for s in steps]
    add_proofs(answer, db, services, account_id, proofs=proofs, checkpoint=checkpoint)
    return answer
