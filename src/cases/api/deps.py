"""Dependencies of the routes, as `Annotated` aliases so a route reads like English:
`def add_note(case_id: UUID, body: s.Note, command: WorkCommand, response: Response)`.

Every dependency here is `async def` and runs on the event loop: FastAPI hands a
plain `def` dependency to the thread pool and back, which cost a command about
nine such hops (ADR 0019). None of them blocks there; what needs the database is
sent to a thread explicitly: authenticating a token not seen in the last seconds,
opening a store the server has not reached yet, opening a read-model connection,
reading the log's head for `min_position`. A command's route takes one `Command`
(services, principal, caller and If-Match) instead of a chain of dependencies.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import Depends, Header, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cases.api.errors import ApiProblem
from cases.api.idempotency import STATE_KEY
from cases.api.read_pool import ReadPool
from cases.api.replica import ReplicaDatabase
from cases.api.state import ApiState
from cases.application.billing_office import BillingOffice
from cases.application.caller import Caller
from cases.application.principal_registry import (
    AuthenticatedPrincipal,
    AuthenticationError,
    PrincipalRegistry,
)
from cases.application.support_desk import SupportDesk
from cases.bootstrap import Services
from cases.clock import wait_until
from cases.db.database import ProjectionDatabase
from cases.domain.errors import NotFoundError
from cases.domain.metadata import Actor, Role, Source
from cases.domain.permissions import Permission, allows
from cases.persistence.store import StoreUnavailableError
from cases.projections.layout import least_positions

__all__ = ["ApiState"]  # re-exported: it lived here before cases.api.state

MAX_WAIT_SECONDS = 5.0


def state_of(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


async def api_state(request: Request) -> ApiState:
    return state_of(request)


ApiStateDep = Annotated[ApiState, Depends(api_state)]


async def services_of(api: ApiState) -> Services:
    """The services; while the store was never reached, one attempt to open it
    (in a thread, at most every half second), else StoreUnavailableError (503)."""
    services = api.opened
    if services is not None:
        return services
    if not api.should_try_now():
        raise StoreUnavailableError(api.unavailable)
    return await anyio.to_thread.run_sync(api.try_open)


async def _services(request: Request) -> Services:
    return await services_of(state_of(request))


ServicesDep = Annotated[Services, Depends(_services)]


async def _desk(services: ServicesDep) -> SupportDesk:
    return services.desk


async def _billing(services: ServicesDep) -> BillingOffice:
    return services.billing


async def _principals(services: ServicesDep) -> PrincipalRegistry:
    return services.principals


DeskDep = Annotated[SupportDesk, Depends(_desk)]
BillingDep = Annotated[BillingOffice, Depends(_billing)]
PrincipalsDep = Annotated[PrincipalRegistry, Depends(_principals)]


async def _read_db(request: Request) -> AsyncIterator[ProjectionDatabase]:
    """A read-model connection for the request: an idle one at once, a new one
    opened in a thread; one the database broke is dropped, with the idle ones."""
    reads = state_of(request).reads
    with reads.lent(await _taken(reads)) as db:
        yield db


async def _taken(reads: ReadPool) -> ProjectionDatabase:
    db = reads.take()
    if db is None:
        db = await anyio.to_thread.run_sync(reads.open_db)
    return db


ReadDbDep = Annotated[ProjectionDatabase, Depends(_read_db)]


async def _query_db(request: Request) -> AsyncIterator[ProjectionDatabase]:
    """A connection for a query or a report: to the replica when there is one and
    it answers (ADR 0064), else to the primary, as `_read_db`."""
    api = state_of(request)
    replica = api.replica
    if replica is not None and replica.usable():
        on_replica = replica.pool.take()
        if on_replica is None:
            on_replica = await anyio.to_thread.run_sync(replica.open)
        if on_replica is not None:
            with replica.lent(on_replica):
                yield on_replica
            return
    with api.reads.lent(await _taken(api.reads)) as db:
        yield db


QueryDbDep = Annotated[ProjectionDatabase, Depends(_query_db)]

bearer = HTTPBearer(auto_error=False, description="A token from `cases principals create`.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]


async def authenticate(request: Request, credentials: Credentials) -> AuthenticatedPrincipal:
    """The principal of the bearer token: from the app's cache on the event loop,
    else from the registry in a thread (which reads the store)."""
    if credentials is None:
        raise AuthenticationError("no bearer token")
    api = state_of(request)
    token = credentials.credentials
    principal = api.tokens.get(token)
    if principal is None:
        services = await services_of(api)
        principal = await anyio.to_thread.run_sync(services.principals.authenticate, token)
        api.tokens.put(token, principal)
    request.state.principal_id = str(principal.principal_id)
    request.state.role = principal.role.value
    return principal


PrincipalDep = Annotated[AuthenticatedPrincipal, Depends(authenticate)]


def _permit(principal: AuthenticatedPrincipal, permission: Permission) -> None:
    if not allows(principal.role, permission):
        raise ApiProblem(
            403,
            "forbidden",
            f"a {principal.role.value.replace('_', ' ')} may not "
            f"{permission.value.replace('_', ' ')}",
        )


def require(
    permission: Permission,
) -> Callable[..., Coroutine[Any, Any, AuthenticatedPrincipal]]:
    """A dependency that lets the request through only for roles with `permission`,
    which the OpenAPI document shows as the scope of the bearer token
    (`cases.api.operation_roles` names the roles from it)."""

    async def check(principal: PrincipalDep, _token: Credentials) -> AuthenticatedPrincipal:
        _permit(principal, permission)
        return principal

    # The scope rides on the bearer scheme itself (a header read), not on
    # `authenticate`: FastAPI caches a dependency per scope, and the route's own
    # PrincipalDep must share the one authentication.
    check.__annotations__["_token"] = _scoped(permission)
    return check


def caller_of(request: Request, principal: AuthenticatedPrincipal) -> Caller:
    return Caller(
        actor=Actor(str(principal.principal_id), principal.role),
        source=Source.API,
        correlation_id=request.state.correlation_id,
        causation_id=request.state.request_id,
        request=getattr(request.state, STATE_KEY, None),
    )


async def _caller(request: Request, principal: PrincipalDep) -> Caller:
    return caller_of(request, principal)


CallerDep = Annotated[Caller, Depends(_caller)]

_ETAG = re.compile(r'^(?:W/)?"?(\d{1,12})"?$')
IfMatch = Annotated[
    str | None,
    Header(
        description='The ETag (version) the change is based on, e.g. "7"; a stale one '
        "is refused with 412 and nothing is recorded."
    ),
]


def expected_version_of(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match.strip())
    if match is None:
        raise ApiProblem(422, "invalid-if-match", 'If-Match must be an ETag such as "7"')
    return int(match.group(1))


async def _expected_version(if_match: IfMatch = None) -> int | None:
    return expected_version_of(if_match)


ExpectedVersionDep = Annotated[int | None, Depends(_expected_version)]


@dataclass(frozen=True, slots=True)
class Command:
    """What a command's route needs, from one dependency: the services, the
    authenticated principal (allowed the route's permission), the caller the events
    are recorded for, and the version If-Match expects (None: any)."""

    services: Services
    principal: AuthenticatedPrincipal
    caller: Caller
    expected_version: int | None = None

    @property
    def desk(self) -> SupportDesk:
        return self.services.desk

    @property
    def billing(self) -> BillingOffice:
        return self.services.billing


@dataclass(frozen=True, slots=True)
class CommandNeeds:
    """What a command's dependency asks of a request: a principal with `permission`,
    and, if `versioned`, the If-Match header honoured."""

    permission: Permission
    versioned: bool


_COMMAND_NEEDS: dict[Callable[..., Any], CommandNeeds] = {}


def command_needs(dependency: Any) -> CommandNeeds | None:
    """What a `command_for` dependency (as annotated on a route) asks; None for any
    other annotation."""
    for meta in getattr(dependency, "__metadata__", ()):
        needs = _COMMAND_NEEDS.get(getattr(meta, "dependency", None))  # type: ignore[arg-type]
        if needs is not None:
            return needs
    return None


async def command_from(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
    needs: CommandNeeds,
    if_match: str | None,
) -> Command:
    """The `Command` of a request: its principal authenticated and allowed, its
    caller, and (if versioned) the version its If-Match expects."""
    principal = await authenticate(request, credentials)
    _permit(principal, needs.permission)
    expected = expected_version_of(if_match) if needs.versioned else None
    services = await services_of(state_of(request))
    return Command(services, principal, caller_of(request, principal), expected)


def command_for(permission: Permission, *, if_match: bool = True) -> Any:
    """`Depends` on a `Command` for a principal with `permission`; with `if_match`
    the route documents and honours an `If-Match` header. The permission is the
    bearer token's scope in the OpenAPI document, as with `require`."""
    needs = CommandNeeds(permission, if_match)

    async def unversioned(request: Request, credentials: Credentials) -> Command:
        return await command_from(request, credentials, needs, None)

    async def versioned(
        request: Request, credentials: Credentials, if_match: IfMatch = None
    ) -> Command:
        return await command_from(request, credentials, needs, if_match)

    endpoint = versioned if if_match else unversioned
    endpoint.__annotations__["credentials"] = _scoped(permission)
    _COMMAND_NEEDS[endpoint] = needs
    return Depends(endpoint)


def _scoped(permission: Permission) -> Any:
    """The bearer token, with `permission` as its scope in the OpenAPI document
    (given as an object: a string annotation is resolved in the module, without it)."""
    return Annotated[
        HTTPAuthorizationCredentials | None, Security(bearer, scopes=[permission.value])
    ]


def _log_head(services: Services) -> int:
    return services.log.head()


async def _min_position(
    request: Request,
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
        services = await services_of(state_of(request))
        head = await anyio.to_thread.run_sync(_log_head, services)
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
    """Return once every named projection has applied `position`, or 503. On a
    replica, once its copy has, or past its bound once the primary has: `db` is
    then turned to the primary for the rest of the request (ADR 0064)."""
    if position is None:
        return

    def applied() -> bool:  # every partition of a projection kept by partitions (ADR 90)
        least = least_positions(db, names)
        return all(least.get(name, -1) >= position for name in names)

    remaining = MAX_WAIT_SECONDS
    if isinstance(db, ReplicaDatabase) and not db.on_primary:
        if wait_until(applied, db.catch_up_seconds):
            return
        db.turn_to_primary()
        remaining -= db.catch_up_seconds
    if not wait_until(applied, remaining):
        raise ApiProblem(
            503,
            "projection-behind",
            f"the read models have not yet applied position {position}; retry shortly",
            {"Retry-After": "1"},
        )


def check_customer(principal: AuthenticatedPrincipal, customer_id: str, what: str) -> None:
    """A customer principal sees only its own customer's data: anything else is
    answered exactly as if it did not exist."""
    if principal.role is Role.CUSTOMER and principal.customer_id != customer_id:
        raise NotFoundError(what)
