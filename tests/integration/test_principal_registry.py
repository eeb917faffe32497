"""Principals on every store: tokens shown once, stored as hashes, revocable."""

from __future__ import annotations

import pytest

from cases.application.principal_registry import AuthenticationError
from cases.bootstrap import Services
from cases.domain import errors
from cases.domain.metadata import Actor, Role
from cases.domain.principal import Principal
from tests.support.builders import caller

ADMIN = Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN)


def test_a_token_authenticates_its_principal(services: Services) -> None:
    issued = services.principals.create(
        caller(ADMIN), name="Contoso portal", role=Role.CUSTOMER, customer_id="contoso"
    )
    found = services.principals.authenticate(issued.token)
    assert (found.principal_id, found.role, found.customer_id) == (
        issued.principal_id,
        Role.CUSTOMER,
        "contoso",
    )


def test_only_a_hash_of_the_token_is_stored(services: Services) -> None:
    issued = services.principals.create(caller(ADMIN), name="Anna", role=Role.HELPDESK_AGENT)
    history = services.audit.history(Principal, issued.principal_id)
    stored = repr([h.details for h in history])
    assert issued.token not in stored
    assert len(history[0].details["token_hash"]) == 64


@pytest.mark.parametrize("token", ["", "cases_nope", "Bearer x", "not-a-token"])
def test_unknown_tokens_are_refused(services: Services, token: str) -> None:
    with pytest.raises(AuthenticationError):
        services.principals.authenticate(token)


def test_a_revoked_token_no_longer_authenticates(services: Services) -> None:
    issued = services.principals.create(caller(ADMIN), name="Bo", role=Role.HELPDESK_AGENT)
    services.principals.authenticate(issued.token)
    services.principals.revoke(caller(ADMIN), issued.principal_id, "left the company")
    with pytest.raises(AuthenticationError):
        services.principals.authenticate(issued.token)
    with pytest.raises(errors.PrincipalRevokedError):
        services.principals.revoke(caller(ADMIN), issued.principal_id, "again")


def test_principals_are_listed(services: Services) -> None:
    for name in ("A", "B", "C"):
        services.principals.create(caller(ADMIN), name=name, role=Role.AUDITOR)
    assert [p.name for p in services.principals.all()] == ["A", "B", "C"]


@pytest.mark.parametrize(
    ("role", "customer_id"),
    [(Role.CUSTOMER, None), (Role.HELPDESK_AGENT, "contoso"), (Role.SYSTEM, None)],
)
def test_roles_are_bound_correctly(services: Services, role: Role, customer_id: str | None) -> None:
    with pytest.raises(errors.RoleBindingError):
        services.principals.create(caller(ADMIN), name="X", role=role, customer_id=customer_id)
    assert services.principals.count() == 0
