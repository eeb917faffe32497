"""Shapes of the principals resource."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field

from cases.api.schemas.common import Strict
from cases.domain.metadata import Role
from cases.domain.principal import Principal


class CreatePrincipal(Strict):
    name: str = Field(min_length=1, max_length=200)
    role: Role
    customer_id: str | None = Field(
        default=None, min_length=1, max_length=100, description="Only for the customer role."
    )


class RevokePrincipal(Strict):
    reason: str = Field(min_length=1, max_length=500)


class PrincipalOut(BaseModel):
    id: UUID
    name: str
    role: Role
    customer_id: str | None
    revoked: bool
    version: int

    @classmethod
    def of(cls, principal: Principal) -> PrincipalOut:
        return cls(
            id=principal.id,
            name=principal.name,
            role=principal.role,
            customer_id=principal.customer_id,
            revoked=principal.revoked,
            version=principal.version,
        )


class IssuedPrincipalOut(BaseModel):
    id: UUID
    name: str
    role: Role
    customer_id: str | None
    token: str = Field(description="Shown once: only its hash is stored.")
    version: int
    position: int
