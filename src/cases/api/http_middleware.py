"""The shape shared by the API's own ASGI middlewares: act on HTTP requests and
pass every other scope (lifespan, websocket) straight through untouched."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send


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


class AnswerWatch:
    """Watches one request's answer go out: its status (500 until an answer starts)
    and the time since the request came in."""

    def __init__(self) -> None:
        self.status = 500
        self.started = time.perf_counter()

    def starts(self, message: Message) -> bool:
        """True if `message` starts the answer, whose status is then noted."""
        if message["type"] != "http.response.start":
            return False
        self.status = message["status"]
        return True

    def seconds(self) -> float:
        return time.perf_counter() - self.started
