"""The support offering's terms and the collection policy: the version in force,
any published version, and publishing a new one.

Both are read by every role (customers are told them); a moment or version with
nothing published answers 404 under the domain rule's problem type.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Response

from cases.api.deps import BillingDep, CallerDep, DeskDep, ServicesDep, require
from cases.api.errors import ROLE_MAY_NOT, ApiProblem, documented_problems
from cases.api.routing import Router
from cases.api.schemas import terms as s
from cases.api.schemas.common import AwareDatetime
from cases.application.command_runner import Receipt
from cases.bootstrap import Services
from cases.domain.errors import NoCollectionPolicyError, NoTermsInForceError
from cases.domain.permissions import Permission

router = Router()
R = TypeVar("R")

ReadsTerms = Depends(require(Permission.READ_TERMS))

PROBLEMS = documented_problems(
    {
        403: ROLE_MAY_NOT,
        404: "Nothing published was in force then, or no such version",
        409: "A business rule refuses the publication; nothing was recorded",
    }
)

offering = Router(prefix="/support-offering/terms", tags=["support offering"], responses=PROBLEMS)
policy = Router(prefix="/collection-policy", tags=["collection"], responses=PROBLEMS)

Version = Annotated[int, Path(ge=1, le=1_000_000)]


def _found(read: Callable[[], R]) -> R:
    """Read a published version; none there answers 404 (a read finds nothing,
    where a command meeting the same rule conflicts with the state: 409)."""
    try:
        return read()
    except (NoTermsInForceError, NoCollectionPolicyError) as e:
        raise ApiProblem(404, e.rule, e.message) from None


def _in_force(read: Callable[[datetime], R], at: datetime | None, services: Services) -> R:
    """The version `read` finds in force at `at` (default now), or 404."""
    moment = at or services.clock.now()
    return _found(lambda: read(moment))


def _published(
    response: Response, version: int, receipt: Receipt, location: str
) -> s.PublicationResult:
    response.headers["Location"] = location
    response.headers["ETag"] = f'"{receipt.version}"'
    return s.PublicationResult(
        id=receipt.aggregate_id,
        version=receipt.version,
        position=receipt.position,
        published_version=version,
    )


# Support terms -----------------------------------------------------------------


@offering.get("", dependencies=[ReadsTerms])
def get_terms_in_force(
    desk: DeskDep, services: ServicesDep, at: AwareDatetime | None = None
) -> s.PublishedTermsOut:
    """The support terms in force now, or at a moment."""
    return s.PublishedTermsOut.of(_in_force(desk.terms_in_force, at, services))


@offering.get("/{version}", dependencies=[ReadsTerms])
def get_terms_version(version: Version, desk: DeskDep) -> s.PublishedTermsOut:
    """A published version of the support terms."""
    return s.PublishedTermsOut.of(_found(lambda: desk.offering().published_version(version)))


@offering.post(
    "",
    status_code=201,
    dependencies=[Depends(require(Permission.PUBLISH_TERMS))],
)
def publish_terms(
    body: s.PublishTerms, desk: DeskDep, caller: CallerDep, response: Response
) -> s.PublicationResult:
    """Publish a new version of the support terms. Cases already received keep the
    terms they were received under."""
    effective_from = body.effective_from
    if effective_from is None:  # now: the moment the publication is said to happen
        effective_from = desk.runner.clock.now()
        caller = caller.at(effective_from)
    version, receipt = desk.publish_terms(caller, body.domain_value(), effective_from)
    return _published(response, version, receipt, f"/support-offering/terms/{version}")


# Collection policy -------------------------------------------------------------


@policy.get("", dependencies=[ReadsTerms])
def get_collection_policy(
    billing: BillingDep, services: ServicesDep, at: AwareDatetime | None = None
) -> s.PublishedPolicyOut:
    """The collection policy in force now, or at a moment, with the text customers read."""
    return s.PublishedPolicyOut.of(_in_force(billing.policy_in_force, at, services))


@policy.get("/{version}", dependencies=[ReadsTerms])
def get_collection_policy_version(version: Version, billing: BillingDep) -> s.PublishedPolicyOut:
    """A published version of the collection policy."""
    return s.PublishedPolicyOut.of(
        _found(lambda: billing.collection_policy().published_version(version))
    )


@policy.post(
    "",
    status_code=201,
    dependencies=[Depends(require(Permission.PUBLISH_COLLECTION_POLICY))],
)
def publish_collection_policy(
    body: s.PublishPolicy, billing: BillingDep, caller: CallerDep, response: Response
) -> s.PublicationResult:
    """Publish a new version of the collection policy; its customer text is written
    from its stages."""
    version, receipt = billing.publish_collection_policy(
        caller, body.domain_value(), body.effective_from
    )
    return _published(response, version, receipt, f"/collection-policy/{version}")


for part in (offering, policy):
    router.include_router(part)
