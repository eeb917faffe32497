"""Idempotency-Key on POST: a command runs once however often it is sent (ADR 0031).

A request is fingerprinted (method, path, query and the parsed JSON body, so a
re-serialised body is the same request) and its key is scoped to the caller's
credentials. Nothing is claimed before the request runs: each save the request
makes records its step in the transaction of its events (`CommandRunner`), so
a retry — after a crash between commit and answer, a lost connection at
commit, or concurrently with the first — finds the steps and answers from them
instead of recording again.

The answer is then kept under the key (at least 24 hours), and a retry gets it
back byte for byte, marked `Idempotent-Replayed: true`; the same key with a
different request is 422. A 5xx answer is not kept: the retry runs again and
meets whatever steps were recorded. Nor is an answer that is the receipt of the
request's one recorded step (a command route's, ADR 95): the retry is answered
from the step, with the same status, body, ETag and Location. A body the client
did not send in full (it disconnected) runs nothing and leaves nothing behind.

Where: the kept answer is looked up (with the steps, in one statement) and the
endpoint's answer kept on the endpoint's own thread, around it
(`cases.api.routing.around_endpoint`), not on thread hand-offs of their own (ADR
0031, amendment "kap"). A problem the endpoint raised is kept by the middleware
after it, on a hand-off. An answer given before any endpoint ran (a refused body
or token) is looked up afterwards, a kept answer winning over it: nothing keyed
ran for it, because every POST endpoint is wrapped (tests/unit/api/test_routing.py).
Where the key's step answers (ADR 95), that refusal is sent and not kept; a step
of another request under the key makes it a key reused.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from functools import partial

import anyio
import orjson
import structlog
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cases.api.read_pool import ReadPool
from cases.api.routing import around_endpoint
from cases.application.idempotent_request import IdempotentRequest
from cases.clock import Clock
from cases.db.database import CONNECTION_ERRORS, ProjectionDatabase, Row
from cases.db.statement import sql
from cases.persistence.idempotency_steps import RecordedStep, key_id, steps_from_rows
from cases.persistence.waits import timed_out

logger = structlog.get_logger("cases.api")

RETRY_AFTER_SECONDS = 5  # as errors.RETRY_AFTER_SECONDS
KEEP_FOR = timedelta(hours=24)
SWEEP_EVERY = 60.0  # seconds between two deletions of expired keys, per process
MAX_KEY_LENGTH = 255
STATE_KEY = "idempotency"  # where the request's IdempotentRequest is in scope["state"]


@dataclass(frozen=True, slots=True)
class StoredResponse:
    request_hash: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes


# The answer kept under (scope, key), not expired (kept since the third parameter).
_KEPT = sql("k.scope = {} AND k.key = {} AND k.status IS NOT NULL AND k.created_at >= {}")
_ANSWER_COLUMNS = sql("k.request_hash, k.status, k.headers, k.body")
_ANSWER_AND_STEPS = sql(
    "SELECT {columns}, s.step, s.request_hash, s.receipts, s.decided_at, s.memo "
    "FROM (SELECT 1 AS one) AS one LEFT JOIN idempotency_keys AS k ON {kept} "
    "LEFT JOIN idempotency_steps AS s ON s.key_id = {}",
    columns=_ANSWER_COLUMNS,
    kept=_KEPT,
)

_KEEP_ANSWER_TEXT = (
    "INSERT INTO idempotency_keys (scope, key, request_hash, status, headers, body, created_at) "
    "VALUES ({}, {}, {}, {}, {}, {}, {}) ON CONFLICT (scope, key) DO UPDATE SET "
    "request_hash = excluded.request_hash, status = excluded.status, "
    "headers = excluded.headers, body = excluded.body, created_at = excluded.created_at "
    "WHERE idempotency_keys.created_at < {}"
)
_KEEP_ANSWER = sql(_KEEP_ANSWER_TEXT)
# On PostgreSQL the answer commits without waiting for its flush (ADR 0031
# amendment): `set_config(..., true)` is `SET LOCAL` for the statement's own
# transaction. A crash may lose it; the retry then answers from the steps.
_KEEP_ANSWER_UNFLUSHED = sql(
    f"WITH kept AS ({_KEEP_ANSWER_TEXT} RETURNING 1) "
    "SELECT set_config('synchronous_commit', 'off', true)"
)


class IdempotencyStore:
    """The `idempotency_keys` table: the answers kept under keys."""

    def __init__(self, pool: ReadPool, clock: Clock) -> None:
        self.pool = pool
        self.clock = clock
        self._swept_at = float("-inf")

    def answer_and_steps(
        self, scope: str, key: str, request: IdempotentRequest
    ) -> tuple[StoredResponse | None, dict[str, RecordedStep]]:
        """The answer kept under the key, if any, and the steps its request
        recorded: one statement (a row per step, each with the answer)."""
        now = self.clock.now()
        with self.pool.connection() as db:
            self._sweep(db, now)  # answers are kept rarely now (ADR 95): sweep here too
            rows = db.fetchall(_ANSWER_AND_STEPS, (scope, key, now - KEEP_FOR, request.key_id))
        first = rows[0]  # the left joins give a row even when nothing is found
        stored = None if first[0] is None else _stored(first)
        return stored, steps_from_rows(row[4:] for row in rows if row[4] is not None)

    def keep(
        self,
        scope: str,
        key: str,
        *,
        request_hash: str,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        """Keep the first answer under the key (a twin's, kept first, stays); an
        expired answer under it is replaced. One statement, so one round trip,
        which on PostgreSQL does not wait for the disk."""
        now = self.clock.now()
        with self.pool.connection() as db:
            self._sweep(db, now)
            db.execute(
                _KEEP_ANSWER_UNFLUSHED if db.is_postgres else _KEEP_ANSWER,
                (scope, key, request_hash, status, json.dumps(headers), body, now, now - KEEP_FOR),
            )

    def _sweep(self, db: ProjectionDatabase, now: datetime) -> None:
        """Delete expired answers and steps, at most once a SWEEP_EVERY."""
        if time.monotonic() - self._swept_at < SWEEP_EVERY:
            return
        self._swept_at = time.monotonic()
        expired = now - KEEP_FOR
        db.execute(sql("DELETE FROM idempotency_keys WHERE created_at < {}"), (expired,))
        db.execute(sql("DELETE FROM idempotency_steps WHERE decided_at < {}"), (expired,))


def _stored(row: Row) -> StoredResponse:
    headers = [(str(k), str(v)) for k, v in json.loads(row[2])] if row[2] else []
    return StoredResponse(str(row[0]), int(row[1]), headers, bytes(row[3] or b""))


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


def _store_down(path: str, error: BaseException) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    if timed_out(error):
        return _problem(
            503,
            "store-busy",
            "the database took too long to answer; nothing was recorded, try again",
            path,
        )
    return _problem(
        503,
        "store-unavailable",
        "the database is not reachable right now; nothing was recorded, try again",
        path,
    )


REPLAYED_HEADERS = {"content-type", "etag", "location"}


def request_fingerprint(scope: Scope, body: bytes) -> str:
    """What makes two requests the same: method, path, query, and the body as
    parsed JSON (keys sorted, spacing gone) or, if it is not JSON, its bytes."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        canonical = b"raw:" + body
    return hashlib.sha256(
        scope["method"].encode()
        + b" "
        + scope["path"].encode()
        + b"?"
        + scope.get("query_string", b"")
        + b"\n"
        + canonical
    ).hexdigest()


class Stage(Enum):
    """How far a keyed request's answer got on its endpoint's thread."""

    NEW = "new"  # no endpoint ran: the middleware looks up and keeps
    LOOKED_UP = "looked-up"  # no answer was kept: the endpoint ran, and raised
    ANSWERED = "answered"  # replayed, refused, or kept: the middleware sends it


@dataclass(eq=False)
class KeyedRequest:
    """A keyed request's answer, looked up and kept around its endpoint, on the
    endpoint's thread (`cases.api.routing.around_endpoint`)."""

    store: IdempotencyStore
    owner: str
    key: str
    request: IdempotentRequest
    path: str
    stage: Stage = Stage.NEW

    def around(self, endpoint: Callable[[], Response]) -> Response:
        """The kept answer if there is one, else the endpoint's, kept (below 500)."""
        if self.stage is not Stage.NEW:  # only the request's first endpoint
            return endpoint()
        self.stage = Stage.LOOKED_UP
        try:
            stored, steps = self.store.answer_and_steps(self.owner, self.key, self.request)
        except CONNECTION_ERRORS as e:
            logger.warning("store_unavailable", error=type(e).__name__)
            self.stage = Stage.ANSWERED
            return _response(*_store_down(self.path, e))
        early = self.looked_up(stored, steps)
        if early is not None:
            self.stage = Stage.ANSWERED
            return _response(*early)
        response = endpoint()
        body = getattr(response, "body", None)
        if isinstance(body, bytes):
            self.stage = Stage.ANSWERED
            if _to_keep(response.status_code, self.request):
                self.keep(response.status_code, response.raw_headers, body)
        return response

    def looked_up(
        self, stored: StoredResponse | None, steps: dict[str, RecordedStep]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """What the lookup answers by itself: the kept answer, or a key reused (its
        steps are another request's); else None, the steps read for the request."""
        if stored is not None:
            return _retry_answer(stored, self.request.request_hash, self.path)
        self.request.steps_read(steps)
        return _key_reused(self.path) if self.request.others_recorded() else None

    def keep(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """Keep the answer under the key; failing to is harmless (the steps answer)."""
        kept = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in headers
            if k.decode("latin-1").lower() in REPLAYED_HEADERS
        ]
        try:
            self.store.keep(
                self.owner,
                self.key,
                request_hash=self.request.request_hash,
                status=status,
                headers=kept,
                body=body,
            )
        except CONNECTION_ERRORS as e:
            # What the request recorded is in its steps: a retry answers from them.
            logger.warning("idempotency_answer_not_kept", error=type(e).__name__)


def _response(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> Response:
    """A finished response sending exactly these headers (as `_send` does)."""
    response = Response(body, status_code=status)
    response.raw_headers = headers
    return response


def _to_keep(status: int, request: IdempotentRequest) -> bool:
    """Whether an answer is kept under its key. Not a server's failure (the retry
    runs again), and not an answer the request's one step gives again (ADR 95): a
    retry of that is answered from the step, as after a crash."""
    return status < 500 and not (200 <= status < 300 and request.answered_by_its_step)


def _key_reused(path: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return _problem(
        422,
        "idempotency-key-reused",
        "this Idempotency-Key was used for a different request",
        path,
    )


def _retry_answer(
    stored: StoredResponse, request_hash: str, path: str
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A retry's answer: the kept one, or the problem of a key reused."""
    if stored.request_hash != request_hash:
        return _key_reused(path)
    headers = [(k.encode(), v.encode()) for k, v in stored.headers]
    headers.append((b"idempotent-replayed", b"true"))
    return stored.status, headers, stored.body


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
        if body is None:  # the client went away mid-body: nothing to run, no one to answer
            logger.info("request_body_incomplete", path=scope["path"])
            return
        credentials = _raw_header(scope, b"authorization") or ""
        owner = hashlib.sha256(credentials.encode()).hexdigest()
        request = IdempotentRequest(key_id(owner, key), request_fingerprint(scope, body))
        scope.setdefault("state", {})[STATE_KEY] = request
        keyed = KeyedRequest(self.store, owner, key, request, scope["path"])
        await self._run(scope, send, body, keyed)

    async def _run(self, scope: Scope, send: Send, body: bytes, keyed: KeyedRequest) -> None:
        """Run the request, its answer looked up before its endpoint and kept
        after it (on the endpoint's thread), then answer: a retry sent once the
        client has the answer finds it kept. Were the answer lost (a crash after
        the commit), the retry finds the request's steps."""
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

        token = around_endpoint.set(keyed.around)
        try:
            await self.app(scope, replay_body, capture)
        finally:
            around_endpoint.reset(token)
        if start is None:
            return
        content = b"".join(chunks)
        status = int(start["status"])
        if keyed.stage is Stage.NEW:  # no endpoint ran, so nothing keyed: a kept answer wins
            try:
                stored, steps = await anyio.to_thread.run_sync(
                    self.store.answer_and_steps, keyed.owner, keyed.key, keyed.request
                )
            except CONNECTION_ERRORS as e:
                logger.warning("store_unavailable", error=type(e).__name__)
                await _send(send, *_store_down(scope["path"], e))
                return
            early = keyed.looked_up(stored, steps)
            if early is not None:
                await _send(send, *early)
                return
            if steps:  # its step answers the request (ADR 95): this refusal is not kept
                keyed.stage = Stage.ANSWERED
        if keyed.stage is not Stage.ANSWERED and status < 500:
            headers = start.get("headers", [])
            await anyio.to_thread.run_sync(partial(keyed.keep, status, headers, content))
        if keyed.request.replayed:
            start = {**start, "headers": [*start.get("headers", []), _REPLAYED]}
        await send(start)
        await send({"type": "http.response.body", "body": content, "more_body": False})


_REPLAYED = (b"idempotent-replayed", b"true")


def _raw_header(scope: Scope, name: bytes) -> str | None:
    for header, value in scope.get("headers", []):
        if header == name:
            return str(value.decode("latin-1"))
    return None


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None if the client disconnected before sending it all."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
