"""The compliance dashboard auditors look at (issue 18, part 6): a static page and
its script, served from the package, that sign in with a bearer token (an
auditor's) and draw the report and register endpoints as tables and inline SVG.

The files need no token: they hold no figure. Every figure is fetched by the
page with the token the user typed, so the roles are the API's own (ADR 0057).
The Content-Security-Policy lets the page load and fetch from this server only.
"""

from __future__ import annotations

from importlib import resources
from typing import Literal

from fastapi import APIRouter, Response

router = APIRouter(prefix="/dashboard", include_in_schema=False)

ASSETS = resources.files("cases.api") / "dashboard"
MEDIA_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _asset(name: str) -> Response:
    content = (ASSETS / name).read_bytes()
    return Response(content, media_type=MEDIA_TYPES[name], headers=HEADERS)


@router.get("")
async def dashboard_page() -> Response:
    """The page: a sign-in form and, once signed in, the figures."""
    return _asset("index.html")


@router.get("/{name}")
async def dashboard_asset(name: Literal["dashboard.js", "dashboard.css"]) -> Response:
    """The page's script and style sheet."""
    return _asset(name)
