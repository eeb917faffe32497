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

from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Query

from cases.api.deps import ReadDbDep, ServicesDep, require
from cases.api.errors import ApiProblem, documented_problems
from cases.api.resource_routes import NONE, add_audit_route
from cases.api.routing import Router
from cases.api.schemas.audit_log import CheckpointOut, ConsistencyOut, InclusionOut, b64
from cases.audit_log.proofs import (
    ProofUnavailableError,
    aggregate_inclusions,
    consistency,
    inclusion,
    kept_checkpoint,
)
from cases.audit_log.tree_store import KeptCheckpoint, TreeStore
from cases.domain.errors import NotFoundError
from cases.domain.permissions import Permission
from cases.persistence.event_rows import LAST_POSITION

Audits = Depends(require(Permission.READ_HISTORY))

PROBLEMS = documented_problems(
    {
        403: "The role may not read histories",
        404: "No checkpoint kept at that size, or no such event in its tree",
    }
)

router = Router(prefix="/audit-log", tags=["audit log"], responses=PROBLEMS)


SizeQuery = Annotated[
    int | None,
    Query(
        ge=0, le=LAST_POSITION, description="The size of a kept checkpoint (default: the latest)."
    ),
]


def _kept(db: ReadDbDep, size: int | None) -> KeptCheckpoint:
    try:
        return kept_checkpoint(TreeStore(db), size)
    except ProofUnavailableError as e:
        raise NotFoundError(str(e)) from None


@router.get("/checkpoint", dependencies=[Audits])
def latest_checkpoint(db: ReadDbDep) -> CheckpointOut:
    """The latest checkpoint kept."""
    return CheckpointOut.of(_kept(db, None))


@router.get("/checkpoints/{size}", dependencies=[Audits])
def checkpoint_at_size(size: int, db: ReadDbDep) -> CheckpointOut:
    """The checkpoint kept at a tree size."""
    if not 0 <= size <= LAST_POSITION:
        raise ApiProblem(422, "invalid-request", f"size: a tree size is from 0 to {LAST_POSITION}")
    return CheckpointOut.of(_kept(db, size))


@router.get("/inclusion", dependencies=[Audits])
def inclusion_proof(
    db: ReadDbDep,
    services: ServicesDep,
    position: Annotated[
        int, Query(ge=1, le=LAST_POSITION, description="The event's position in the log.")
    ],
    size: SizeQuery = None,
) -> InclusionOut:
    """The event at `position`: its leaf and inclusion proof in a kept checkpoint's tree."""
    try:
        return InclusionOut.of(inclusion(services.log, TreeStore(db), position, size))
    except ProofUnavailableError as e:
        raise NotFoundError(str(e)) from None


def _history_proofs(
    db: ReadDbDep, services: ServicesDep, aggregate_id: UUID, size: int | None
) -> list[InclusionOut]:
    try:
        found = aggregate_inclusions(services.log, TreeStore(db), aggregate_id, size)
    except ProofUnavailableError as e:
        raise NotFoundError(str(e)) from None
    return [InclusionOut.of(f) for f in found]


def _add_history_proofs_route(noun: str) -> None:
    """GET `/{noun}s/{id}/proofs`: every event of the aggregate in a kept checkpoint's tree."""
    id_name = f"{noun}_id"

    def proofs(**kwargs: Any) -> list[InclusionOut]:
        return _history_proofs(kwargs["db"], kwargs["services"], kwargs[id_name], kwargs["size"])

    add_audit_route(
        router,
        f"/{noun}s/{{{id_name}}}/proofs",
        f"{noun}_history_proofs",
        id_name,
        doc=f"Every event of the {noun} in a kept checkpoint's tree: leaf, index and proof.",
        params={"db": (ReadDbDep, NONE), "size": (SizeQuery, None)},
        returns=list[InclusionOut],
        run=proofs,
        responses=PROBLEMS,
    )


_add_history_proofs_route("case")
_add_history_proofs_route("account")


@router.get("/consistency", dependencies=[Audits])
def consistency_proof(
    db: ReadDbDep,
    old: Annotated[
        int, Query(ge=0, le=LAST_POSITION, description="The size of the older kept checkpoint.")
    ],
    new: Annotated[
        int, Query(ge=0, le=LAST_POSITION, description="The size of the newer kept checkpoint.")
    ],
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
