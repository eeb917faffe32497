"""The customer directory over HTTP on SQLite and PostgreSQL: register, contacts,
preferences, intake from a directory contact, unknown customers refused, roles on
cases, and a customer principal seeing its own record only (ADR 0048)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from cases.clock import ManualClock
from cases.domain.metadata import Role
from tests.integration.api.conftest import T0
from tests.integration.api.test_accounts_api import Api
from tests.support.builders import caller, terms

TENANT = "5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f"


@pytest.fixture
def api(client: TestClient, api_clock: ManualClock) -> Api:
    api = Api(client, api_clock, {})
    for name, role in (
        ("billing", Role.BILLING_ADMIN),
        ("agent", Role.HELPDESK_AGENT),
        ("sales", Role.SALES_AGENT),
        ("auditor", Role.AUDITOR),
    ):
        api.principal(name, role)
    api.principal("contoso", Role.CUSTOMER, customer_id="contoso")
    api.principal("fabrikam", Role.CUSTOMER, customer_id="fabrikam")
    api.services.desk.publish_terms(caller(), terms(), effective_from=T0)
    for customer in ("contoso", "fabrikam"):
        api.post("/customers", customer_body(customer), who="sales")
    return api


def customer_body(customer_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "display_name": f"{customer_id.capitalize()} AB",
        "tenant_id": TENANT,
        "primary_domain": f"{customer_id}.example",
        "relationship": "direct_bill",
        **changes,
    }


def contact_body(role: str = "billing", language: str = "sv") -> dict[str, Any]:
    return {
        "role": role,
        "contact": {"name": "Eva Ekonomi", "email": "ekonomi@contoso.example"},
        "language": language,
    }


def case_body(customer_id: str | None, category: str = "technical", **more: Any) -> dict[str, Any]:
    body = {
        "channel": "portal",
        "product": "Exchange Online",
        "category": category,
        "severity": "moderate",
        "title": "Mail delayed",
        "description": "Outbound mail queues",
        **more,
    }
    if customer_id is not None:
        body["customer_id"] = customer_id
    if "contact_id" not in more:
        body["contact"] = {"name": "Karin Lund", "email": "karin@contoso.example"}
    return body


def test_a_customer_with_contacts_is_registered_and_read(api: Api) -> None:
    added = api.post("/customers/contoso/contacts", contact_body(), who="billing")
    api.post(
        "/customers/contoso/preferences",
        {"preferences": {"channels": ["email"], "opted_out": ["upcoming_payment_reminder"]}},
        who="sales",
    )
    got = api.get(
        "/customers/contoso",
        who="agent",
        min_position=api.services.log.recorder.max_notification_id(),
    )
    assert (got["display_name"], got["relationship"]) == ("Contoso AB", "direct_bill")
    assert got["preferences"]["opted_out"] == ["upcoming_payment_reminder"]
    assert [(c["id"], c["email"], c["language"]) for c in got["contacts"]] == [
        (added["id"], "ekonomi@contoso.example", "sv")
    ]
    listed = api.get("/customers", who="auditor", limit=1)
    assert [c["customer_id"] for c in listed["items"]] == ["contoso"]
    after = api.get("/customers", who="auditor", cursor=listed["next_cursor"])
    assert [c["customer_id"] for c in after["items"]] == ["fabrikam"]


def test_a_customer_principal_sees_only_its_own_record(api: Api) -> None:
    head = api.services.log.recorder.max_notification_id()
    own = api.get("/customers", who="contoso", min_position=head)
    assert [c["customer_id"] for c in own["items"]] == ["contoso"]
    assert api.get("/customers/contoso", who="contoso")["customer_id"] == "contoso"
    theirs = api.call("GET", "/customers/fabrikam", "contoso")
    missing = api.call("GET", "/customers/nobody", "contoso")
    assert (theirs.status_code, missing.status_code) == (404, 404)
    assert theirs.json()["detail"].replace("fabrikam", "x") == missing.json()["detail"].replace(
        "nobody", "x"
    )
    assert (
        api.call("POST", "/customers/contoso/contacts", "contoso", json=contact_body()).status_code
        == 403
    )


def test_refusals_name_the_rule(api: Api) -> None:
    again = api.call("POST", "/customers", "sales", json=customer_body("contoso"))
    assert (again.status_code, again.json()["type"]) == (
        409,
        "/problems/customer-already-registered",
    )
    unnamed = api.call(
        "POST",
        "/customers",
        "sales",
        json=customer_body("northwind", relationship="indirect_reseller"),
    )
    assert unnamed.json()["type"] == "/problems/indirect-provider-not-named"
    unknown = api.call("POST", "/cases", "agent", json=case_body("nobody"))
    assert (unknown.status_code, unknown.json()["type"]) == (422, "/problems/unknown-customer")
    account = api.call(
        "POST",
        "/accounts",
        "billing",
        json={
            "customer_id": "nobody",
            "currency": "SEK",
            "net_days": 14,
            "billing_period": "monthly",
        },
    )
    assert (account.status_code, account.json()["type"]) == (422, "/problems/unknown-customer")


def test_intake_picks_a_directory_contact(api: Api) -> None:
    added = api.post("/customers/contoso/contacts", contact_body("technical", "en"), who="sales")
    case = api.post("/cases", case_body("contoso", contact_id=added["id"]), who="agent")
    assert api.services.desk.case(UUID(case["id"])).contact.email == "ekonomi@contoso.example"
    theirs = api.post("/customers/fabrikam/contacts", contact_body(), who="sales")
    refused = api.call(
        "POST", "/cases", "agent", json=case_body("contoso", contact_id=theirs["id"])
    )
    assert refused.json()["type"] == "/problems/contact-not-of-customer"
    both = api.call(
        "POST", "/cases", "agent", json={**case_body("contoso"), "contact_id": added["id"]}
    )
    assert both.status_code == 422


@pytest.mark.parametrize(
    ("who", "category", "status"),
    [
        ("billing", "billing", 200),
        ("billing", "technical", 409),
        ("sales", "subscription", 200),
        ("sales", "commercial", 200),
        ("sales", "billing", 409),
    ],
)
def test_billing_admins_and_sales_agents_work_their_cases(
    api: Api, who: str, category: str, status: int
) -> None:
    case = api.post("/cases", case_body("contoso", category), who="agent")
    noted = api.call("POST", f"/cases/{case['id']}/notes", who, json={"text": "Looked at it"})
    assert noted.status_code == status, noted.text
    if status == 409:
        assert noted.json()["type"] == "/problems/category-not-worked-by-role"
