"""`cases.api.flat_routes`: routers' routes in the app's own list, in the order of
inclusion, and served as an included router would serve them."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Match

from cases.api.app import create_app
from cases.api.direct_commands import DirectCommandRoute
from cases.api.flat_routes import include_flat, routes_of
from cases.api.routing import Router
from cases.settings import Settings

first = Router(prefix="/first", tags=["first"])
inner = Router(prefix="/inner", tags=["inner"])
outer = Router()


@first.get("/{n}")
def read(n: int) -> int:
    return n


@inner.post("/{n}", status_code=201)
def create(n: int) -> int:
    return n + 1


@outer.get("/outer")
def outer_route() -> str:
    return "outer"


outer.include_router(inner)


def _flat_app() -> FastAPI:
    app = FastAPI()
    include_flat(app, first)
    include_flat(app, outer)
    return app


def test_an_included_routers_routes_come_in_its_place() -> None:
    """A router included in another is opened where it stands."""
    paths = [getattr(route, "path", None) for route in routes_of(outer)]
    assert paths == ["/outer", "/inner/{n}"]


def test_the_app_lists_each_route_itself_and_serves_it() -> None:
    app = _flat_app()
    own = [getattr(route, "path", None) for route in app.router.routes]
    assert own[-3:] == ["/first/{n}", "/outer", "/inner/{n}"]
    with TestClient(app) as client:
        assert client.get("/first/4").json() == 4
        created = client.post("/inner/4")
        assert (created.status_code, created.json()) == (201, 5)
        wrong = client.get("/inner/4")
        assert wrong.status_code == 405


def test_the_documented_operations_keep_their_tags_and_order() -> None:
    operations = [
        (path, method, operation.get("tags", []))
        for path, item in _flat_app().openapi()["paths"].items()
        for method, operation in item.items()
    ]
    assert operations == [
        ("/first/{n}", "get", ["first"]),
        ("/outer", "get", []),
        ("/inner/{n}", "post", ["inner"]),
    ]


def test_a_command_on_a_case_is_found_in_the_apps_own_routes() -> None:
    """No route of the API is a router to be matched twice (the cost this avoids)."""
    app = create_app(Settings(database_url="sqlite:///unused.db"))
    assert not [r for r in app.router.routes if hasattr(r, "original_router")]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/cases/0a35f423-1d1b-4c44-9d8d-e005c4ca3194/notes",
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }
    found = [r for r in app.router.routes if r.matches(scope)[0] is Match.FULL]
    assert [getattr(r, "path", None) for r in found] == ["/cases/{case_id}/notes"] * 2
    # The direct route first, FastAPI's behind it (ADR 94).
    assert [type(r) for r in found] == [DirectCommandRoute, APIRoute]
