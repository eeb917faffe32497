"""Auditor replay of a case or an account: every recorded event with its metadata
and what it changed in the state, up to a version or as recorded at a moment.

For roles that may read histories (`read_history`); others get 403.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from cases.api.errors import documented_problems
from cases.api.history_proofs import proved
from cases.api.resource_routes import PROOF_PARAMS, add_audit_route
from cases.api.routing import Router
from cases.api.schemas.common import AwareDatetime
from cases.api.schemas.replay import ReplayStepOut
from cases.application.replay import Replayer
from cases.bootstrap import Services
from cases.domain.audited import AuditedAggregate
from cases.domain.billing_account import BillingAccount
from cases.domain.support_case import SupportCase
from cases.persistence.event_rows import LAST_POSITION

router = Router(tags=["audit"])

PROBLEMS = documented_problems(
    {
        403: "The role may not read histories",
        404: "No such case or account, no such version, or nothing recorded yet at the moment",
    }
)

LAST_VERSION = LAST_POSITION  # a version is stored as a signed 64-bit integer too
VersionQuery = Annotated[
    int | None,
    Query(ge=1, le=LAST_VERSION, description="Stop after this version of the aggregate."),
]
AsOfQuery = Annotated[
    AwareDatetime | None,
    Query(
        description="Stop after the last event recorded at or before this moment "
        "(ISO 8601 with a UTC offset)."
    ),
]


def add_replay_route(path: str, kind: type[AuditedAggregate], id_name: str) -> None:
    """GET `path`: the events of the aggregate `kind` (whose id is the path's `id_name`)
    applied one at a time, each with what it changed."""
    noun = id_name.removesuffix("_id")

    def replay(**kwargs: Any) -> list[ReplayStepOut]:
        services: Services = kwargs["services"]
        steps = Replayer(services.runner).replay(
            kind, kwargs[id_name], version=kwargs["version"], as_of=kwargs["as_of"]
        )
        return proved([ReplayStepOut.of(s) for s in steps], kwargs, id_name)

    add_audit_route(
        router,
        path,
        f"replay_{noun}",
        id_name,
        doc=f"The {noun}'s events applied one at a time, each with what it changed; with "
        "`proofs=true`, each with its inclusion proof in a kept audit-log checkpoint.",
        params={"version": (VersionQuery, None), "as_of": (AsOfQuery, None), **PROOF_PARAMS},
        returns=list[ReplayStepOut],
        run=replay,
        responses=PROBLEMS,
    )


add_replay_route("/cases/{case_id}/replay", SupportCase, "case_id")
add_replay_route("/accounts/{account_id}/replay", BillingAccount, "account_id")
