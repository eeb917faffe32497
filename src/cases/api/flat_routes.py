"""Routers' routes put straight into the app's own route list, not included.

FastAPI 0.165 keeps an included router as one entry of the app's list and matches
a request twice through it: once to choose the router, again to choose its route,
each time through a per-route context that saves and restores scope keys around
the path's regular expression. A command on a case (`POST /cases/{id}/notes`, the
21st route of its router) cost 73 us of routing, on the event loop of a worker
whose whole budget per command is about 1 ms. Copied into the app's own list, each
route is matched once, as Starlette matches it: 26 us (docs/benchmarks.md, "Flat
routes"; ADR 0082).

This only fits routers included as they are: a prefix, tags, dependencies or
responses given at inclusion would live in the inclusion, which a copy has not.
Ours declare all of them on the router itself, where FastAPI puts them on each
route as it is added. The order of the routes, and with it the matching and the
OpenAPI document, stays the order of inclusion.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute


def include_flat(app: FastAPI, router: APIRouter) -> None:
    """Add every route of `router`, and of the routers it included, to `app`."""
    app.router.routes.extend(routes_of(router))


def routes_of(router: APIRouter) -> Iterator[BaseRoute]:
    """The routes a request to `router` can reach, in the order they are matched.

    FastAPI represents an included router as a route holding `original_router`."""
    for route in router.routes:
        included = getattr(route, "original_router", None)
        if isinstance(included, APIRouter):
            yield from routes_of(included)
        else:
            yield route
