"""One `Authorization` header, or the request is refused before anything runs.

RFC 9110 allows a header field to repeat only when its value is a list, and
`Authorization` is not one. Starlette reads the first of several, so a request
with two was served as the first token's principal while a proxy or a log may
have judged it by the other. It is refused with 400 problem+json, before an
Idempotency-Key is claimed (a corrected retry with the same key then runs).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from cases.api.errors import problem


class OneAuthorizationMiddleware:
    """Refuses a request that carries more than one `Authorization` header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            count = sum(1 for name, _ in scope["headers"] if name == b"authorization")
            if count > 1:
                response = problem(
                    Request(scope),
                    400,
                    "invalid-authorization",
                    f"send one Authorization header, not {count}",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
