"""Idempotency-Key on POST: a retry replays the first response, records nothing.

Keys are scoped to the caller's credentials, stored with a hash of the request
(method, path, body) and the response, and kept at least 24 hours (in the
database, so a restart keeps them). The same key with a different request is
422; while the first request is still running, 409. A response of 5xx is not
kept, so the client may retry. A key left in flight by a crashed process is
taken over after `STALE_AFTER`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cases.api.read_pool import ReadPool
from cases.application.clock import Clock
from cases.projections.db import CONNECTION_ERRORS

logger = structlog.get_logger("cases.api")

RETRY_AFTER_SECONDS = 5  # as errors.RETRY_AFTER_SECONDS
KEEP_FOR = timedelta(hours=24)
STALE_AFTER = timedelta(seconds=60)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class StoredResponse:
    request_hash: str
    status: int | None
    headers: list[tuple[str, str]]
    body: bytes
    created_at: datetime


class IdempotencyStore:
    """The `idempotency_keys` table."""

    def __init__(self, pool: ReadPool, clock: Clock) -> None:
        self.pool = pool
        self.clock = clock

    def begin(self, scope: str, key: str, request_hash: str) -> StoredResponse | None:
        """Claim the key (None), or return what is stored under it."""
        now = self.clock.now()
        with self.pool.connection() as db, db.transaction():
            db.execute(
                "DELETE FROM idempotency_keys WHERE created_at < ? "
                "OR (status IS NULL AND created_at < ? AND scope = ? AND key = ?)",
                (now - KEEP_FOR, now - STALE_AFTER, scope, key),
            )
            claimed = db.execute(
                "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (scope, key) DO NOTHING",
                (scope, key, request_hash, now),
            )
            if claimed:
                return None
            row = db.fetchone(
                "SELECT request_hash, status, headers, body, created_at FROM idempotency_keys "
                "WHERE scope = ? AND key = ?",
                (scope, key),
            )
        if row is None:  # expired between the two statements: claim again
            return self.begin(scope, key, request_hash)
        headers = [tuple(h) for h in json.loads(row[2])] if row[2] else []
        return StoredResponse(
            str(row[0]),
            None if row[1] is None else int(row[1]),
            headers,
            bytes(row[3] or b""),
            row[4],
        )

    def finish(
        self, scope: str, key: str, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> None:
        with self.pool.connection() as db, db.transaction():
            db.execute(
                "UPDATE idempotency_keys SET status = ?, headers = ?, body = ? "
                "WHERE scope = ? AND key = ?",
                (status, json.dumps(headers), body, scope, key),
            )

    def forget(self, scope: str, key: str) -> None:
        with self.pool.connection() as db, db.transaction():
            db.execute("DELETE FROM idempotency_keys WHERE scope = ? AND key = ?", (scope, key))


def _problem(
    status: int, rule: str, detail: str, path: str
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = json.dumps(
        {
            "type": f"/problems/{rule}",
            "title": rule.replace("-", " ").capitalize(),
            "status": status,
            "detail": detail,
            "instance": path,
        }
    ).encode()
    headers = [(b"content-type", b"application/problem+json")]
    if status == 503:
        headers.append((b"retry-after", str(RETRY_AFTER_SECONDS).encode()))
    return status, headers, body


def _store_down(path: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return _problem(
        503,
        "store-unavailable",
        "the database is not reachable right now; nothing was recorded, try again",
        path,
    )


REPLAYED_HEADERS = {"content-type", "etag", "location"}


class IdempotencyMiddleware:
    """Applies idempotency keys to POST requests that carry one."""

    def __init__(self, app: ASGIApp, store: Callable[[], IdempotencyStore]) -> None:
        self.app = app
        self._store = store

    @property
    def store(self) -> IdempotencyStore:
        return self._store()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _raw_header(scope, b"idempotency-key")
        if scope["type"] != "http" or scope["method"] != "POST" or key is None:
            await self.app(scope, receive, send)
            return
        if not 0 < len(key) <= MAX_KEY_LENGTH:
            await _send(
                send,
                *_problem(
                    422,
                    "invalid-idempotency-key",
                    f"an Idempotency-Key is 1 to {MAX_KEY_LENGTH} characters",
                    scope["path"],
                ),
            )
            return
        body = await _read_body(receive)
        credentials = _raw_header(scope, b"authorization") or ""
        owner = hashlib.sha256(credentials.encode()).hexdigest()
        request_hash = hashlib.sha256(
            scope["method"].encode()
            + b" "
            + scope["path"].encode()
            + b"?"
            + scope.get("query_string", b"")
            + b"\n"
            + body
        ).hexdigest()
        try:
            stored = await anyio.to_thread.run_sync(self.store.begin, owner, key, request_hash)
        except CONNECTION_ERRORS as e:
            logger.warning("store_unavailable", error=type(e).__name__)
            await _send(send, *_store_down(scope["path"]))
            return
        if stored is not None:
            await self._answer_retry(scope, send, stored, request_hash)
            return
        await self._run_first(scope, send, body, owner, key)

    async def _answer_retry(
        self, scope: Scope, send: Send, stored: StoredResponse, request_hash: str
    ) -> None:
        path = scope["path"]
        if stored.request_hash != request_hash:
            await _send(
                send,
                *_problem(
                    422,
                    "idempotency-key-reused",
                    "this Idempotency-Key was used for a different request",
                    path,
                ),
            )
        elif stored.status is None:
            await _send(
                send,
                *_problem(
                    409,
                    "idempotency-key-in-flight",
                    "the first request with this Idempotency-Key is still running; retry later",
                    path,
                ),
            )
        else:
            headers = [(k.encode(), v.encode()) for k, v in stored.headers]
            headers.append((b"idempotent-replayed", b"true"))
            await _send(send, stored.status, headers, stored.body)

    async def _run_first(self, scope: Scope, send: Send, body: bytes, owner: str, key: str) -> None:
        """Run the request, keep its response under the key, then answer: a retry
        sent once the client has the answer always finds it kept (answering first
        let a quick retry, maybe on another worker, see the key still in flight)."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def replay_body() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            else:
                await send(message)

        try:
            await self.app(scope, replay_body, capture)
        except BaseException:
            await self._settle(self.store.forget, owner, key)
            raise
        content = b"".join(chunks)
        status = 500 if start is None else int(start["status"])
        if status >= 500:
            await self._settle(self.store.forget, owner, key)
        else:
            headers = [
                (k.decode("latin-1"), v.decode("latin-1"))
                for k, v in (start or {}).get("headers", [])
                if k.decode("latin-1").lower() in REPLAYED_HEADERS
            ]
            await self._settle(self.store.finish, owner, key, status, headers, content)
        if start is not None:
            await send(start)
            await send({"type": "http.response.body", "body": content, "more_body": False})

    async def _settle(self, step: Callable[..., None], *args: object) -> None:
        """Finish or forget the key; if the database went away meanwhile, the key
        stays in flight until STALE_AFTER (retries answer 409), and the answer is
        still sent (what the request recorded stays recorded)."""
        try:
            await anyio.to_thread.run_sync(step, *args)
        except CONNECTION_ERRORS as e:
            logger.warning("idempotency_key_left_in_flight", error=type(e).__name__)


def _raw_header(scope: Scope, name: bytes) -> str | None:
    for header, value in scope.get("headers", []):
        if header == name:
            return str(value.decode("latin-1"))
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
