"""Who may use the system, in which role: principals and their bearer tokens.

Only a hash of a token is stored. A principal's id is derived from that hash,
so authenticating a presented token is one aggregate load, with no index.
"""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID

from cases.domain import errors
from cases.domain.audited import AuditedAggregate
from cases.domain.identity import derived_id
from cases.domain.metadata import CommandContext, Role
from cases.domain.text import optional_text, required_text

ASSIGNABLE_ROLES = frozenset(Role) - {Role.SYSTEM}


def token_hash(token: str) -> str:
    """SHA-256 of a token (tokens are 256-bit random, so no slow hash is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def principal_id_for(hashed_token: str) -> UUID:
    return derived_id("principal", hashed_token)


class Principal(AuditedAggregate):
    """A person or system allowed to call `cases`, with one role."""

    class Registered(AuditedAggregate.Created):
        name: str
        role: Role
        customer_id: str | None
        token_hash: str

    class Revoked(AuditedAggregate.Event):
        reason: str

        def apply(self, aggregate: Any) -> None:
            principal: Principal = aggregate
            principal.revoked = True

    def __init__(self, *, name: str, role: Role, customer_id: str | None, token_hash: str) -> None:
        self.name = name
        self.role = role
        self.customer_id = customer_id
        self.token_hash = token_hash
        self.revoked = False

    @classmethod
    def register(
        cls,
        ctx: CommandContext,
        *,
        name: str,
        role: Role,
        customer_id: str | None,
        hashed_token: str,
    ) -> Principal:
        customer_id = optional_text("customer id", customer_id, 100)
        if role not in ASSIGNABLE_ROLES:
            raise errors.RoleBindingError(f"the role {role.value} cannot be given to a principal")
        if role is Role.CUSTOMER and customer_id is None:
            raise errors.RoleBindingError("a customer principal must be bound to one customer")
        if role is not Role.CUSTOMER and customer_id is not None:
            raise errors.RoleBindingError(
                f"a {role.value.replace('_', ' ')} is staff and is bound to no customer"
            )
        return cls._start(
            cls.Registered,
            ctx,
            principal_id_for(hashed_token),
            name=required_text("name", name, 200),
            role=role,
            customer_id=customer_id,
            token_hash=hashed_token,
        )

    def revoke(self, ctx: CommandContext, reason: str) -> None:
        if self.revoked:
            raise errors.PrincipalRevokedError(f"principal {self.id} is already revoked")
        self._record(self.Revoked, ctx, reason=required_text("reason", reason, 500))
