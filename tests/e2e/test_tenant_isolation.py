"""Customer principals see and touch only their own customer's cases and account.

Another customer's case or account answers exactly as one that does not exist:
same status, same body but for the id it names and `instance`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.e2e._access import operations
from tests.e2e._api import assert_problem, intake, log_head, new_customer, open_case
from tests.e2e._deployment import Deployment

FILTERS: list[dict[str, Any]] = [
    {},
    {"status": "new"},
    {"severity": "moderate"},
    {"category": "technical"},
    {"received_from": "2000-01-01T00:00:00+00:00"},
    {"received_before": "2999-01-01T00:00:00+00:00"},
    {"sort": "last_update", "order": "asc"},
    {"assignee": "agent-anna"},
]


@dataclass
class Tenant:
    customer_id: str
    token: str
    case_ids: set[str]
    account_id: str

    def ids(self, parameter: str) -> set[str]:
        if parameter == "customer_id":
            return {self.customer_id}
        return self.case_ids if parameter == "case_id" else {self.account_id}


@dataclass
class TwoTenants:
    first: Tenant
    second: Tenant
    position: int

    def pairs(self) -> list[tuple[Tenant, Tenant]]:
        return [(self.first, self.second), (self.second, self.first)]


@pytest.fixture
def tenants(live: Deployment) -> TwoTenants:
    """Two customers, each with a principal, a billing account, a case staff took in
    and one it opened itself."""
    made = []
    position = 0
    with live.client("helpdesk_agent") as agent, live.client("billing_admin") as billing:
        for _ in range(2):
            customer_id = new_customer()
            token = live.new_principal("customer", customer_id)
            account = billing.post("/accounts", json=account_for(customer_id))
            assert account.status_code == 201, account.text
            by_staff = open_case(agent, customer_id)
            agent.post(f"/cases/{by_staff['id']}/assignment", json={"agent_id": "agent-anna"})
            with live.client(token=token) as customer:
                by_customer = open_case(customer, customer_id=None)
            position = max(position, by_customer["position"])
            cases = {by_staff["id"], by_customer["id"]}
            made.append(Tenant(customer_id, token, cases, account.json()["id"]))
    return TwoTenants(made[0], made[1], position)


def account_for(customer_id: str) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "currency": "SEK",
        "net_days": 14,
        "billing_period": "monthly",
        "time_zone": "Europe/Stockholm",
    }


def comparable(response: httpx.Response, requested_id: str) -> tuple[int, Any]:
    """The status and body, without `instance` and with the requested id blanked."""
    body = response.json()
    if isinstance(body, dict):
        body = {
            k: v.replace(requested_id, "<id>") if isinstance(v, str) else v
            for k, v in body.items()
            if k != "instance"
        }
    return response.status_code, body


def request(client: httpx.Client, method: str, url: str) -> httpx.Response:
    if method == "GET":
        return client.get(url)
    return client.request(method, url, json={})


class TestTenantIsolation:
    def test_a_customer_sees_its_own(self, live: Deployment, tenants: TwoTenants) -> None:
        """A customer principal reads its cases (also one it opened without naming the
        customer) and its account."""
        for tenant in (tenants.first, tenants.second):
            with live.client(token=tenant.token) as customer:
                for case_id in tenant.case_ids:
                    found = customer.get(
                        f"/cases/{case_id}", params={"min_position": tenants.position}
                    )
                    assert found.status_code == 200, found.text
                    assert found.json()["customer_id"] == tenant.customer_id
                account = customer.get(
                    f"/accounts/{tenant.account_id}", params={"min_position": tenants.position}
                )
                assert account.status_code == 200, account.text

    @pytest.mark.parametrize("parameter", ["case_id", "account_id", "customer_id"])
    def test_another_customers_data_is_answered_like_a_missing_one(
        self, live: Deployment, tenants: TwoTenants, parameter: str
    ) -> None:
        """Through every route on a case (or an account), the other customer's gets the
        very answer a random id gets, and never a success."""
        with live.client() as anonymous:
            document = anonymous.get("/openapi.json").json()
        routes = [op for op in operations(document) if parameter in op.path_params]
        assert routes
        for me, other in tenants.pairs():
            with live.client(token=me.token) as customer:
                for op in routes:
                    for theirs in other.ids(parameter):
                        missing = str(uuid4())
                        got = request(customer, op.method, op.url(**{parameter: theirs}))
                        absent = request(customer, op.method, op.url(**{parameter: missing}))
                        assert not got.is_success, (op.operation_id, got.text)
                        assert comparable(got, theirs) == comparable(absent, missing), (
                            op.operation_id
                        )

    def test_listings_hold_only_the_customers_own_cases(
        self, live: Deployment, tenants: TwoTenants
    ) -> None:
        """With every filter, and when naming the other customer, a customer's listing
        holds its own cases only."""
        for me, other in tenants.pairs():
            with live.client(token=me.token) as customer:
                for where in FILTERS:
                    params = {**where, "min_position": tenants.position}
                    page = customer.get("/cases", params=params)
                    assert page.status_code == 200, page.text
                    items = page.json()["items"]
                    assert {i["customer_id"] for i in items} <= {me.customer_id}, where
                    if not where:
                        assert {i["id"] for i in items} == me.case_ids
                named = customer.get("/cases", params={"customer_id": other.customer_id})
                assert named.status_code == 200
                assert named.json()["items"] == []
                accounts = customer.get("/accounts", params={"min_position": tenants.position})
                assert [a["id"] for a in accounts.json()["items"]] == [me.account_id]
                theirs = customer.get("/accounts", params={"customer_id": other.customer_id})
                assert theirs.json()["items"] == []

    def test_pages_of_a_listing_hold_only_the_customers_own_cases(
        self, live: Deployment, tenants: TwoTenants
    ) -> None:
        """Following the cursor one case at a time yields exactly the customer's cases."""
        with live.client(token=tenants.first.token) as customer:
            seen: list[str] = []
            params: dict[str, Any] = {"limit": 1, "min_position": tenants.position}
            while True:
                page = customer.get("/cases", params=params).json()
                seen += [item["id"] for item in page["items"]]
                if page["next_cursor"] is None:
                    break
                params["cursor"] = page["next_cursor"]
        assert sorted(seen) == sorted(tenants.first.case_ids)

    def test_a_customer_cannot_open_a_case_for_another(
        self, live: Deployment, tenants: TwoTenants
    ) -> None:
        """Naming another customer in an intake answers 404 and records nothing."""
        me, other = tenants.first, tenants.second
        with live.client(token=me.token) as customer:
            head = log_head(customer)
            refused = customer.post("/cases", json=intake(other.customer_id))
            assert log_head(customer) == head
        assert_problem(refused, 404)
        with live.client("auditor") as auditor:
            listed = auditor.get(
                "/cases",
                params={"customer_id": other.customer_id, "min_position": tenants.position},
            )
        assert {i["id"] for i in listed.json()["items"]} == other.case_ids
