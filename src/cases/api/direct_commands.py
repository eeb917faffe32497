"""A command route served beside FastAPI's request machinery, not through it (ADR 94).

A command on a resource (`POST /cases/{id}/notes` and the other routes
`add_command_route` builds) did 1.6-2.0 ms of the server's CPU under load, and
FastAPI's own parts were about 46 % of it: solving the dependencies, validating
and serializing through its field wrappers, the route's handler. The work a
command needs is small: the id from the path, the body validated against its
model, the principal from the bearer token, the If-Match header, then the
command on a worker thread and a `CommandResult` as JSON with an ETag.

`DirectCommandRoute` does that work itself, ahead of the FastAPI route of the same
path and method, for a request it can take whole:

- the path's id parses, the body is `application/json` that decodes and
  validates against the route's model as FastAPI validates it
  (`model_validate(..., from_attributes=True)` on the decoded value).
- The principal, its permission and the If-Match header are checked by
  `command_from`, the code FastAPI's dependency runs: the same errors, raised to the
  same handlers.
- The command runs on a worker thread, inside the request's `around_endpoint` (a
  keyed command's lookup and keep, ADR 31), and answers what `serialized_in_thread`
  answers: the same bytes, status and headers.

Any request it cannot take whole (an id or a body that does not parse or
validate, another content type) goes to the FastAPI route with its body replayed.
So every refusal is FastAPI's own, in FastAPI's order. The FastAPI route stays
in the app: it is what the OpenAPI document shows, and what `scope["route"]` names
for metrics and tracing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from uuid import UUID

import anyio.to_thread
import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.routing import Match, Route
from starlette.types import Message, Receive, Scope, Send

from cases.api.deps import Command, CommandNeeds, bearer, command_from
from cases.api.routing import finished, run_around
from cases.api.schemas.common import CommandResult
from cases.application.command_runner import Receipt

JSON = "application/json"
CANONICAL_UUID = len("0a35f423-1d1b-4c44-9d8d-e005c4ca3194")

Run = Callable[[UUID, BaseModel, Command], Receipt]


class DirectCommandRoute(Route):
    """POST to `api_route`'s path: the command `run` does, served without FastAPI's
    request machinery when the request is well formed, else by `api_route`."""

    def __init__(
        self,
        api_route: APIRoute,
        *,
        body: type[BaseModel],
        id_name: str,
        needs: CommandNeeds,
        run: Run,
        answer: Callable[[Command, Response, Receipt], CommandResult],
    ) -> None:
        super().__init__(api_route.path, _unused, methods=["POST"], name=api_route.name)
        self.api_route = api_route
        self.body = body
        self.id_name = id_name
        self.needs = needs
        self.run = run
        self.answer = answer
        self.status_code = api_route.status_code

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE:
            child["route"] = self.api_route  # what metrics and tracing name
        return match, child

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await self.api_route.handle(scope, receive, send)  # 405, as FastAPI's answers
            return
        request = Request(scope, receive)
        content = await request.body()
        taken = self._taken(request, content)
        if taken is None:
            await self.api_route.handle(scope, _replayed(content, receive), send)
            return
        case_id, body = taken
        credentials = await bearer(request)
        command = await command_from(request, credentials, self.needs, _if_match(request))
        response = await anyio.to_thread.run_sync(
            functools.partial(self._answered_around, case_id, body, command)
        )
        await response(scope, receive, send)

    def _taken(self, request: Request, content: bytes) -> tuple[UUID, BaseModel] | None:
        """The id and the body, if the request can be taken whole; else None."""
        kind = request.headers.get("content-type", "")
        if kind.split(";", 1)[0].strip().lower() != JSON:
            return None
        given = request.path_params[self.id_name]
        if len(given) != CANONICAL_UUID:  # the form FastAPI takes; another goes there
            return None
        try:
            case_id = UUID(given)
            body = self.body.model_validate(orjson.loads(content), from_attributes=True)
        except (ValueError, ValidationError, orjson.JSONDecodeError):
            return None
        return case_id, body

    def _answered_around(self, case_id: UUID, body: BaseModel, command: Command) -> Response:
        return run_around(functools.partial(self._answered, case_id, body, command))

    def _answered(self, case_id: UUID, body: BaseModel, command: Command) -> Response:
        headers = _sub_response()
        result = self.answer(command, headers, self.run(case_id, body, command))
        return finished(result.model_dump_json(by_alias=True).encode(), headers, self.status_code)


def _sub_response() -> Response:
    """What FastAPI gives an endpoint to set headers and status on (no status set)."""
    response = Response()
    del response.headers["content-length"]
    response.status_code = None  # type: ignore[assignment]
    return response


def _if_match(request: Request) -> str | None:
    return request.headers.get("if-match")


def _replayed(content: bytes, receive: Receive) -> Receive:
    """`receive` with the body already read given back first."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": content, "more_body": False}

    return replay


async def _unused(request: Request) -> Response:  # pragma: no cover - handle() answers
    raise NotImplementedError


def direct_route(
    api_route: APIRoute,
    *,
    body: type[BaseModel],
    id_name: str,
    needs: CommandNeeds | None,
    run: Callable[..., Receipt],
    answer: Callable[[Command, Response, Receipt], CommandResult],
) -> DirectCommandRoute | None:
    """The direct route for a command route, where it has one: a route whose
    dependency is a `command_for` one and whose path holds only the id."""
    if needs is None or set(api_route.param_convertors) != {id_name}:
        return None
    return DirectCommandRoute(
        api_route, body=body, id_name=id_name, needs=needs, run=run, answer=answer
    )
