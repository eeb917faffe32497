"""The audit log for auditors: checkpoints and RFC 9162 proofs (issue 14, ADR 43).

`GET /audit-log/checkpoint` (the latest) and `/audit-log/checkpoints/{size}`
answer a kept checkpoint with its signed note; `/audit-log/inclusion` proves
one event's leaf in a kept checkpoint's tree, `/audit-log/cases/{id}/proofs`
and `/audit-log/accounts/{id}/proofs` every event of one case or account (its
history, checked without the rest of the log), `/audit-log/consistency` that a
later kept checkpoint extends an earlier one. Hashes, leaves and proofs are
standard base64. An auditor checks them with the verifier key alone
(docs/audit-log.md). For roles that may read histories (`read_history`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Query

from cases.api.deps import ReadDbDep, ServicesDep, require
from cases.api.errors import ApiProblem, invalid_request
from cases.api.routing import Router
from cases.api.schemas.audit_log import CheckpointOut, ConsistencyOut, InclusionOut, b64
from cases.api.schemas.common import RecordedEventOut
from cases.audit_log.proofs import (
    ProofUnavailableError,
    aggregate_inclusions,
    consistency,
    inclusion,
    kept_checkpoint,
    proved_events,
)
from cases.audit_log.tree_store import KeptCheckpoint, TreeStore
from cases.bootstrap import Services
from cases.db.database import ProjectionDatabase
from cases.domain.errors import NotFoundError
from cases.domain.permissions import Permission

router = Router(prefix="/audit-log", tags=["audit log"])

Audits = Depends(require(Permission.READ_HISTORY))

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid bearer token"},
    403: {"description": "The role may not read histories"},
    404: {"description": "No checkpoint kept at that size, or no such event in its tree"},
    422: {"description": "Invalid request; the problem lists the fields"},
    503: {"description": "The database is unavailable; retry after Retry-After"},
}


SizeQuery = Annotated[
    int | None,
    Query(ge=0, description="The size of a kept checkpoint (default: the latest)."),
]


def _kept(db: ReadDbDep, size: int | None) -> KeptCheckpoint:
    try:
        return kept_checkpoint(TreeStore(db), size)
    except ProofUnavailableError as e:
        raise NotFoundError(str(e)) from None


@router.get(
    "/checkpoint", operation_id="latest_checkpoint", responses=PROBLEMS, dependencies=[Audits]
)
def latest_checkpoint(db: ReadDbDep) -> CheckpointOut:
    """The latest checkpoint kept."""
    return CheckpointOut.of(_kept(db, None))


@router.get(
    "/checkpoints/{size}",
    operation_id="checkpoint_at_size",
    responses=PROBLEMS,
    dependencies=[Audits],
)
def checkpoint_at_size(size: int, db: ReadDbDep) -> CheckpointOut:
    """The checkpoint kept at a tree size."""
    if size < 0:
        raise ApiProblem(422, "invalid-request", "size: a tree size is not negative")
    return CheckpointOut.of(_kept(db, size))


@router.get("/inclusion", operation_id="inclusion_proof", responses=PROBLEMS, dependencies=[Audits])
def inclusion_proof(
    db: ReadDbDep,
    services: ServicesDep,
    position: Annotated[int, Query(ge=1, description="The event's position in the log.")],
    size: SizeQuery = None,
) -> InclusionOut:
    """The event at `position`: its leaf and inclusion proof in a kept checkpoint's tree."""
    try:
        return InclusionOut.of(inclusion(services.log, TreeStore(db), position, size))
    except ProofUnavailableError as e:
        raise NotFoundError(str(e)) from None


def proofs_by_version(
    db: ProjectionDatabase, services: Services, aggregate_id: UUID, size: int | None
) -> dict[int, InclusionOut]:
    """Each event of the aggregate in a kept checkpoint's tree (default: the latest),
    by its version: for the history and replay answers' `proofs=true` (a later event
    has none). No checkpoint kept at `size` is a 404."""
    try:
        found = proved_events(services.log, TreeStore(db), aggregate_id, size)
    except ProofUnavailableError as e:
        raise NotFoundError(str(e)) from None
    return {f.version: InclusionOut.of(f) for f in found}


ProofsQuery = Annotated[
    bool,
    Query(
        description="Add each event's leaf, leaf index and RFC 9162 inclusion proof in a "
        "kept checkpoint (`inclusion`), to check this history with the verifier key alone."
    ),
]
CheckpointQuery = Annotated[
    int | None,
    Query(
        ge=0,
        description="With `proofs=true`: the size of the kept checkpoint to prove against "
        "(default: the latest).",
    ),
]


def add_proofs(
    entries: Sequence[RecordedEventOut],
    db: ProjectionDatabase,
    services: Services,
    aggregate_id: UUID,
    *,
    proofs: bool,
    checkpoint: int | None,
) -> None:
    """With `proofs`, set each entry's `inclusion` in the kept checkpoint of size
    `checkpoint` (default: the latest); a checkpoint without proofs is refused."""
    if not proofs:
        if checkpoint is not None:
            raise invalid_request("checkpoint", "a checkpoint is named only with proofs=true")
        return
    found = proofs_by_version(db, services, aggregate_id, checkpoint)
    for entry in entries:
        entry.inclusion = found.get(entry.version)


def _history_proofs(
    db: ReadDbDep, services: ServicesDep, aggregate_id: UUID, size: int | None
) -> list[InclusionOut]:
    try:
        found = aggregate_inclusions(services.log, TreeStore(db), aggregate_id, size)
    except ProofUnavailableError as e:
        raise NotFoundError(str(e)) from None
    return [InclusionOut.of(f) for f in found]


@router.get(
    "/cases/{case_id}/proofs",
    operation_id="case_history_proofs",
    responses=PROBLEMS,
    dependencies=[Audits],
)
def case_history_proofs(
    case_id: UUID, db: ReadDbDep, services: ServicesDep, size: SizeQuery = None
) -> list[InclusionOut]:
    """Every event of the case in a kept checkpoint's tree: leaf, index and proof."""
    return _history_proofs(db, services, case_id, size)


@router.get(
    "/accounts/{account_id}/proofs",
    operation_id="account_history_proofs",
    responses=PROBLEMS,
    dependencies=[Audits],
)
def account_history_proofs(
    account_id: UUID, db: ReadDbDep, services: ServicesDep, size: SizeQuery = None
) -> list[InclusionOut]:
    """Every event of the account in a kept checkpoint's tree: leaf, index and proof."""
    return _history_proofs(db, services, account_id, size)


@router.get(
    "/consistency", operation_id="consistency_proof", responses=PROBLEMS, dependencies=[Audits]
)
def consistency_proof(
    db: ReadDbDep,
    old: Annotated[int, Query(ge=0, description="The size of the older kept checkpoint.")],
    new: Annotated[int, Query(ge=0, description="The size of the newer kept checkpoint.")],
) -> ConsistencyOut:
    """That the newer kept checkpoint's tree extends the older one's."""
    if old > new:
        raise ApiProblem(422, "invalid-request", f"old: {old} is larger than new ({new})")
    try:
        older, newer, proof = consistency(TreeStore(db), old, new)
    except ProofUnavailableError as e:
        raise NotFoundError(str(e)) from None
    return ConsistencyOut(
        old=CheckpointOut.of(older), new=CheckpointOut.of(newer), proof=[b64(h) for h in proof]
    )
