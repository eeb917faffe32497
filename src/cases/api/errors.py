"""Every error as `application/problem+json` (RFC 9457), mapped in one place.

A domain rule's problem `type` is `/problems/<rule>`, stable for as long as the
rule exists; `GET /problems/<rule>` explains it. Validation problems list the
offending fields. A store that is down answers 503 with `Retry-After`.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cases.application.principal_registry import AuthenticationError
from cases.domain import errors
from cases.persistence.store import StoreUnavailableError

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
    errors.CustomerCannotDateActsError: 403,
    errors.BackdatedBeyondAllowanceError: 422,
}
STATE_RULE_STATUS = 409  # a rule about the current state: the request conflicts with it


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
        return problem(request, 422, "invalid-request", detail, errors=fields)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        rule = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "http-error")
        return problem(
            request, error.status_code, rule, str(error.detail), dict(error.headers or {})
        )

    @app.exception_handler(psycopg.DataError)
    def unstorable(request: Request, _: psycopg.DataError) -> JSONResponse:
        return problem(
            request,
            422,
            "invalid-request",
            "the request holds a value the database cannot store or compare",
        )

    def store_down(request: Request, error: Exception) -> JSONResponse:
        logger.warning("store_unavailable", error=type(error).__name__)
        return problem(
            request,
            503,
            "store-unavailable",
            "the database is not reachable right now; nothing was recorded, try again",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

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
