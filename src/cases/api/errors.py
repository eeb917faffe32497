"""Every error as `application/problem+json` (RFC 9457), mapped in one place.

A domain rule's problem `type` is `/problems/<rule>`, stable for as long as the
rule exists; `GET /problems/<rule>` explains it. Validation problems list the
offending fields. A store that is down answers 503 with `Retry-After`. Any other
exception answers 500 `/problems/internal-error` and closes the connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message, Receive, Scope, Send

from cases import time_range
from cases.api.http_middleware import HttpMiddleware
from cases.api.routing import allowed_methods
from cases.application.idempotent_request import IdempotencyKeyReusedError
from cases.application.principal_registry import AuthenticationError
from cases.domain import errors
from cases.persistence.outcomes import OutcomeUnknownError
from cases.persistence.store import StoreUnavailableError
from cases.persistence.waits import timed_out

logger = structlog.get_logger("cases.api")

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = 5

STATUS_BY_ERROR: dict[type[errors.DomainError], int] = {
    errors.NotFoundError: 404,
    errors.InvalidValueError: 422,
    errors.InvalidMetadataError: 422,
    errors.CurrencyMismatchError: 422,
    errors.RoleBindingError: 422,
    errors.VersionMismatchError: 412,
    errors.AlreadyExistsError: 409,
    errors.ConcurrentChangeError: 409,
    IdempotencyKeyReusedError: 422,
    errors.CustomerCannotDateActsError: 403,
    errors.BackdatedBeyondAllowanceError: 422,
    errors.UnknownCustomerError: 422,
    errors.ContactNotOfCustomerError: 422,
}
STATE_RULE_STATUS = 409  # a rule about the current state: the request conflicts with it


UNAUTHENTICATED = "No valid bearer token"
ROLE_MAY_NOT = "The role may not do this"
RULE_REFUSES = "A business rule refuses the command; nothing was recorded"
STALE = "If-Match is stale; nothing was recorded"
INVALID_FIELDS = "Invalid request; the problem lists the fields"
UNAVAILABLE = "The database is unavailable; retry after Retry-After"


def documented_problems(
    described: Mapping[int, str], *, invalid: str = INVALID_FIELDS, unavailable: bool = True
) -> dict[int | str, dict[str, Any]]:
    """The problems a router's operations document, in the order of their status: no
    bearer token (401), the router's own (`described`), an invalid request (422) and,
    where the database is reached, its being unavailable (503)."""
    texts = {401: UNAUTHENTICATED, **described, 422: invalid}
    if unavailable:
        texts[503] = UNAVAILABLE
    return {status: {"description": text} for status, text in texts.items()}


def resource_problems(noun: str) -> dict[int | str, dict[str, Any]]:
    """The problems an event-sourced resource's operations document (`noun`: case,
    account): a role that may not, no such one, a rule that refuses, a stale If-Match."""
    return documented_problems(
        {
            403: ROLE_MAY_NOT,
            404: f"No such {noun} (or not visible to this principal)",
            409: RULE_REFUSES,
            412: STALE,
        }
    )


class ApiProblem(Exception):  # noqa: N818 - it is a problem, as in RFC 9457
    """An HTTP-level problem raised by the API itself (auth, headers, waits)."""

    def __init__(
        self,
        status: int,
        rule: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.rule = rule
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def invalid_request(field: str, message: str) -> ApiProblem:
    """A 422 `invalid-request` naming one field, shaped as validation errors are."""
    return ApiProblem(
        422,
        "invalid-request",
        f"{field}: {message}",
        errors=[{"field": field, "message": message, "type": "value_error"}],
    )


def status_of(error: errors.DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return STATE_RULE_STATUS


def problem(
    request: Request,
    status: int,
    rule: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"/problems/{rule}",
        "title": rule.replace("-", " ").capitalize(),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _field(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location)


def install_error_handlers(app: FastAPI) -> None:
    """Map every error the API can meet to a problem response."""

    @app.exception_handler(errors.DomainError)
    def domain_error(request: Request, error: errors.DomainError) -> JSONResponse:
        return problem(request, status_of(error), error.rule, error.message)

    @app.exception_handler(ApiProblem)
    def api_problem(request: Request, error: ApiProblem) -> JSONResponse:
        return problem(
            request, error.status, error.rule, error.detail, error.headers, **error.extra
        )

    @app.exception_handler(AuthenticationError)
    def unauthenticated(request: Request, _: AuthenticationError) -> JSONResponse:
        return problem(
            request,
            401,
            "unauthenticated",
            "a valid bearer token is required (Authorization: Bearer <token>)",
            {"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(RequestValidationError)
    def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": _field(e["loc"]), "message": e["msg"], "type": e["type"]}
            for e in error.errors()
        ]
        detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
        out_of_range = bool(fields) and all(f["type"] == time_range.RULE for f in fields)
        rule = time_range.RULE if out_of_range else "invalid-request"
        return problem(request, 422, rule, detail, errors=fields)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        rule = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "http-error")
        headers = dict(error.headers or {})
        if error.status_code == 405 and "Allow" in headers:  # from routing: name them all
            headers["Allow"] = allowed_methods(request)
        return problem(request, error.status_code, rule, str(error.detail), headers)

    @app.exception_handler(psycopg.DataError)
    def unstorable(request: Request, _: psycopg.DataError) -> JSONResponse:
        return problem(
            request,
            422,
            "invalid-request",
            "the request holds a value the database cannot store or compare",
        )

    def store_busy(request: Request, error: Exception) -> JSONResponse:
        logger.warning("store_wait_ran_out", error=type(error).__name__)
        return problem(
            request,
            503,
            "store-busy",
            "the database did not answer in time (a lock held by another transaction, or a "
            "slow statement); the statement was cancelled and nothing was recorded, try again",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    def store_down(request: Request, error: Exception) -> JSONResponse:
        if timed_out(error):  # cancelled and rolled back: not a lost connection (ADR 0034)
            return store_busy(request, error)
        logger.warning("store_unavailable", error=type(error).__name__)
        return problem(
            request,
            503,
            "store-unavailable",
            "the database is not reachable right now; nothing was recorded, try again",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(OutcomeUnknownError)
    def outcome_unknown(request: Request, error: OutcomeUnknownError) -> JSONResponse:
        logger.warning("write_outcome_unknown", error=type(error.__cause__).__name__)
        return problem(
            request,
            503,
            "outcome-unknown",
            "the database went away while the command was committing, so whether it was "
            "recorded is unknown; retrying with the same Idempotency-Key is safe (it is "
            "recorded once); without a key, read the log before retrying",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(Exception)
    def unexpected(request: Request, _: Exception) -> JSONResponse:
        """The last resort, for an exception outside AnswerUnexpectedErrors (Starlette
        answers with this, then raises the exception on to the server's log)."""
        return internal_error(request)

    for error_class in (
        PersistenceError,
        psycopg.OperationalError,
        psycopg.InterfaceError,
        sqlite3.OperationalError,
        StoreUnavailableError,
    ):
        app.add_exception_handler(error_class, store_down)


def explain_rule(rule: str) -> str | None:
    """The one-line docstring of the domain error with this rule, if any."""
    stack: list[type[errors.DomainError]] = [errors.DomainError]
    while stack:
        cls = stack.pop()
        if cls.rule == rule:
            return (cls.__doc__ or "").strip().replace("\n", " ")
        stack.extend(cls.__subclasses__())
    return None


# Unexpected exceptions ------------------------------------------------------

INTERNAL_ERROR = "internal-error"


def internal_error(request: Request) -> JSONResponse:
    """The answer to an exception no handler maps: a problem with the request id to
    quote, never the exception's text, and `Connection: close`, so the client opens
    a fresh connection rather than reuse one the server is about to drop."""
    request_id = getattr(request.state, "request_id", None)
    return problem(
        request,
        500,
        INTERNAL_ERROR,
        "the server failed to answer this request; quote the request id when you report it",
        {"Connection": "close"},
        request_id=request_id,
    )


class AnswerUnexpectedErrors(HttpMiddleware):
    """Turns an exception that escaped every handler into `internal_error`.

    It sits inside the request-context middleware (so the answer carries the
    request id and the access line its status) and around the idempotency
    middleware and everything under it. If part of an answer was sent already,
    only closing the connection can tell the client: the exception is raised on
    for the server to do that.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            logger.exception("unexpected_error", method=scope["method"], path=scope["path"])
            if started:
                raise
            await internal_error(Request(scope))(scope, receive, send)
