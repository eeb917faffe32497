"""A command served by its direct route answers exactly what FastAPI's route answers
(ADR 94): the same status, body and headers for a command recorded and for every
way a request can be refused, in FastAPI's order. Two apps on stores set up alike,
one with the direct routes and one without, get the same requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute

from cases.api.direct_commands import DirectCommandRoute
from tests.e2e._access import AUDITOR, CUSTOMER, HELPDESK
from tests.e2e._in_process import InProcessApi, in_process_api

UNKNOWN = "7b0e2a55-3f1c-4d7e-9a51-0c8b1f2e6d40"
KEPT_HEADERS = ("content-type", "etag", "allow", "www-authenticate", "idempotency-replayed")


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[tuple[InProcessApi, InProcessApi]]:
    (tmp_path / "direct").mkdir()
    (tmp_path / "fastapi").mkdir()
    with (
        in_process_api(tmp_path / "direct") as direct,
        in_process_api(tmp_path / "fastapi", direct_commands=False) as plain,
    ):
        yield direct, plain


def _routes(api: InProcessApi) -> list[BaseRoute]:
    app = api.client.app
    assert isinstance(app, FastAPI)
    return app.router.routes


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _answer(api: InProcessApi, request: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    """The answer to `request`, its own case id and tokens put in, and the case id
    taken out of what comes back (the two stores' cases differ only in it)."""
    role = request.get("role", HELPDESK)
    headers = {"Authorization": f"Bearer {api.tokens[role]}"} if role else {}
    headers |= request.get("headers", {})
    case = request.get("case", api.case_id)
    response = api.client.request(
        request.get("method", "POST"),
        f"/cases/{case}/{request['path']}",
        content=request.get("content", b""),
        headers=headers,
    )
    text = response.text.replace(api.case_id, "<case>")
    kept = {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers}
    return response.status_code, _json(text), kept


NOTE = json.dumps({"text": "Restarted the transport service."}).encode()
REPLY = json.dumps({"direction": "outbound", "channel": "email", "summary": "Fixed."}).encode()
JSON = {"Content-Type": "application/json"}

REQUESTS: list[dict[str, Any]] = [
    {"path": "notes", "content": NOTE, "headers": JSON},
    {"path": "communications", "content": REPLY, "headers": JSON},
    {"path": "notes", "content": NOTE, "headers": {**JSON, "If-Match": '"5"'}},
    {"path": "notes", "content": NOTE, "headers": {**JSON, "If-Match": '"99"'}},
    {"path": "notes", "content": NOTE, "headers": {**JSON, "If-Match": "seven"}},
    {"path": "notes", "content": NOTE, "headers": {**JSON, "If-Match": "*"}},
    {"path": "notes", "content": b'{"text": ', "headers": JSON},
    {"path": "notes", "content": b"", "headers": JSON},
    {"path": "notes", "content": b"[1, 2]", "headers": JSON},
    {"path": "notes", "content": b'{"text": 5}', "headers": JSON},
    {"path": "notes", "content": b'{"text": "x", "extra": 1}', "headers": JSON},
    {"path": "notes", "content": b'{"text": "   "}', "headers": JSON},
    {"path": "notes", "content": NOTE, "headers": {"Content-Type": "text/plain"}},
    {"path": "notes", "content": NOTE},
    {"path": "notes", "content": NOTE, "headers": JSON, "role": None},
    {"path": "notes", "content": b'{"text": ', "headers": JSON, "role": None},
    {"path": "notes", "content": NOTE, "headers": {**JSON, "Authorization": "Bearer nope"}},
    {"path": "notes", "content": NOTE, "headers": {**JSON, "Authorization": "Basic eDp5"}},
    {"path": "notes", "content": NOTE, "headers": JSON, "role": AUDITOR},
    {"path": "notes", "content": NOTE, "headers": JSON, "role": CUSTOMER},
    {"path": "notes", "content": NOTE, "headers": JSON, "case": UNKNOWN},
    {"path": "notes", "content": NOTE, "headers": JSON, "case": "not-a-uuid"},
    {"path": "notes", "content": NOTE, "headers": JSON, "case": UNKNOWN.upper()},
    {"path": "notes", "content": NOTE, "headers": JSON, "case": UNKNOWN.replace("-", "")},
    {"path": "notes", "method": "GET"},
    {"path": "resolution", "content": b'{"code": "fixed", "summary": "Done."}', "headers": JSON},
    {"path": "close", "content": b'{"reason": "x"}', "headers": JSON},
    {
        "path": "notes",
        "content": NOTE,
        "headers": {**JSON, "Idempotency-Key": "note-1"},
    },
    {
        "path": "notes",
        "content": NOTE,
        "headers": {**JSON, "Idempotency-Key": "note-1"},
    },
    {
        "path": "notes",
        "content": b'{"text": "Another."}',
        "headers": {**JSON, "Idempotency-Key": "note-1"},
    },
]


def test_the_direct_routes_answer_as_fastapis(
    apps: tuple[InProcessApi, InProcessApi], monkeypatch: pytest.MonkeyPatch
) -> None:
    direct, plain = apps
    answered: list[str] = []
    own = DirectCommandRoute._answered

    def counted(route: DirectCommandRoute, *args: Any) -> Any:
        answered.append(route.path)
        return own(route, *args)

    monkeypatch.setattr(DirectCommandRoute, "_answered", counted)
    served = [r for r in _routes(direct) if isinstance(r, DirectCommandRoute)]
    assert {"/cases/{case_id}/notes", "/cases/{case_id}/communications"} <= {r.path for r in served}
    assert not any(isinstance(r, DirectCommandRoute) for r in _routes(plain))
    for request in REQUESTS:
        assert _answer(direct, request) == _answer(plain, request), request
    # The well-formed ones were the direct routes' own (a replayed key's is the middleware's).
    assert answered.count("/cases/{case_id}/notes") >= 6
    assert "/cases/{case_id}/communications" in answered
