"""Requests and checks the end-to-end tests share."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx

PROBLEM_JSON = "application/problem+json"


def intake(customer_id: str | None = "contoso", **overrides: Any) -> dict[str, Any]:
    """The body of `POST /cases`: a customer's request as a partner takes it in."""
    body: dict[str, Any] = {
        "customer_id": customer_id,
        "contact": {
            "name": "Karin Lund",
            "email": "karin.lund@contoso.example",
            "phone": "+46 70 111 22 33",
        },
        "channel": "phone",
        "product": "Exchange Online",
        "category": "technical",
        "severity": "moderate",
        "title": "Mail to external recipients is delayed",
        "description": "Since 07:30 outbound mail queues for up to an hour.",
    }
    if customer_id is None:
        del body["customer_id"]
    body.update(overrides)
    return body


def open_case(client: httpx.Client, customer_id: str | None = "contoso", **overrides: Any) -> Any:
    """Take in a case; its command result (`id`, `version`, `position`)."""
    response = client.post("/cases", json=intake(customer_id, **overrides))
    assert response.status_code == 201, response.text
    return response.json()


def new_customer() -> str:
    """A customer id no other test uses."""
    return f"customer-{uuid4().hex[:10]}"


def assert_problem(response: httpx.Response, status: int, rule: str | None = None) -> Any:
    """The response is an RFC 9457 problem with this status (and rule); its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    assert body["status"] == status
    if rule is not None:
        assert body["type"] == f"/problems/{rule}", body
    return body


def etag(version: int) -> str:
    return f'"{version}"'


def log_head(client: httpx.Client) -> int:
    """The position of the last event in the log, as `GET /ready` reports it."""
    response = client.get("/ready")
    assert response.status_code == 200, response.text
    heads = {p["head"] for p in response.json()["projections"]}
    assert len(heads) == 1, heads
    head: int = heads.pop()
    return head
