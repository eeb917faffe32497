"""What a careful client tripped over (issue 13, item 10), over HTTP on SQLite and
PostgreSQL: where `Location` points, `Allow` on 405, one `Authorization` header,
amounts as published, collection runs in the future, case ids a customer may not
choose, and cursors bound to their query (ADR 0036)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi.testclient import TestClient

from cases.clock import ManualClock
from cases.domain.metadata import Actor, Role
from tests.e2e._api import intake
from tests.integration.api.conftest import T0
from tests.integration.api.test_accounts_api import (
    POLICY,
    Api,
    open_account,
    problem,
)
from tests.support.builders import caller, terms

ADMIN = Actor("admin", Role.SYSTEM)


@pytest.fixture
def api(client: TestClient, api_clock: ManualClock) -> Api:
    """Staff of every kind, two customers' principals, and support terms in force."""
    api = Api(client, api_clock, {})
    for name, role in (
        ("billing", Role.BILLING_ADMIN),
        ("agent", Role.HELPDESK_AGENT),
        ("users", Role.USER_MANAGEMENT_ADMIN),
    ):
        api.principal(name, role)
    api.principal("contoso", Role.CUSTOMER, customer_id="contoso")
    api.principal("fabrikam", Role.CUSTOMER, customer_id="fabrikam")
    month_ago = T0 - timedelta(days=30)
    api.services.desk.publish_terms(caller(ADMIN).at(month_ago), terms(), month_ago)
    return api


def head(api: Api) -> int:
    return api.services.log.head()


# Location and Allow ----------------------------------------------------------------


def test_a_new_principal_is_where_its_location_points(api: Api) -> None:
    """`POST /principals` answers a Location the admin can read: the principal
    without its token (only its hash is stored, and that is not shown either)."""
    created = api.call("POST", "/principals", "users", json={"name": "Ulla", "role": "auditor"})
    assert created.status_code == 201, created.text
    location = created.headers["Location"]

    read = api.call("GET", location, "users")
    assert read.status_code == 200, read.text
    assert read.headers["ETag"] == '"1"'
    issued = created.json()
    assert read.json() == {
        "id": issued["id"],
        "name": "Ulla",
        "role": "auditor",
        "customer_id": None,
        "revoked": False,
        "version": 1,
    }
    assert issued["token"] not in read.text


def test_a_principal_that_is_not_one_is_not_found(api: Api) -> None:
    account = open_account(api, "contoso", "EUR")["id"]
    for unknown in (str(uuid4()), account):
        body = problem(api.call("GET", f"/principals/{unknown}", "users"), 404)
        assert body["type"] == "/problems/not-found"
    assert problem(api.call("GET", f"/principals/{uuid4()}", "agent"), 403)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/cases", "GET, POST"),
        ("PUT", "/accounts", "GET, POST"),
        ("DELETE", "/principals/{id}", "GET"),
        ("GET", "/principals/{id}/revoke", "POST"),
        ("PATCH", "/collection-policy", "GET, POST"),
        ("POST", "/reports/compliance", "GET"),
    ],
)
def test_a_method_not_allowed_lists_every_method_the_path_has(
    api: Api, method: str, path: str, allow: str
) -> None:
    response = api.call(method, path.format(id=uuid4()), "users")
    body = problem(response, 405)
    assert body["type"] == "/problems/method-not-allowed"
    assert response.headers["Allow"] == allow


# Authorization -----------------------------------------------------------------------


def twice(api: Api, first: str, second: str) -> list[tuple[str, str]]:
    return [
        ("Authorization", f"Bearer {api.tokens[first]}"),
        ("Authorization", f"Bearer {api.tokens[second]}"),
    ]


def test_two_authorization_headers_are_refused(api: Api) -> None:
    """Not the first one's principal: the request is malformed (RFC 9110)."""
    for who in (("contoso", "fabrikam"), ("agent", "agent")):
        response = api.client.get("/principals/me", headers=twice(api, *who))
        assert problem(response, 400)["type"] == "/problems/invalid-authorization"


def test_a_refusal_for_two_authorization_headers_leaves_the_key_unclaimed(api: Api) -> None:
    """The same Idempotency-Key with one header then runs the command."""
    key = ("Idempotency-Key", f"intake-{uuid4()}")
    body = intake("contoso")
    refused = api.client.post("/cases", json=body, headers=[*twice(api, "agent", "agent"), key])
    problem(refused, 400)
    before = head(api)
    recorded = api.client.post(
        "/cases", json=body, headers=[("Authorization", f"Bearer {api.tokens['agent']}"), key]
    )
    assert recorded.status_code == 201, recorded.text
    assert head(api) > before


# Amounts -------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [" 5.00", "5.00 ", "\t5", "5.0\u0660", "\u0665"])
def test_an_amount_not_as_published_is_refused(api: Api, amount: str) -> None:
    """The published pattern, as written: no surrounding space, ASCII digits."""
    account = open_account(api, "contoso", "EUR")["id"]
    before = head(api)
    response = api.call(
        "POST",
        f"/accounts/{account}/payments",
        json={
            "reference": "SEPA-1",
            "amount": {"amount": amount, "currency": "EUR"},
            "received_on": "2026-03-02",
        },
    )
    fields = {e["field"] for e in problem(response, 422)["errors"]}
    assert "body.amount.amount" in fields
    assert head(api) == before


# Collection runs ----------------------------------------------------------------------


def test_a_collection_run_in_the_future_is_refused_whole(api: Api) -> None:
    """Not 200 with every account failed: the run itself conflicts, records nothing."""
    api.post("/collection-policy", POLICY)
    open_account(api, "contoso", "EUR")
    before = head(api)
    later = (T0 + timedelta(minutes=1)).isoformat()
    response = api.call("POST", "/collection-runs", json={"as_of": later})
    assert problem(response, 409)["type"] == "/problems/evaluation-in-future"
    assert head(api) == before
    now = api.post("/collection-runs", {"as_of": T0.isoformat()})
    assert (now["evaluated"], now["failed"]) == (1, 0)


# Case ids a customer may not choose ---------------------------------------------------


def test_a_customer_learns_nothing_from_the_case_id_it_sends(api: Api) -> None:
    """Another customer's case id, its own, or a fresh one: the same answer, so
    whether an id is taken tells nothing. Nothing is recorded."""
    theirs = api.post("/cases", intake("fabrikam"), who="agent")["id"]
    mine = api.post("/cases", intake(None), who="contoso")["id"]
    before = head(api)
    answers = []
    for case_id in (theirs, mine, str(uuid4())):
        response = api.call("POST", "/cases", "contoso", json=intake(None, case_id=case_id))
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1] == answers[2], answers
    assert answers[0][1]["type"] == "/problems/customer-chosen-case-id"
    assert answers[0][0] == 422
    assert head(api) == before


def test_staff_still_choose_case_ids(api: Api) -> None:
    case_id = str(uuid4())
    chosen = api.post("/cases", intake("fabrikam", case_id=case_id), who="agent")
    assert chosen["id"] == case_id
    again = api.call("POST", "/cases", "agent", json=intake("contoso", case_id=case_id))
    assert problem(again, 409)["type"] == "/problems/already-exists"


# Cursors bound to their query ---------------------------------------------------------


def first_page(api: Api, path: str, **params: Any) -> dict[str, Any]:
    page: dict[str, Any] = api.get(path, who="agent", limit=1, min_position=head(api), **params)
    assert page["next_cursor"], page
    return page


def with_cursor(api: Api, path: str, cursor: str, **params: Any) -> httpx.Response:
    return api.call("GET", path, "agent", params={"limit": 1, "cursor": cursor, **params})


CASE_QUERIES: list[dict[str, Any]] = [
    {"order": "asc"},
    {"sort": "last_update"},
    {"status": "new"},
    {"severity": "critical"},
    {"customer_id": "contoso"},
    {"received_from": (T0 - timedelta(days=1)).isoformat()},
]


@pytest.mark.parametrize("other", CASE_QUERIES)
def test_a_case_cursor_with_another_query_is_refused(api: Api, other: dict[str, Any]) -> None:
    for customer in ("contoso", "fabrikam", "contoso"):
        api.post("/cases", intake(customer), who="agent")
    first = first_page(api, "/cases")
    body = problem(with_cursor(api, "/cases", first["next_cursor"], **other), 422)
    assert body["type"] == "/problems/cursor-mismatch"


def test_a_case_cursor_with_its_own_query_pages_on(api: Api) -> None:
    """Same filters, sort and order (a limit may change): the next page."""
    for customer in ("contoso", "fabrikam", "contoso"):
        api.post("/cases", intake(customer), who="agent")
    query = {"customer_id": "contoso", "order": "asc"}
    first = first_page(api, "/cases", **query)
    second = with_cursor(api, "/cases", first["next_cursor"], **query, limit=5)
    assert second.status_code == 200, second.text
    ids = [c["id"] for c in first["items"] + second.json()["items"]]
    assert len(set(ids)) == 2


@pytest.mark.parametrize(
    "other",
    [{"currency": "EUR"}, {"suspended": "true"}, {"overdue": "true", "as_of": "2026-03-20"}],
)
def test_an_account_cursor_with_another_query_is_refused(api: Api, other: dict[str, Any]) -> None:
    for customer in ("contoso", "fabrikam", "northwind"):
        open_account(api, customer, "EUR")
    first = first_page(api, "/accounts")
    body = problem(with_cursor(api, "/accounts", first["next_cursor"], **other), 422)
    assert body["type"] == "/problems/cursor-mismatch"
    second = with_cursor(api, "/accounts", first["next_cursor"])
    assert [a["customer_id"] for a in second.json()["items"]] == ["fabrikam"]


def test_a_cursor_of_one_list_is_refused_by_another(api: Api) -> None:
    open_account(api, "contoso", "EUR")
    open_account(api, "fabrikam", "EUR")
    api.post("/cases", intake("contoso"), who="agent")
    api.post("/cases", intake("contoso"), who="agent")
    accounts = first_page(api, "/accounts")["next_cursor"]
    cases = first_page(api, "/cases")["next_cursor"]
    for path, cursor, rule in [
        ("/cases", accounts, "cursor-mismatch"),
        ("/accounts", cases, "cursor-mismatch"),
        *[("/cases", garbage, "invalid-cursor") for garbage in ("bm90LWEtY3Vyc29y", "!!", "W10")],
    ]:  # W10 is []
        assert problem(with_cursor(api, path, cursor), 422)["type"] == f"/problems/{rule}"
