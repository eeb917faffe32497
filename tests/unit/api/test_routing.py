"""`cases.api.routing.Router`: a `def` endpoint's answer is validated and
serialized on the endpoint's own thread, with FastAPI's status and headers."""

from __future__ import annotations

import threading
from collections.abc import Callable

from fastapi import FastAPI, Response
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel, field_serializer
from starlette.types import Receive, Scope, Send

from cases.api.app import create_app
from cases.api.routing import _WRAPPED, Router, around_endpoint
from cases.settings import Settings

serialized_on: list[int] = []
endpoint_ran_on: list[int] = []


class Receipt(BaseModel):
    version: int

    @field_serializer("version")
    def _noted(self, version: int) -> int:
        serialized_on.append(threading.get_ident())
        return version


def _app(router: Router) -> TestClient:
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


router = Router(prefix="/things")


@router.post("/{n}", status_code=201)
def create(n: int, response: Response) -> Receipt:
    endpoint_ran_on.append(threading.get_ident())
    response.headers["ETag"] = f'"{n}"'
    return Receipt(version=n)


@router.get("/{n}")
def read(n: int) -> Receipt:
    endpoint_ran_on.append(threading.get_ident())
    return Receipt(version=n)


@router.get("/{n}/as-set")
def read_with_status(n: int, response: Response) -> Receipt:
    response.status_code = 203
    return Receipt(version=n)


@router.get("/{n}/raw")
def raw(n: int) -> Response:
    return Response(f"raw {n}", media_type="text/plain")


@router.get("/{n}/wrong", response_model=Receipt)
def wrong(n: int) -> object:
    return {"version": "not a number"}


def test_the_answer_is_serialized_on_the_endpoints_thread_with_its_status_and_headers() -> None:
    serialized_on.clear()
    endpoint_ran_on.clear()
    with _app(router) as client:
        created = client.post("/things/7")
        read_back = client.get("/things/8")

    assert (created.status_code, created.json(), created.headers["etag"]) == (
        201,
        {"version": 7},
        '"7"',
    )
    assert created.headers["content-type"] == "application/json"
    assert (read_back.status_code, read_back.json()) == (200, {"version": 8})
    assert serialized_on == endpoint_ran_on  # the same thread each time, not the event loop's
    assert threading.get_ident() not in serialized_on


def test_a_plain_router_would_serialize_elsewhere() -> None:
    """The control: FastAPI's own path serializes off the endpoint's thread."""
    from fastapi import APIRouter  # noqa: PLC0415

    plain = APIRouter()
    plain.add_api_route("/things/{n}", read, methods=["GET"])
    serialized_on.clear()
    endpoint_ran_on.clear()
    app = FastAPI()
    app.include_router(plain)
    with TestClient(app) as client:
        assert client.get("/things/3").json() == {"version": 3}
    assert serialized_on != endpoint_ran_on


def test_a_status_set_by_the_endpoint_and_a_finished_response_are_kept() -> None:
    with _app(router) as client:
        as_set = client.get("/things/1/as-set")
        raw_answer = client.get("/things/2/raw")
    assert (as_set.status_code, as_set.json()) == (203, {"version": 1})
    assert (raw_answer.status_code, raw_answer.text) == (200, "raw 2")


def test_an_answer_that_does_not_fit_the_response_model_is_a_server_error() -> None:
    with _app(router) as client:
        response = TestClient(client.app, raise_server_exceptions=False).get("/things/1/wrong")
    assert response.status_code == 500


def test_the_openapi_document_names_the_response_model() -> None:
    with _app(router) as client:
        spec = client.get("/openapi.json").json()
    schema = spec["paths"]["/things/{n}"]["post"]["responses"]["201"]["content"]
    assert schema["application/json"]["schema"] == {"$ref": "#/components/schemas/Receipt"}
    assert "_sub_response" not in str(spec)


def test_what_a_request_puts_around_its_endpoint_runs_on_the_endpoints_thread() -> None:
    """A middleware's `around_endpoint` wraps the endpoint on its own thread, and
    what it returns is the answer (the idempotency keys' lookup and keep, ADR 0031)."""
    around_ran_on: list[int] = []
    endpoint_ran_on.clear()

    def around(endpoint: Callable[[], Response]) -> Response:
        around_ran_on.append(threading.get_ident())
        answer = endpoint()
        answer.headers["X-Around"] = "yes"
        return answer

    async def setting_around(scope: Scope, receive: Receive, send: Send) -> None:
        token = around_endpoint.set(around)
        try:
            await app(scope, receive, send)
        finally:
            around_endpoint.reset(token)

    app = FastAPI()
    app.include_router(router)
    with TestClient(setting_around) as client:
        created = client.post("/things/7")

    assert (created.status_code, created.json(), created.headers["x-around"]) == (
        201,
        {"version": 7},
        "yes",
    )
    assert around_ran_on == endpoint_ran_on
    assert threading.get_ident() not in around_ran_on


def test_every_post_endpoint_of_the_app_is_answered_on_its_thread() -> None:
    """The idempotency middleware relies on it: a keyed POST whose endpoint were
    not wrapped would run without its kept answer looked up first (ADR 0031,
    amendment "kap")."""
    posts = [
        route
        for route in create_app(Settings(database_url="sqlite:///unused.db")).router.routes
        if isinstance(route, APIRoute) and "POST" in (route.methods or set())
    ]

    assert len(posts) > 40
    assert [r.path for r in posts if not getattr(r.endpoint, _WRAPPED, False)] == []
