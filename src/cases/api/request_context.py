"""Request and correlation ids on every request, and one JSON access-log line.

`X-Correlation-ID` from the caller is kept (or the request id is used), bound
into the log context, echoed in the response, and recorded on every event the
request causes. The access line carries ids, principal and status, never
bodies (they hold personal data).
"""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

import structlog
from starlette.types import Message, Receive, Scope, Send

from cases.api.http_middleware import AnswerWatch, HttpMiddleware

logger = structlog.get_logger("cases.access")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            text: str = value.decode("latin-1")
            return text if _SAFE_ID.match(text) else None
    return None


class RequestContextMiddleware(HttpMiddleware):
    """Binds ids for the request's lifetime and logs its outcome."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = _header(scope, b"x-request-id") or str(uuid4())
        correlation_id = _header(scope, b"x-correlation-id") or request_id
        state: dict[str, Any] = scope.setdefault("state", {})
        state.update(request_id=request_id, correlation_id=correlation_id)
        answer = AnswerWatch()

        async def send_with_ids(message: Message) -> None:
            if answer.starts(message):
                message.setdefault("headers", [])
                message["headers"] += [
                    (b"x-request-id", request_id.encode()),
                    (b"x-correlation-id", correlation_id.encode()),
                ]
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id, correlation_id=correlation_id)
        try:
            await self.app(scope, receive, send_with_ids)
        finally:
            logger.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=answer.status,
                duration_ms=round(answer.seconds() * 1000, 2),
                principal_id=state.get("principal_id"),
                role=state.get("role"),
            )
            structlog.contextvars.unbind_contextvars("request_id", "correlation_id")
