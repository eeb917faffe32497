"""Billing accounts over HTTP: an account's whole life, receivables aging, collection
runs, refusals of bad input, stale If-Match, customer isolation and roles; on
SQLite and PostgreSQL through FastAPI's TestClient."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.domain.metadata import Actor, Role
from tests.integration.api.conftest import T0
from tests.support.app_services import services_of
from tests.support.builders import caller

ADMIN = Actor("admin", Role.SYSTEM)
POLICY = {
    "stages": [
        {"days": -7, "action": "upcoming_payment_reminder"},
        {"days": 1, "action": "overdue_reminder"},
        {"days": 7, "action": "overdue_reminder"},
        {"days": 14, "action": "final_warning"},
        {"days": 30, "action": "suspend_access"},
    ],
}


def sek(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "SEK"}


def eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


@dataclass
class Api:
    """A client on a fresh store, a manual clock, and a token per role."""

    client: TestClient
    clock: ManualClock
    tokens: dict[str, str]

    @property
    def services(self) -> Services:
        return services_of(self.client)

    def principal(self, name: str, role: Role, customer_id: str | None = None) -> str:
        issued = self.services.principals.create(
            caller(ADMIN), name=name, role=role, customer_id=customer_id
        )
        self.tokens[name] = issued.token
        return issued.token

    def call(self, method: str, path: str, who: str = "billing", **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}", **kwargs.pop("headers", {})}
        response: httpx.Response = self.client.request(method, path, headers=headers, **kwargs)
        return response

    def post(self, path: str, body: dict[str, Any], who: str = "billing", **kw: Any) -> Any:
        """POST that must succeed; the JSON answer."""
        response = self.call("POST", path, who, json=body, **kw)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def get(self, path: str, who: str = "billing", **params: Any) -> Any:
        """GET that must succeed; the JSON answer."""
        response = self.call("GET", path, who, params=params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def api(client: TestClient, api_clock: ManualClock) -> Api:
    api = Api(client, api_clock, {})
    for name, role in (
        ("billing", Role.BILLING_ADMIN),
        ("agent", Role.HELPDESK_AGENT),
        ("sales", Role.SALES_AGENT),
        ("users", Role.USER_MANAGEMENT_ADMIN),
        ("auditor", Role.AUDITOR),
    ):
        api.principal(name, role)
    api.principal("fabrikam", Role.CUSTOMER, customer_id="fabrikam")
    return api


def open_account(api: Api, customer: str, currency: str, net_days: int = 14) -> Any:
    return api.post(
        "/accounts",
        {
            "customer_id": customer,
            "currency": currency,
            "net_days": net_days,
            "billing_period": "monthly",
            "time_zone": "Europe/Stockholm",
        },
    )


def invoice(number: str, amount: dict[str, str], issued_on: str, **extra: Any) -> dict[str, Any]:
    return {
        "number": number,
        "period": {"starts_on": "2026-03-01", "ends_on": "2026-03-31"},
        "lines": [{"description": "Cloud services, March", "quantity": 1, "unit_price": amount}],
        "issued_on": issued_on,
        **extra,
    }


def fabrikam_with_invoices(api: Api) -> str:
    """Fabrikam (SEK, net 14) with two subscriptions, one paid a year ahead, and two
    invoices: F-2001 18 400.00 due 2026-03-16, F-2002 1 000.00 due 2026-04-01."""
    account = open_account(api, "fabrikam", "SEK")["id"]
    base = f"/accounts/{account}"
    api.post(
        f"{base}/subscriptions",
        {"subscription_id": "sub-bp-40", "product": "Microsoft 365 Business Premium",
         "quantity": 40},
        who="sales",
    )  # fmt: skip
    api.post(
        f"{base}/subscriptions",
        {"subscription_id": "sub-exo-10", "product": "Exchange Online (Plan 1)", "quantity": 10},
    )
    api.post(f"{base}/subscriptions/sub-exo-10/prepayment", {"paid_through": "2027-03-01"})
    first = invoice("F-2001", sek("460.00"), "2026-03-02")
    first["lines"][0]["quantity"] = 40
    api.post(f"{base}/invoices", first)
    api.post(f"{base}/invoices", invoice("F-2002", sek("1000"), "2026-03-02", due_on="2026-04-01"))
    return str(account)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def invalid_fields(response: httpx.Response) -> set[str]:
    body = problem(response, 422)
    return {e["field"] for e in body.get("errors", [])}


# The whole life --------------------------------------------------------------


def test_an_account_lives_its_whole_life_over_http(api: Api) -> None:
    """Open, subscribe, invoice, evaluate into suspension, pay part (still suspended),
    pay the rest (reinstated at once), dispute, credit, write off: the state, the
    standing read model and the audited history agree at every step."""
    api.post("/collection-policy", POLICY)
    account = fabrikam_with_invoices(api)
    base = f"/accounts/{account}"

    api.clock.set(datetime(2026, 4, 20, 6, 0, tzinfo=UTC))  # F-2001 35 days overdue
    evaluation = api.post(f"{base}/evaluations", {}, who="billing")
    assert evaluation["stages_entered"] == [-7, 1, 7, 14, 30]
    assert evaluation["reminders"] == ["final_warning"]
    assert evaluation["suspended"] == ["sub-bp-40"]  # the prepaid plan stays on
    again = api.post(f"{base}/evaluations", {"as_of": evaluation["as_of"]})
    assert again["stages_entered"] == again["suspended"] == []
    assert again["version"] == evaluation["version"]

    partial = api.post(
        f"{base}/payments",
        {"reference": "BG-1", "amount": sek("9200.00"), "received_on": "2026-04-20"},
        headers={"If-Match": f'"{evaluation["version"]}"'},
    )
    state = api.get(f"{base}/state")
    assert state["version"] == partial["version"]
    assert state["balance"] == sek("10200.00")
    assert {s["subscription_id"]: s["access"] for s in state["subscriptions"]} == {
        "sub-bp-40": "suspended",
        "sub-exo-10": "active",
    }

    rest = api.post(
        f"{base}/payments",
        {"reference": "BG-2", "amount": sek("9200"), "received_on": "2026-04-20",
         "invoice_number": "F-2001"},
    )  # fmt: skip
    state = api.get(f"{base}/state")
    assert [s["access"] for s in state["subscriptions"]] == ["active", "active"]
    assert state["oldest_unpaid_invoice"] == "F-2002"

    api.post(f"{base}/invoices/F-2002/disputes", {"reason": "April billed twice"})
    api.post(
        f"{base}/invoices/F-2002/disputes/close", {"outcome": "upheld", "note": "Seats counted"}
    )
    api.post(
        f"{base}/credit-notes",
        {"number": "CN-1", "invoice_number": "F-2002", "amount": sek("200.00"), "reason": "Seats"},
    )
    last = api.post(
        f"{base}/write-offs",
        {"invoice_number": "F-2002", "amount": sek("800.00"), "reason": "Goodwill"},
    )

    standing = api.call("GET", base, params={"min_position": last["position"]})
    assert standing.status_code == 200, standing.text
    assert standing.headers["ETag"] == f'"{last["version"]}"'
    assert standing.json()["balance"] == sek("0.00")
    assert standing.json()["suspended_subscriptions"] == []

    history = api.get(f"{base}/history", who="auditor")
    kinds = [entry["event_type"] for entry in history]
    assert kinds[0] == "BillingAccount.Opened"
    for kind in ("AccessSuspended", "AccessReinstated", "DisputeOpened", "CreditNoteIssued"):
        assert f"BillingAccount.{kind}" in kinds
    assert [entry["version"] for entry in history] == list(range(1, last["version"] + 1))
    billing_id = api.get("/principals/me")["id"]
    payment = next(e for e in history if e["event_type"] == "BillingAccount.PaymentReceived")
    assert payment["actor"] == {"principal_id": billing_id, "role": "billing_admin"}
    assert payment["details"]["amount"] == sek("9200.00")
    assert rest["version"] > partial["version"]

    at_three = api.call("GET", f"{base}/state", "auditor", params={"version": 3})
    assert at_three.headers["ETag"] == '"3"'
    assert [s["subscription_id"] for s in at_three.json()["subscriptions"]] == [
        "sub-bp-40",
        "sub-exo-10",
    ]
    assert at_three.json()["invoices"] == []
    as_of = api.get(f"{base}/state", as_of="2026-03-02T08:00:00+00:00")
    assert as_of["version"] == 6  # all six recorded at T0
    assert as_of["invoices"][0]["total"] == sek("18400.00")
    assert as_of["invoices"][0]["lines"][0]["quantity"] == "40"


def test_a_collection_run_evaluates_every_account_once(api: Api) -> None:
    """The run reports accounts evaluated and acted on, with totals per kind;
    the same run again records nothing."""
    api.post("/collection-policy", POLICY)
    fabrikam_with_invoices(api)
    open_account(api, "contoso", "EUR")
    api.clock.set(datetime(2026, 4, 20, 6, 0, tzinfo=UTC))
    run = api.post("/collection-runs", {"as_of": "2026-04-20T08:00:00+02:00"})
    assert run["evaluated"] == 2
    assert run["acted_on_count"] == 1
    assert run["policy_version"] == 1
    assert (run["stages_entered"], run["reminders"], run["suspensions"]) == (5, 1, 1)
    assert run["acted_on"][0]["customer_id"] == "fabrikam"
    again = api.post("/collection-runs", {"as_of": "2026-04-20T08:00:00+02:00"})
    assert (again["evaluated"], again["acted_on_count"], again["failed"]) == (2, 0, 0)

    suspended = api.get("/accounts", suspended="true", min_position=again["position"])
    assert [a["customer_id"] for a in suspended["items"]] == ["fabrikam"]


def test_collection_without_a_policy_is_refused(api: Api) -> None:
    """No policy in force: the run conflicts with the state (409), naming the rule."""
    open_account(api, "contoso", "EUR")
    body = problem(api.call("POST", "/collection-runs", json={}), 409)
    assert body["type"] == "/problems/no-collection-policy"


# Queries ----------------------------------------------------------------------


def test_receivables_age_per_currency_on_any_day(api: Api) -> None:
    """Aging on two days buckets each currency's open invoices by days past due;
    a payment received later leaves an earlier day's report as it was."""
    fabrikam_with_invoices(api)
    contoso = open_account(api, "contoso", "EUR", net_days=0)["id"]
    api.post(f"/accounts/{contoso}/invoices", invoice("C-1", eur("500.00"), "2026-01-02"))
    api.clock.set(datetime(2026, 4, 21, 9, 0, tzinfo=UTC))
    paid = api.post(
        f"/accounts/{contoso}/payments",
        {"reference": "SEPA-1", "amount": eur("500.00"), "received_on": "2026-04-21"},
    )

    march = api.get("/receivables/aging", as_of="2026-03-10", min_position=paid["position"])
    assert march["as_of"] == "2026-03-10"
    by_currency = {row["currency"]: row for row in march["currencies"]}
    assert by_currency["EUR"]["days_61_90"] == eur("500.00")
    assert by_currency["SEK"]["current"] == sek("19400.00")
    assert by_currency["SEK"]["days_1_30"] == sek("0.00")

    april = api.get("/receivables/aging", who="auditor", as_of="2026-04-10")
    by_currency = {row["currency"]: row for row in april["currencies"]}
    assert by_currency["EUR"]["days_over_90"] == eur("500.00")
    assert by_currency["SEK"]["days_1_30"] == sek("19400.00")
    assert by_currency["SEK"]["total"] == sek("19400.00")

    today = api.get("/receivables/aging")
    assert [row["currency"] for row in today["currencies"]] == ["SEK"]


def test_accounts_list_filters_and_pages(api: Api) -> None:
    """Filtered by currency, overdue on a day, a page at a time with a cursor."""
    fabrikam_with_invoices(api)
    open_account(api, "contoso", "EUR")
    last = open_account(api, "northwind", "EUR")

    first = api.get("/accounts", limit=2, min_position=last["position"])
    assert [a["customer_id"] for a in first["items"]] == ["contoso", "fabrikam"]
    second = api.get("/accounts", limit=2, cursor=first["next_cursor"])
    assert [a["customer_id"] for a in second["items"]] == ["northwind"]
    assert second["next_cursor"] is None

    eur_only = api.get("/accounts", currency="EUR", who="agent")
    assert [a["customer_id"] for a in eur_only["items"]] == ["contoso", "northwind"]
    overdue = api.get("/accounts", overdue="true", as_of="2026-03-20")
    assert [a["customer_id"] for a in overdue["items"]] == ["fabrikam"]
    assert overdue["items"][0]["overdue_on"] is True
    assert overdue["items"][0]["balance"] == sek("19400.00")
    assert api.get("/accounts", overdue="true", as_of="2026-03-16")["items"] == []

    bad = api.call("GET", "/accounts", params={"cursor": "bm90LWEtY3Vyc29y"})
    assert problem(bad, 422)["type"] == "/problems/invalid-cursor"


# Refusals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("payments", {"reference": "P", "amount": {"amount": 12.5, "currency": "SEK"},
                      "received_on": "2026-03-02"}, "body.amount.amount"),
        ("payments", {"reference": "P", "amount": sek("12.345"), "received_on": "2026-03-02"},
         "body.amount"),
        ("payments", {"reference": "P", "amount": sek("-5.00"), "received_on": "2026-03-02"},
         "body.amount"),
        ("payments", {"reference": "P", "amount": {"amount": "5", "currency": "XXX"},
                      "received_on": "2026-03-02"}, "body.amount.currency"),
        ("payments", {"reference": "P", "amount": sek("5"), "received_on": "2026-02-30"},
         "body.received_on"),
        ("payments", {"reference": "P", "amount": sek("5"), "received_on": "2026-03-02T00:00"},
         "body.received_on"),
        ("payments", {"reference": "P", "amount": sek("5"), "received_on": 1772409600},
         "body.received_on"),
        ("payments", {"reference": "P", "amount": sek("5"), "received_on": "2026-03-02",
                      "colour": "blue"}, "body.colour"),
        ("credit-notes", {"number": "CN", "invoice_number": "F-2001", "amount": sek("1"),
                          "reason": "x" * 501}, "body.reason"),
        ("invoices", {**invoice("X", sek("1"), "2026-03-02"),
                      "lines": [{"description": "d", "quantity": 2.5, "unit_price": sek("1")}]},
         "body.lines.0.quantity"),
        ("payments", {"reference": "P", "amount": sek("1000000000000"),
                      "received_on": "2026-03-02"}, "body.amount.amount"),
        ("invoices", {**invoice("X", sek("999999999999"), "2026-03-02"),
                      "lines": [{"description": "d", "quantity": 2,
                                 "unit_price": sek("999999999999")}]}, "body.lines"),
        ("invoices/F-2001/disputes/close", {"outcome": "maybe", "note": "n"}, "body.outcome"),
        ("evaluations", {"as_of": "2026-03-02T08:00:00"}, "body.as_of"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_the_field_named(
    api: Api, path: str, body: dict[str, Any], field: str
) -> None:
    """Floats, excess decimals, bad currencies, days, enums, unknown and over-long
    fields: 422 problem+json naming the field; nothing recorded."""
    account = fabrikam_with_invoices(api)
    before = api.get(f"/accounts/{account}/state")["version"]
    response = api.call("POST", f"/accounts/{account}/{path}", json=body)
    assert field in invalid_fields(response)
    assert api.get(f"/accounts/{account}/state")["version"] == before


def test_bad_account_fields_and_query_parameters_are_refused(api: Api) -> None:
    """An unknown billing period, an unknown zone, a bad aging day: 422 naming them."""
    response = api.call(
        "POST",
        "/accounts",
        json={"customer_id": "c", "currency": "EUR", "net_days": 30,
              "billing_period": "weekly", "time_zone": "Europe"},
    )  # fmt: skip
    assert invalid_fields(response) == {"body.billing_period", "body.time_zone"}
    response = api.call("POST", "/accounts", json={"customer_id": "c" * 101, "currency": "eur"})
    assert {"body.customer_id", "body.currency"} <= invalid_fields(response)
    assert invalid_fields(api.call("GET", "/receivables/aging", params={"as_of": "today"})) == {
        "query.as_of"
    }


def test_a_usage_price_is_kept_exact_and_only_the_line_is_rounded(api: Api) -> None:
    """Azure usage: 12 000 units at 0.0043 SEK is 51.60 SEK, not 0.00; the price
    reads back as sent; seven decimals are refused with the field named."""
    account = open_account(api, "fabrikam", "SEK")["id"]
    usage = {"description": "Azure usage", "quantity": 12000, "unit_price": sek("0.0043")}
    body = {**invoice("F-3001", sek("1"), "2026-03-02"), "lines": [usage]}
    api.post(f"/accounts/{account}/invoices", body)
    [issued] = api.get(f"/accounts/{account}/state")["invoices"]
    assert issued["lines"][0]["unit_price"] == sek("0.0043")
    assert issued["lines"][0]["amount"] == sek("51.60")
    assert issued["total"] == sek("51.60")
    finer = {**usage, "unit_price": sek("0.0000001")}
    refused = api.call(
        "POST", f"/accounts/{account}/invoices", json={**body, "number": "F-3002", "lines": [finer]}
    )
    assert invalid_fields(refused) == {"body.lines.0.unit_price"}


def test_access_by_hand_and_a_payment_promise(api: Api) -> None:
    """A billing admin suspends and reinstates a subscription by hand and holds
    collection to a promised day; each refusal names its rule (ADR 47)."""
    api.post("/collection-policy", POLICY)
    account = fabrikam_with_invoices(api)
    base = f"/accounts/{account}"
    why = {"reason": "Customer asked"}
    suspension = api.post(f"{base}/subscriptions/sub-bp-40/suspension", why)
    standing = api.get("/accounts", suspended="true", min_position=suspension["position"])
    assert [a["customer_id"] for a in standing["items"]] == ["fabrikam"]
    access = {s["subscription_id"]: s["access"] for s in api.get(f"{base}/state")["subscriptions"]}
    assert access == {"sub-bp-40": "suspended", "sub-exo-10": "active"}
    again = api.call("POST", f"{base}/subscriptions/sub-bp-40/suspension", json=why)
    assert problem(again, 409)["type"] == "/problems/access-already-suspended"
    api.post(f"{base}/subscriptions/sub-bp-40/reinstatement", why)
    not_suspended = api.call("POST", f"{base}/subscriptions/sub-bp-40/reinstatement", json=why)
    assert problem(not_suspended, 409)["type"] == "/problems/access-not-suspended"
    past = api.call("POST", f"{base}/collection-holds", json={"until": "2026-03-01", **why})
    assert problem(past, 409)["type"] == "/problems/hold-in-past"
    api.post(f"{base}/collection-holds", {"until": "2026-04-30", **why})
    history = [e["summary"] for e in api.get(f"{base}/history")]
    assert "Collection held through 2026-04-30: Customer asked" in history
    api.clock.set(datetime(2026, 4, 29, 6, 0, tzinfo=UTC))  # F-2001 44 days overdue
    held = api.post(f"{base}/evaluations", {})
    assert held["stages_entered"] == held["reminders"] == held["suspended"] == []


def subscription_invoice(number: str, starts_on: str, ends_on: str) -> dict[str, Any]:
    return {
        "number": number,
        "period": {"starts_on": starts_on, "ends_on": ends_on},
        "prices": [{"subscription_id": "sub-bp-40", "unit_price": sek("460.00")}],
        "issued_on": "2026-03-02",
    }


def test_a_sales_agent_changes_a_quantity_and_cancels_a_subscription(api: Api) -> None:
    """Seats change from today and a cancellation from a day to come; the account's
    state and history show both, and each refusal names its rule (ADR 61)."""
    account = fabrikam_with_invoices(api)
    base = f"/accounts/{account}/subscriptions"
    api.post(f"{base}/sub-bp-40/quantity", {"quantity": 45, "reason": "New starters"}, "sales")
    same = api.call(
        "POST", f"{base}/sub-bp-40/quantity", "sales", json={"quantity": 45, "reason": "x"}
    )
    assert problem(same, 409)["type"] == "/problems/same-quantity"
    zero = api.call(
        "POST", f"{base}/sub-bp-40/quantity", "sales", json={"quantity": 0, "reason": "x"}
    )
    assert invalid_fields(zero) == {"body.quantity"}
    past = api.call(
        "POST", f"{base}/sub-bp-40/cancellation", "sales",
        json={"reason": "x", "effective_on": "2026-03-01"},
    )  # fmt: skip
    assert problem(past, 409)["type"] == "/problems/cancellation-in-past"
    april = subscription_invoice("F-2003", "2026-04-01", "2026-04-30")
    api.post(f"/accounts/{account}/subscription-invoices", april)
    why = {"reason": "Moving to E3", "effective_on": "2026-04-01"}
    api.post(f"{base}/sub-bp-40/cancellation", why, "sales")
    may = subscription_invoice("F-2004", "2026-05-01", "2026-05-31")
    nothing = api.call("POST", f"/accounts/{account}/subscription-invoices", json=may)
    assert problem(nothing, 409)["type"] == "/problems/nothing-to-invoice"
    for path, body in (
        ("quantity", {"quantity": 50, "reason": "x"}),
        ("suspension", {"reason": "x"}),
        ("cancellation", {"reason": "x"}),
    ):
        refused = api.call("POST", f"{base}/sub-bp-40/{path}", json=body)
        assert problem(refused, 409)["type"] == "/problems/subscription-cancelled"
    state = api.get(f"/accounts/{account}/state")
    [bp] = [s for s in state["subscriptions"] if s["subscription_id"] == "sub-bp-40"]
    assert (bp["quantity"], bp["cancelled_on"]) == (45, "2026-04-01")
    [issued] = [i for i in state["invoices"] if i["number"] == "F-2003"]
    assert [(x["quantity"], x["amount"]["amount"]) for x in issued["lines"]] == [
        ("45", "20700.00")  # billed in advance at the seats held on 1 April
    ]
    assert bp["quantity_changes"] == [
        {"effective_on": "2026-03-02", "previous": 40, "quantity": 45}
    ]
    history = [e["summary"] for e in api.get(f"/accounts/{account}/history")]
    assert (
        "Quantity of Microsoft 365 Business Premium (sub-bp-40) changed from 40 to 45 "
        "from 2026-03-02: New starters"
    ) in history
    assert (
        "Subscription Microsoft 365 Business Premium (sub-bp-40) cancelled from 2026-04-01: "
        "Moving to E3"
    ) in history
    customer = api.call("POST", f"{base}/sub-exo-10/cancellation", "fabrikam", json=why)
    assert problem(customer, 403)["status"] == 403


def test_money_in_another_currency_or_a_duplicate_is_refused_by_its_rule(api: Api) -> None:
    """Domain rules answer with their own problem type: a currency the account is
    not in (422), an invoice number used before (409)."""
    account = fabrikam_with_invoices(api)
    response = api.call(
        "POST",
        f"/accounts/{account}/payments",
        json={"reference": "P", "amount": eur("5.00"), "received_on": "2026-03-02"},
    )
    assert problem(response, 422)["type"] == "/problems/currency-mismatch"
    again = api.call(
        "POST", f"/accounts/{account}/invoices", json=invoice("F-2001", sek("1"), "2026-03-02")
    )
    assert problem(again, 409)["type"] == "/problems/duplicate-invoice-number"


def test_a_stale_if_match_is_refused_and_records_nothing(api: Api) -> None:
    """412 for a version the account no longer has; its history is unchanged."""
    account = fabrikam_with_invoices(api)
    before = api.get(f"/accounts/{account}/history")
    response = api.call(
        "POST",
        f"/accounts/{account}/payments",
        json={"reference": "P", "amount": sek("5.00"), "received_on": "2026-03-02"},
        headers={"If-Match": '"2"'},
    )
    assert problem(response, 412)["type"] == "/problems/version-mismatch"
    assert api.get(f"/accounts/{account}/history") == before


# Customers and roles ----------------------------------------------------------


def test_a_customer_sees_only_its_own_account(api: Api) -> None:
    """Its own account, invoices and list entry; every other account answers 404 as
    if it did not exist, and the partner-wide aging report too."""
    fabrikam = fabrikam_with_invoices(api)
    contoso = open_account(api, "contoso", "EUR")
    wait = {"min_position": contoso["position"]}

    own = api.call("GET", f"/accounts/{fabrikam}", "fabrikam", params=wait)
    assert own.status_code == 200
    assert own.json()["customer_id"] == "fabrikam"
    invoices = api.get(f"/accounts/{fabrikam}/invoices", who="fabrikam", **wait)
    assert [i["invoice_number"] for i in invoices] == ["F-2001", "F-2002"]
    listed = api.get("/accounts", who="fabrikam", **wait)
    assert [a["customer_id"] for a in listed["items"]] == ["fabrikam"]
    assert api.get("/accounts", who="fabrikam", customer_id="contoso")["items"] == []

    hidden = api.call("GET", f"/accounts/{contoso['id']}", "fabrikam", params=wait)
    missing = api.call("GET", "/accounts/00000000-0000-0000-0000-000000000000", "fabrikam")
    assert problem(hidden, 404)["detail"].replace(contoso["id"], "X") == problem(missing, 404)[
        "detail"
    ].replace("00000000-0000-0000-0000-000000000000", "X")
    problem(api.call("GET", f"/accounts/{contoso['id']}/invoices", "fabrikam"), 404)
    problem(api.call("GET", "/receivables/aging", "fabrikam"), 404)


@pytest.mark.parametrize(
    ("who", "method", "path", "body"),
    [
        ("agent", "POST", "/accounts", {}),
        ("sales", "POST", "/accounts/{id}/invoices", {}),
        ("sales", "GET", "/accounts/{id}/history", None),
        ("auditor", "POST", "/accounts/{id}/payments", {}),
        ("auditor", "POST", "/collection-runs", {}),
        ("agent", "POST", "/accounts/{id}/evaluations", {}),
        ("fabrikam", "POST", "/accounts/{id}/invoices/F-2001/disputes", {}),
        ("fabrikam", "GET", "/accounts/{id}/state", None),
        ("users", "GET", "/accounts", None),
        ("users", "GET", "/receivables/aging", None),
        ("sales", "POST", "/accounts/{id}/subscriptions/sub-exo-10/prepayment", {}),
        ("agent", "POST", "/accounts/{id}/subscriptions/sub-bp-40/suspension", {}),
        ("sales", "POST", "/accounts/{id}/subscriptions/sub-bp-40/reinstatement", {}),
        ("fabrikam", "POST", "/accounts/{id}/collection-holds", {}),
        ("auditor", "POST", "/accounts/{id}/collection-holds", {}),
    ],
)
def test_roles_without_the_permission_are_forbidden(
    api: Api, who: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    """403 problem+json before the body is even looked at."""
    account = fabrikam_with_invoices(api)
    response = api.call(method, path.format(id=account), who, json=body)
    assert problem(response, 403)["type"] == "/problems/forbidden"


def test_no_token_is_unauthenticated(api: Api) -> None:
    """401 with WWW-Authenticate, never the data."""
    response = api.client.get("/accounts")
    assert problem(response, 401)["type"] == "/problems/unauthenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_evaluating_in_the_future_conflicts(api: Api) -> None:
    """Collection cannot run as of a moment still to come."""
    api.post("/collection-policy", POLICY)
    account = fabrikam_with_invoices(api)
    later = (T0 + timedelta(days=1)).isoformat()
    response = api.call("POST", f"/accounts/{account}/evaluations", json={"as_of": later})
    assert problem(response, 409)["type"] == "/problems/evaluation-in-future"
