"""The shape shared by the API's own ASGI middlewares: act on HTTP requests and
pass every other scope (lifespan, websocket) straight through untouched."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class HttpMiddleware:
    """Passes non-HTTP scopes to the wrapped app; subclasses handle HTTP ones."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serves one HTTP request, usually by calling `self.app` around it."""
        raise NotImplementedError
