"""Inclusion proofs beside a history or replay answer (`proofs=true`, issue 14).

Each recorded event of one aggregate gets its leaf, leaf index and RFC 9162
inclusion proof in a kept checkpoint's tree, so an auditor checks the history
with the verifier key alone (docs/audit-log.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Query

from cases.api.errors import invalid_request
from cases.api.schemas.audit_log import InclusionOut
from cases.api.schemas.common import RecordedEventOut
from cases.audit_log.proofs import ProofUnavailableError, proved_events
from cases.audit_log.tree_store import TreeStore
from cases.bootstrap import Services
from cases.db.database import ProjectionDatabase
from cases.domain.errors import NotFoundError
from cases.persistence.event_rows import LAST_POSITION


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
        le=LAST_POSITION,
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


E = TypeVar("E", bound=RecordedEventOut)


def proved(entries: list[E], route: dict[str, Any], id_name: str) -> list[E]:
    """`entries` of the aggregate named by the route's `id_name`, with their proofs
    when the route's `proofs` asks (its `db`, `services`, `proofs`, `checkpoint`
    parameters: `resource_routes.PROOF_PARAMS`)."""
    add_proofs(
        entries,
        route["db"],
        route["services"],
        route[id_name],
        proofs=route["proofs"],
        checkpoint=route["checkpoint"],
    )
    return entries
