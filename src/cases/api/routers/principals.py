"""Principals: create (the token is shown once), list, read one, revoke, and who am I."""

from __future__ import annotations

from uuid import UUID

from fastapi import Depends, Response

from cases.api.deps import (
    ApiStateDep,
    CallerDep,
    ExpectedVersionDep,
    PrincipalDep,
    PrincipalsDep,
    require,
)
from cases.api.errors import documented_problems
from cases.api.routing import Router
from cases.api.schemas.common import CommandResult
from cases.api.schemas.principals import (
    CreatePrincipal,
    IssuedPrincipalOut,
    PrincipalOut,
    RevokePrincipal,
)
from cases.domain.permissions import Permission

Manages = Depends(require(Permission.MANAGE_PRINCIPALS))
PROBLEMS = documented_problems(
    {
        403: "Only a user management admin manages principals",
        404: "No such principal",
        409: "Already revoked",
        412: "If-Match is stale",
    },
    invalid="Invalid request",
    unavailable=False,
)

router = Router(prefix="/principals", tags=["principals"], responses=PROBLEMS)


@router.post("", status_code=201, dependencies=[Manages])
def create_principal(
    body: CreatePrincipal, principals: PrincipalsDep, caller: CallerDep, response: Response
) -> IssuedPrincipalOut:
    """Create a principal; its bearer token is in this response and nowhere else."""
    issued = principals.create(caller, name=body.name, role=body.role, customer_id=body.customer_id)
    response.headers["Location"] = f"/principals/{issued.principal_id}"
    response.headers["Cache-Control"] = "no-store"
    principal = principals.principal(issued.principal_id)
    return IssuedPrincipalOut.of(principal, issued)


@router.get("", dependencies=[Manages])
def list_principals(principals: PrincipalsDep) -> list[PrincipalOut]:
    """Every principal, in the order created (tokens are never shown again)."""
    return [PrincipalOut.of(p) for p in principals.all()]


@router.get("/me")
def who_am_i(principal: PrincipalDep, principals: PrincipalsDep) -> PrincipalOut:
    """The principal the bearer token belongs to."""
    return PrincipalOut.of(principals.principal(principal.principal_id))


@router.get("/{principal_id}", dependencies=[Manages])
def get_principal(
    principal_id: UUID, principals: PrincipalsDep, response: Response
) -> PrincipalOut:
    """One principal (where `POST /principals` points); its ETag is its version."""
    principal = principals.principal(principal_id)
    response.headers["ETag"] = f'"{principal.version}"'
    return PrincipalOut.of(principal)


@router.post("/{principal_id}/revoke", dependencies=[Manages])
def revoke_principal(
    principal_id: UUID,
    body: RevokePrincipal,
    principals: PrincipalsDep,
    caller: CallerDep,
    expected_version: ExpectedVersionDep,
    api: ApiStateDep,
    response: Response,
) -> CommandResult:
    """Revoke a principal: its token stops working (within seconds in other processes)."""
    receipt = principals.revoke(
        caller, principal_id, body.reason, expected_version=expected_version
    )
    api.tokens.clear()  # at once in this process, as the registry's own cache
    response.headers["ETag"] = f'"{receipt.version}"'
    return CommandResult.of(receipt)
