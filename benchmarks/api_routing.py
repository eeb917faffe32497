"""What choosing the route costs a command: the API's routes flat, or included (ADR 0082).

Run: PYTHONPATH=src:. .venv/bin/python benchmarks/api_routing.py [--number 20000]

Builds the app as `create_app` does, with its routers' routes in the app's own list,
and beside it an app that includes the same routers with `include_router`, as before
ADR 82. For each command path api_load sends, it times finding the route the way the
app's router finds it: each entry of the app's list is asked in turn, and an included
router is asked a second time for its route. It prints CPU microseconds per request
(process time, the best of 5 repeats) and the mean over api_load's mix (45 % notes,
45 % communications, 10 % intakes). One thread only: no server and no database.
"""

from __future__ import annotations

import argparse
import time
import timeit
from functools import partial
from typing import Any

from fastapi import FastAPI
from starlette.routing import BaseRoute, Match

from cases.api.app import api_routers, create_app
from cases.settings import Settings

CASE = "0a35f423-1d1b-4c44-9d8d-e005c4ca3194"
MIX = {f"/cases/{CASE}/notes": 0.45, f"/cases/{CASE}/communications": 0.45, "/cases": 0.10}


def _scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }


def find(routes: list[BaseRoute], path: str) -> BaseRoute:
    """The route that serves POST `path`, found as the app's router finds it."""
    scope = _scope(path)
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.FULL:
            scope.update(child)
            choose = getattr(route, "_match", None)  # an included router chooses again
            if choose is not None:
                choose(scope)
            return route
    raise LookupError(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--number", type=int, default=20000, help="requests per repeat")
    number = parser.parse_args().number
    settings = Settings(database_url="sqlite:///unused.db")
    included = FastAPI()
    for router in api_routers(settings):
        included.include_router(router)
    apps = {"included": included, "flat": create_app(settings)}
    means = {}
    for name, app in apps.items():
        routes = app.router.routes
        mean = 0.0
        for path, share in MIX.items():
            find(routes, path)
            best = min(
                timeit.repeat(
                    partial(find, routes, path), time.process_time, number=number, repeat=5
                )
            )
            us = 1e6 * best / number
            mean += share * us
            print(f"{name:>8}  POST {path.replace(CASE, '{id}'):<28} {us:6.1f} us")
        means[name] = mean
        print(f"{name:>8}  api_load's mix                    {mean:6.1f} us")
    print(f"flat / included: {means['flat'] / means['included']:.2f}")


if __name__ == "__main__":
    main()
