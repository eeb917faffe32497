"""Dependencies of the routes, as `Annotated` aliases so a route reads like English:
`def add_note(desk: DeskDep, caller: CallerDep, case_id: UUID, ...)`."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cases.api.errors import ApiProblem
from cases.api.idempotency import IdempotencyStore
from cases.api.read_pool import ReadPool
from cases.application.billing_office import BillingOffice
from cases.application.caller import Caller
from cases.application.principal_registry import (
    AuthenticatedPrincipal,
    AuthenticationError,
    PrincipalRegistry,
)
from cases.application.support_desk import SupportDesk
from cases.bootstrap import Services
from cases.domain.errors import NotFoundError
from cases.domain.metadata import Actor, Role, Source
from cases.domain.permissions import Permission, allows
from cases.projections.db import ProjectionDatabase
from cases.settings import Settings

MAX_WAIT_SECONDS = 5.0


@dataclass
class ApiState:
    """What the app holds for its lifetime (on `app.state.api`)."""

    settings: Settings
    services: Services
    reads: ReadPool
    idempotency: IdempotencyStore


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


ApiStateDep = Annotated[ApiState, Depends(api_state)]


def _services(api: ApiStateDep) -> Services:
    return api.services


ServicesDep = Annotated[Services, Depends(_services)]


def _desk(services: ServicesDep) -> SupportDesk:
    return services.desk


def _billing(services: ServicesDep) -> BillingOffice:
    return services.billing


def _principals(services: ServicesDep) -> PrincipalRegistry:
    return services.principals


DeskDep = Annotated[SupportDesk, Depends(_desk)]
BillingDep = Annotated[BillingOffice, Depends(_billing)]
PrincipalsDep = Annotated[PrincipalRegistry, Depends(_principals)]


def _read_db(api: ApiStateDep) -> Iterator[ProjectionDatabase]:
    with api.reads.connection() as db:
        yield db


ReadDbDep = Annotated[ProjectionDatabase, Depends(_read_db)]

_bearer = HTTPBearer(auto_error=False, description="A token from `cases principals create`.")


def _current_principal(
    request: Request,
    principals: PrincipalsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> AuthenticatedPrincipal:
    if credentials is None:
        raise AuthenticationError("no bearer token")
    principal = principals.authenticate(credentials.credentials)
    request.state.principal_id = str(principal.principal_id)
    request.state.role = principal.role.value
    return principal


PrincipalDep = Annotated[AuthenticatedPrincipal, Depends(_current_principal)]


def require(permission: Permission) -> Callable[[AuthenticatedPrincipal], AuthenticatedPrincipal]:
    """A dependency that lets the request through only for roles with `permission`."""

    def check(principal: PrincipalDep) -> AuthenticatedPrincipal:
        if not allows(principal.role, permission):
            raise ApiProblem(
                403,
                "forbidden",
                f"a {principal.role.value.replace('_', ' ')} may not "
                f"{permission.value.replace('_', ' ')}",
            )
        return principal

    return check


def _caller(request: Request, principal: PrincipalDep) -> Caller:
    return Caller(
        actor=Actor(str(principal.principal_id), principal.role),
        source=Source.API,
        correlation_id=request.state.correlation_id,
        causation_id=request.state.request_id,
    )


CallerDep = Annotated[Caller, Depends(_caller)]

_ETAG = re.compile(r'^(?:W/)?"?(\d{1,12})"?$')


def _expected_version(
    if_match: Annotated[
        str | None,
        Header(
            description='The ETag (version) the change is based on, e.g. "7"; a stale one '
            "is refused with 412 and nothing is recorded."
        ),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match.strip())
    if match is None:
        raise ApiProblem(422, "invalid-if-match", 'If-Match must be an ETag such as "7"')
    return int(match.group(1))


ExpectedVersionDep = Annotated[int | None, Depends(_expected_version)]


def _min_position(
    api: ApiStateDep,
    min_position: Annotated[
        int | None,
        Query(
            ge=0,
            description="Wait (up to 5 s) until the read models have applied this log "
            "position, as returned by a command (read your writes).",
        ),
    ] = None,
) -> int | None:
    if min_position is not None:
        head = api.services.log.recorder.max_notification_id() or 0
        if min_position > head:
            raise ApiProblem(
                422,
                "position-not-recorded",
                f"min_position {min_position} is past the end of the log ({head}): "
                "use the position a command returned",
            )
    return min_position


MinPositionDep = Annotated[int | None, Depends(_min_position)]


def wait_for_projections(
    db: ProjectionDatabase, names: tuple[str, ...], position: int | None
) -> None:
    """Return once every named projection has applied `position`, or 503."""
    if position is None:
        return
    deadline = time.monotonic() + MAX_WAIT_SECONDS
    marks = ",".join("?" * len(names))
    while True:
        row = db.fetchone(
            "SELECT MIN(position), COUNT(*) FROM projection_tracking "  # noqa: S608 - placeholders
            f"WHERE projection IN ({marks})",
            names,
        )
        if row is not None and int(row[1]) == len(names) and int(row[0]) >= position:
            return
        if time.monotonic() >= deadline:
            raise ApiProblem(
                503,
                "projection-behind",
                f"the read models have not yet applied position {position}; retry shortly",
                {"Retry-After": "1"},
            )
        time.sleep(0.02)


def check_customer(principal: AuthenticatedPrincipal, customer_id: str, what: str) -> None:
    """A customer principal sees only its own customer's data: anything else is
    answered exactly as if it did not exist."""
    if principal.role is Role.CUSTOMER and principal.customer_id != customer_id:
        raise NotFoundError(what)
