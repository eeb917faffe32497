"""Every day and moment the API takes, at the calendar's edges, on a real server on
each store: no 5xx (ADR 0035).

The inputs are read from the service's own OpenAPI document (every parameter and
body field of format `date` or `date-time`), so a new one is covered without
touching this file. Each is sent at the edges of Python's calendar (years 1 and
9999, with offsets +14:00 and -12:00), at the service's bounds (years 1900 to
2999) and one step past them, and naive where a UTC offset is required, in an
otherwise valid request (the document's example body, or one from `BODIES`).
Out of range is 422 `/problems/date-out-of-range` naming the field; a naive
moment is 422; in range anything but 5xx (a rule may refuse it). The run records
facts in 1900 and 2999, so it has a deployment of its own.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import uuid4

import httpx
import pytest

from cases.api.app import create_app
from cases.api.cursors import encode_cursor
from cases.projections.case_queue import CaseFilter
from cases.settings import Settings
from tests.e2e._access import ROLES, allowed_roles
from tests.e2e._api import PROBLEM_JSON, assert_problem, intake, log_head
from tests.e2e._deployment import STORES, Deployment, deployment

DOCUMENT = create_app(Settings(database_url="sqlite:///unused.db")).openapi()
FORMATS = ("date", "date-time")
OUT = "out of range"
NAIVE = "naive"
IN = "in range"

MOMENTS = [
    ("0001-01-01T00:00:00+00:00", OUT),
    ("0001-01-01T00:00:00+14:00", OUT),  # year 0 in UTC
    ("0001-01-01T00:00:00-12:00", OUT),
    ("9999-12-31T23:59:59+14:00", OUT),
    ("9999-12-31T23:59:59-12:00", OUT),  # year 10000 in UTC
    ("1899-12-31T23:59:59+00:00", OUT),
    ("1900-01-01T00:00:00+01:00", OUT),  # 1899 in UTC
    ("1900-01-01T00:00:00+00:00", IN),
    ("1900-01-01T00:00:00-12:00", IN),
    ("2999-12-31T23:59:59+14:00", IN),
    ("2999-12-31T23:59:59.999999Z", IN),
    ("2999-12-31T23:59:59-12:00", OUT),  # 3000 in UTC
    ("3000-01-01T00:00:00+00:00", OUT),
    ("0001-01-01T00:00:00", NAIVE),
    ("9999-12-31T23:59:59", NAIVE),
    ("2026-03-02T09:30:00", NAIVE),
]
DAYS = [
    ("0001-01-01", OUT),
    ("9999-12-31", OUT),
    ("1899-12-31", OUT),
    ("1900-01-01", IN),
    ("2999-12-31", IN),
    ("3000-01-01", OUT),
]
VALUES = {"date-time": MOMENTS, "date": DAYS}

# Bodies for operations whose schema carries no example.
BODIES: dict[str, dict[str, Any]] = {
    "receive_case": intake("contoso"),
    "check_service_health": {},
    "record_diagnosis": {"findings": "The connector's certificate expired."},
    "record_communication": {"direction": "outbound", "channel": "email", "summary": "Sent"},
    "wait_on_customer": {"reason": "Waiting for the message trace."},
    "stop_waiting_on_customer": {"reason": "The trace arrived."},
    "escalate_case": {"target": "vendor", "category": "service_defect", "reason": "Defect"},
    "record_vendor_update": {"text": "The vendor reproduced it."},
    "record_hand_back": {"summary": "Fixed by the vendor."},
    "resolve_case": {"code": "fixed_by_vendor", "summary": "The vendor fixed it."},
    "close_case": {},
    "reopen_case": {"reason": "It came back."},
}
# Query parameters an operation needs besides the one tested.
QUERIES: dict[str, dict[str, str]] = {
    "get_compliance_report": {"from": "2026-01-01", "to": "2026-02-01"},
    "get_case_timeline": {"from": "2026-01-01", "to": "2026-02-01"},
    "list_escalations": {"from": "2026-01-01", "to": "2026-02-01"},
    "count_escalations": {"from": "2026-01-01", "to": "2026-02-01"},
}
# Body fields that must be new in each request.
FRESH: dict[str, Callable[[], str]] = {
    "number": lambda: f"F-{uuid4().hex[:8]}",
    "subscription_id": lambda: uuid4().hex[:12],
}


@dataclass(frozen=True)
class DateInput:
    """One day or moment the document says an operation takes."""

    operation_id: str
    method: str
    path: str
    location: str  # "query" or "body"
    field: tuple[str, ...]  # a parameter's name, or the path to a body field ("[]": an item)
    formats: tuple[str, ...]
    body_schema: str | None  # the request body's schema, for its example

    @property
    def name(self) -> str:
        return f"{self.operation_id}:{self.location}.{'.'.join(self.field)}"

    @property
    def loc(self) -> str:
        """The field as a validation problem names it (`body.a.b`, `query.as_of`)."""
        return ".".join([self.location, *("0" if p == "[]" else p for p in self.field)])


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _formats(
    schema: dict[str, Any], field: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], str]]:
    """(field, format) of every day or moment in the schema."""
    schema = _resolve(schema)
    if schema.get("format") in FORMATS:
        yield field, schema["format"]
    for alternative in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        yield from _formats(alternative, field)
    for name, sub in schema.get("properties", {}).items():
        yield from _formats(sub, (*field, name))
    if "items" in schema:
        yield from _formats(schema["items"], (*field, "[]"))


def date_inputs(document: dict[str, Any]) -> list[DateInput]:
    """Every parameter and body field of format date or date-time, by operation."""
    found: dict[tuple[str, str, tuple[str, ...]], DateInput] = {}
    for path, item in document["paths"].items():
        for method, spec in item.items():
            sources: list[tuple[str, tuple[str, ...], dict[str, Any]]] = [
                (p["in"], (p["name"],), p["schema"]) for p in spec.get("parameters", [])
            ]
            body = spec.get("requestBody", {}).get("content", {}).get("application/json")
            ref = body["schema"].get("$ref") if body else None
            if body:
                sources.append(("body", (), body["schema"]))
            for location, prefix, schema in sources:
                for where, format_ in _formats(schema, prefix):
                    key = (spec["operationId"], location, where)
                    known = found.get(key)
                    formats = (*(known.formats if known else ()), format_)
                    found[key] = DateInput(
                        spec["operationId"],
                        method.upper(),
                        path,
                        location,
                        where,
                        formats,
                        ref.rsplit("/", 1)[1] if ref else None,
                    )
    return list(found.values())


INPUTS = date_inputs(DOCUMENT)


def test_the_document_lists_days_and_moments() -> None:
    """The table is not empty: it holds the inputs that once answered 500."""
    names = {i.name for i in INPUTS}
    assert {
        "get_receivables_aging:query.as_of",
        "issue_invoice:body.issued_on",
        "list_cases:query.received_from",
        "get_compliance_report:query.as_of",
        "publish_terms:body.service_hours.holidays.[]",
    } <= names, sorted(names)
    assert {f for i in INPUTS for f in i.formats} == set(FORMATS)


@dataclass
class World:
    """A deployment with a case, a billing account and a subscription to address."""

    deployed: Deployment
    ids: dict[str, str]
    clients: dict[str | None, httpx.Client] = field(default_factory=dict)

    def client(self, operation_id: str) -> httpx.Client:
        """A client with the token of a role that may call the operation (kept open)."""
        allowed = allowed_roles(operation_id)
        role = None if allowed is None else next(r for r in ROLES if r in allowed)
        if role not in self.clients:
            self.clients[role] = self.deployed.client(role)
        return self.clients[role]


@pytest.fixture(scope="module", params=STORES)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    folder = tmp_path_factory.mktemp(f"dates-{request.param}")
    with deployment(request.param, folder, workers=1) as deployed:
        with deployed.client("helpdesk_agent") as agent:
            case = agent.post("/cases", json=intake("contoso"))
        assert case.status_code == 201, case.text
        with deployed.client("billing_admin") as billing:
            opened = billing.post(
                "/accounts", json=_example("OpenAccount") | {"customer_id": "dates"}
            )
            assert opened.status_code == 201, opened.text
            account_id = opened.json()["id"]
            added = billing.post(
                f"/accounts/{account_id}/subscriptions", json=_example("AddSubscription")
            )
            assert added.status_code == 200, added.text
        ids = {
            "case_id": case.json()["id"],
            "account_id": account_id,
            "subscription_id": _example("AddSubscription")["subscription_id"],
        }
        world = World(deployed, ids)
        yield world
        for client in world.clients.values():
            client.close()


def _example(schema_name: str) -> dict[str, Any]:
    examples = DOCUMENT["components"]["schemas"][schema_name].get("examples") or [None]
    assert examples[0] is not None, f"{schema_name} has no example: add one, or a body to BODIES"
    return copy.deepcopy(examples[0])


def _body(date_input: DateInput, value: str) -> dict[str, Any]:
    if date_input.operation_id in BODIES:
        body = copy.deepcopy(BODIES[date_input.operation_id])
    else:
        assert date_input.body_schema is not None
        body = _example(date_input.body_schema)
    for name, fresh in FRESH.items():
        if name in body:
            body[name] = fresh()
    if date_input.location == "body":
        _place(body, date_input.field, value)
    return body


def _place(body: dict[str, Any], field: tuple[str, ...], value: str) -> None:
    """Set the field (creating what leads to it); an item becomes a one-item list."""
    target: Any = body
    for index, part in enumerate(field):
        last = index == len(field) - 1
        if last:
            target[part] = value
        elif field[index + 1] == "[]":
            target[part] = [value]
            return
        else:
            target = target.setdefault(part, {})


def send(world: World, date_input: DateInput, value: str) -> httpx.Response:
    query = dict(QUERIES.get(date_input.operation_id, {}))
    if date_input.location == "query":
        query[date_input.field[0]] = value
    url = date_input.path.format(**world.ids)
    client = world.client(date_input.operation_id)
    if date_input.method == "GET":
        return client.get(url, params=query)
    return client.request(date_input.method, url, params=query, json=_body(date_input, value))


@pytest.mark.parametrize("date_input", INPUTS, ids=[i.name for i in INPUTS])
def test_a_day_or_moment_at_the_edges_never_fails_the_server(
    world: World, date_input: DateInput
) -> None:
    """Out of range: 422 date-out-of-range naming the field; naive: 422; in
    range: whatever the rules say, but never 5xx."""
    failures = []
    for format_ in date_input.formats:
        for value, kind in VALUES[format_]:
            response = send(world, date_input, value)
            seen = f"{value} ({kind}): {response.status_code} {response.text[:300]}"
            if response.status_code >= 500:
                failures.append(seen)
                continue
            if kind == IN:
                if response.status_code == 422 and "date-out-of-range" in response.text:
                    failures.append(seen)
                continue
            if response.status_code != 422 or not response.headers.get(
                "content-type", ""
            ).startswith(PROBLEM_JSON):
                failures.append(seen)
                continue
            problem = response.json()
            fields = {e["field"] for e in problem.get("errors", [])}
            if date_input.loc not in fields:
                failures.append(f"{seen} does not name {date_input.loc}")
            if kind == OUT and problem["type"] != "/problems/date-out-of-range":
                failures.append(seen)
    assert not failures, "\n".join(failures)


def test_the_read_models_keep_up_with_facts_at_the_bounds(world: World) -> None:
    """Facts placed at the first and the last moment of the span are projected:
    a read of the latest position answers 200, not 503."""
    with world.deployed.client("helpdesk_agent") as agent:
        for moment in ("1900-01-01T00:00:00-12:00", "2999-12-31T23:59:59+14:00"):
            response = agent.post("/cases", json=intake("contoso", received_at=moment))
            assert response.status_code < 500, response.text
        opened = agent.post("/cases", json=intake("contoso"))
        assert opened.status_code == 201, opened.text
        head = log_head(agent)
        read = agent.get(f"/cases/{opened.json()['id']}", params={"min_position": head})
        assert read.status_code == 200, read.text
    with world.deployed.client("auditor") as auditor:
        report = auditor.get(
            "/reports/compliance",
            params={"from": "1900-01-01", "to": "2999-12-31", "group_by": "month"},
        )
        assert report.status_code == 200, report.text


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-12:00"])
def test_a_cursor_forged_at_the_calendars_edges_is_refused(world: World, moment: str) -> None:
    """A list cursor is opaque but carries a moment: one forged with a moment no
    case was received at is 422 invalid-cursor, not 500."""
    query = {"list": "cases", **asdict(CaseFilter()), "sort": "received", "order": "desc"}
    cursor = encode_cursor(query, [moment, "6f0f9a8e-1111-4111-8111-111111111111"])
    response = world.client("list_cases").get("/cases", params={"cursor": cursor})
    assert_problem(response, 422, "invalid-cursor")
