"""Routers whose plain-`def` endpoints serialize their answer on their own thread.

FastAPI runs a `def` endpoint in the thread pool and then, for a `def` endpoint
only, hands the returned model back to the thread pool a second time to validate
it against the response model, before serializing it on the event loop. Each
hand-off wakes a worker thread and then the event loop again. Under load that was
as much CPU as the command's own decision, and it is a queue to wait in besides
(ADR 0029).

`Router.add_api_route` wraps each such endpoint so that the same validation and
the same JSON serialization (the response model's, by alias) happen at the end
of the endpoint, on the thread it already runs on. The endpoint then returns a
finished `Response`, which FastAPI sends as it is. Status code and headers are
taken as FastAPI takes them: from the `Response` the endpoint (or a dependency)
was given, else from the route's `status_code`. The OpenAPI document is
unchanged: FastAPI still reads the response model from the route or from the
endpoint's return annotation.

A request may name, in `around_endpoint`, what to do around its endpoint on that
same thread: a keyed command looks up and keeps its answer there (ADR 0031,
amendment "kap"), not on hand-offs of its own.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, get_type_hints

from fastapi import APIRouter, Request, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.exceptions import ResponseValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.routing import Match

_SUB_RESPONSE = "_sub_response"  # the parameter added where an endpoint has none
_WRAPPED = "__cases_serialized_in_thread__"

AroundEndpoint = Callable[[Callable[[], Response]], Response]
# What runs the request's endpoint, on the endpoint's thread, if not the endpoint
# alone: set by a middleware for its request (the thread gets a copy of the context).
around_endpoint: ContextVar[AroundEndpoint | None] = ContextVar("around_endpoint", default=None)


class Router(APIRouter):
    """An `APIRouter` whose `def` endpoints answer with finished responses, and
    whose operations are named as their endpoint functions are, unless a route
    names its `operation_id`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("generate_unique_id_function", _endpoint_name)
        super().__init__(**kwargs)

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        endpoint = serialized_in_thread(
            endpoint, kwargs.get("response_model"), kwargs.get("status_code")
        )
        super().add_api_route(path, endpoint, **kwargs)


def _endpoint_name(route: APIRoute) -> str:
    """A route's operation id: its endpoint function's name (`list_cases`)."""
    return route.name


def _model_of(hints: dict[str, Any], response_model: object) -> Any:
    """The response model FastAPI would use: the route's, else the return annotation."""
    if response_model is not None and not isinstance(response_model, DefaultPlaceholder):
        return response_model
    model = hints.get("return")
    if model is None or model is type(None):
        return None
    if inspect.isclass(model) and issubclass(model, Response):
        return None
    return model


def run_around(answered: Callable[[], Response]) -> Response:
    """`answered()`, inside what the request runs around its endpoint, if anything."""
    around = around_endpoint.get()
    return answered() if around is None else around(answered)


def finished(content: bytes, sub_response: Response, status_code: int | None) -> Response:
    """The JSON answer `content`, with the status and headers an endpoint set on its
    `sub_response`, else the route's `status_code` (200 if none)."""
    response = Response(
        content,
        status_code=sub_response.status_code or status_code or 200,
        media_type="application/json",
    )
    response.headers.raw.extend(sub_response.headers.raw)
    return response


def serialized_in_thread(
    endpoint: Callable[..., Any], response_model: object, status_code: int | None
) -> Callable[..., Any]:
    """`endpoint` made to return a finished JSON `Response` (a `def` with a model)."""
    if inspect.iscoroutinefunction(endpoint) or getattr(endpoint, _WRAPPED, False):
        return endpoint
    hints = get_type_hints(endpoint, include_extras=True)
    model = _model_of(hints, response_model)
    if model is None:
        return endpoint
    adapter: TypeAdapter[Any] = TypeAdapter(model)
    signature = inspect.signature(endpoint)
    given = next((n for n in signature.parameters if hints.get(n) is Response), None)

    @functools.wraps(endpoint)
    def answer(*args: Any, **kwargs: Any) -> Response:
        return run_around(functools.partial(answered, *args, **kwargs))

    def answered(*args: Any, **kwargs: Any) -> Response:
        sub_response: Response = kwargs[given] if given else kwargs.pop(_SUB_RESPONSE)
        result = endpoint(*args, **kwargs)
        if isinstance(result, Response):
            return result
        try:
            value = adapter.validate_python(result)
        except ValidationError as e:
            raise ResponseValidationError(errors=e.errors(), body=result) from None
        return finished(adapter.dump_json(value, by_alias=True), sub_response, status_code)

    if given is None:
        extra = inspect.Parameter(
            _SUB_RESPONSE, inspect.Parameter.KEYWORD_ONLY, annotation=Response
        )
        params = [*signature.parameters.values(), extra]
        params.sort(key=lambda p: p.kind)  # keyword-only after the rest
        answer.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    setattr(answer, _WRAPPED, True)
    return answer


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """The `Allow` header for the request's path: every method some route serves
    there. Starlette names only the methods of the first route whose path matched,
    and each method of a path is a route of its own, so each is asked in turn."""
    allowed = []
    for method in METHODS:
        probe = {
            "type": "http",
            "method": method,
            "path": request.scope["path"],
            "root_path": request.scope.get("root_path", ""),
            "headers": [],
            "query_string": b"",
        }
        if any(r.matches(probe)[0] is Match.FULL for r in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)
