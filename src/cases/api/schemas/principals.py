"""Shapes of the principals resource."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field

from cases.api.schemas.common import ReadOff, Strict, fields_of
from cases.application.principal_registry import IssuedPrincipal
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


class PrincipalOut(ReadOff):  # of a `Principal`
    id: UUID
    name: str
    role: Role
    customer_id: str | None
    revoked: bool
    version: int


class IssuedPrincipalOut(BaseModel):
    id: UUID
    name: str
    role: Role
    customer_id: str | None
    token: str = Field(description="Shown once: only its hash is stored.")
    version: int
    position: int

    @classmethod
    def of(cls, principal: Principal, issued: IssuedPrincipal) -> IssuedPrincipalOut:
        """The principal just created, with its token and where the command reached."""
        receipt = issued.receipt
        return fields_of(
            cls, principal, token=issued.token, version=receipt.version, position=receipt.position
        )
