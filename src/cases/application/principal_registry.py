"""Principals: who may call `cases`, with which role; bearer tokens as hashes only."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from uuid import UUID

from cases.application.caller import Caller
from cases.application.command_runner import CommandRunner, Receipt
from cases.application.directory import Directory
from cases.domain.errors import NotFoundError
from cases.domain.metadata import Role
from cases.domain.principal import Principal, principal_id_for, token_hash

TOKEN_PREFIX = "cases_"  # noqa: S105 - a public prefix, not a secret


class AuthenticationError(Exception):
    """Raised when a bearer token is missing, unknown or revoked (no detail why)."""


@dataclass(frozen=True, slots=True)
class IssuedPrincipal:
    """A new principal and its token: the only time the token is shown."""

    principal_id: UUID
    token: str
    receipt: Receipt


@dataclass(frozen=True, slots=True)
class AuthenticatedPrincipal:
    principal_id: UUID
    name: str
    role: Role
    customer_id: str | None


class PrincipalRegistry:
    """Creates, lists, revokes and authenticates principals.

    Authentications are cached for `cache_seconds` per token, so a request
    costs no load on the hot path; a revocation takes effect within that time
    in every process (at once in the revoking one).
    """

    def __init__(self, runner: CommandRunner, cache_seconds: float = 5.0) -> None:
        self.runner = runner
        self.directory = Directory(runner.log, "principal-directory")
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, AuthenticatedPrincipal]] = {}
        self._lock = threading.Lock()

    def create(
        self, caller: Caller, *, name: str, role: Role, customer_id: str | None = None
    ) -> IssuedPrincipal:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        hashed = token_hash(token)
        receipt = self.runner.create(
            Principal,
            caller,
            lambda ctx: Principal.register(
                ctx, name=name, role=role, customer_id=customer_id, hashed_token=hashed
            ),
            lambda principal, ctx: [
                self.directory.listing(principal.id, principal.role.value, ctx.recorded_at)
            ],
            memo=token,  # a retry of an idempotent request shows the same token again
        )
        return IssuedPrincipal(receipt.aggregate_id, receipt.memo or token, receipt)

    def revoke(
        self,
        caller: Caller,
        principal_id: UUID,
        reason: str,
        *,
        expected_version: int | None = None,
    ) -> Receipt:
        _, receipt = self.runner.change(
            Principal,
            principal_id,
            caller,
            lambda principal, ctx: principal.revoke(ctx, reason),
            expected_version,
        )
        with self._lock:
            self._cache.clear()
        return receipt

    def principal(self, principal_id: UUID) -> Principal:
        return self.runner.load(Principal, principal_id)

    def all(self) -> list[Principal]:
        return [self.principal(principal_id) for principal_id in self.directory.ids()]

    def count(self) -> int:
        return self.directory.count()

    def authenticate(self, token: str) -> AuthenticatedPrincipal:
        """The principal a bearer token belongs to, or AuthenticationError."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(token)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        if not token.startswith(TOKEN_PREFIX):
            raise AuthenticationError("not a cases token")
        try:
            principal = self.runner.load(Principal, principal_id_for(token_hash(token)))
        except NotFoundError:
            raise AuthenticationError("unknown token") from None
        if principal.revoked:
            raise AuthenticationError("revoked")
        found = AuthenticatedPrincipal(
            principal.id, principal.name, principal.role, principal.customer_id
        )
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[token] = (now, found)
        return found
