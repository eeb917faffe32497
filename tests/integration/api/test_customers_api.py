"""The customer directory over HTTP on SQLite and PostgreSQL: register, contacts,
preferences, intake from a directory contact, unknown customers refused, roles on
cases, and a customer principal seeing its own record only (ADR 0048)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from cases.api.app import create_app
from cases.clock import ManualClock
from cases.domain.metadata import Role
from tests.integration.api.conftest import T0, sealed_settings
from tests.integration.api.test_accounts_api import Api
from tests.support.builders import caller, terms

STAFF = {
    Role.BILLING_ADMIN: "billing",
    Role.HELPDESK_AGENT: "agent",
    Role.SALES_AGENT: "sales",
    Role.AUDITOR: "auditor",
}
TENANT = "5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f"


@pytest.fixture
def directory(client: TestClient, api_clock: ManualClock) -> Api:
    """Staff, two customers' principals, the support terms, and both customers
    in the directory."""
    api = Api(client, api_clock, {})
    for role in (Role.BILLING_ADMIN, Role.HELPDESK_AGENT, Role.SALES_AGENT, Role.AUDITOR):
        api.principal(STAFF[role], role)
    for customer in ("contoso", "fabrikam"):
        api.principal(customer, Role.CUSTOMER, customer_id=customer)
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


def test_a_customer_with_contacts_is_registered_and_read(directory: Api) -> None:
    added = directory.post("/customers/contoso/contacts", contact_body(), who="billing")
    directory.post(
        "/customers/contoso/preferences",
        {"preferences": {"channels": ["email"], "opted_out": ["upcoming_payment_reminder"]}},
        who="sales",
    )
    got = directory.get(
        "/customers/contoso",
        who="agent",
        min_position=directory.services.log.recorder.max_notification_id(),
    )
    assert (got["display_name"], got["relationship"]) == ("Contoso AB", "direct_bill")
    assert got["preferences"]["opted_out"] == ["upcoming_payment_reminder"]
    assert [(c["id"], c["email"], c["language"]) for c in got["contacts"]] == [
        (added["id"], "ekonomi@contoso.example", "sv")
    ]
    listed = directory.get("/customers", who="auditor", limit=1)
    assert [c["customer_id"] for c in listed["items"]] == ["contoso"]
    after = directory.get("/customers", who="auditor", cursor=listed["next_cursor"])
    assert [c["customer_id"] for c in after["items"]] == ["fabrikam"]


def test_a_customer_principal_sees_only_its_own_record(directory: Api) -> None:
    head = directory.services.log.recorder.max_notification_id()
    own = directory.get("/customers", who="contoso", min_position=head)
    assert [c["customer_id"] for c in own["items"]] == ["contoso"]
    assert directory.get("/customers/contoso", who="contoso")["customer_id"] == "contoso"
    theirs = directory.call("GET", "/customers/fabrikam", "contoso")
    missing = directory.call("GET", "/customers/nobody", "contoso")
    assert (theirs.status_code, missing.status_code) == (404, 404)
    assert theirs.json()["detail"].replace("fabrikam", "x") == missing.json()["detail"].replace(
        "nobody", "x"
    )
    assert (
        directory.call(
            "POST", "/customers/contoso/contacts", "contoso", json=contact_body()
        ).status_code
        == 403
    )


def test_refusals_name_the_rule(directory: Api) -> None:
    again = directory.call("POST", "/customers", "sales", json=customer_body("contoso"))
    assert (again.status_code, again.json()["type"]) == (
        409,
        "/problems/customer-already-registered",
    )
    unnamed = directory.call(
        "POST",
        "/customers",
        "sales",
        json=customer_body("northwind", relationship="indirect_reseller"),
    )
    assert unnamed.json()["type"] == "/problems/indirect-provider-not-named"
    unknown = directory.call("POST", "/cases", "agent", json=case_body("nobody"))
    assert (unknown.status_code, unknown.json()["type"]) == (422, "/problems/unknown-customer")
    account = directory.call(
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


def test_intake_picks_a_directory_contact(directory: Api) -> None:
    added = directory.post(
        "/customers/contoso/contacts", contact_body("technical", "en"), who="sales"
    )
    case = directory.post("/cases", case_body("contoso", contact_id=added["id"]), who="agent")
    assert directory.services.desk.case(UUID(case["id"])).contact.email == "ekonomi@contoso.example"
    theirs = directory.post("/customers/fabrikam/contacts", contact_body(), who="sales")
    refused = directory.call(
        "POST", "/cases", "agent", json=case_body("contoso", contact_id=theirs["id"])
    )
    assert refused.json()["type"] == "/problems/contact-not-of-customer"
    both = directory.call(
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
    directory: Api, who: str, category: str, status: int
) -> None:
    case = directory.post("/cases", case_body("contoso", category), who="agent")
    noted = directory.call("POST", f"/cases/{case['id']}/notes", who, json={"text": "Looked at it"})
    assert noted.status_code == status, noted.text
    if status == 409:
        assert noted.json()["type"] == "/problems/category-not-worked-by-role"


def test_name_tenant_and_relationship_change_over_http(directory: Api) -> None:
    """Each change takes If-Match and an Idempotency-Key; the read model follows."""
    head = directory.services.log.recorder.max_notification_id()
    version = directory.get("/customers/contoso", who="sales", min_position=head)["version"]
    renamed = directory.post(
        "/customers/contoso/name",
        {"display_name": "Contoso Group AB"},
        who="sales",
        headers={"If-Match": f'"{version}"', "Idempotency-Key": "rename-contoso"},
    )
    replayed = directory.call(
        "POST",
        "/customers/contoso/name",
        "sales",
        json={"display_name": "Contoso Group AB"},
        headers={"If-Match": f'"{version}"', "Idempotency-Key": "rename-contoso"},
    )
    assert replayed.json() == renamed
    assert replayed.headers["Idempotent-Replayed"] == "true"
    stale = directory.call(
        "POST",
        "/customers/contoso/name",
        "sales",
        json={"display_name": "Contoso Oy"},
        headers={"If-Match": f'"{version}"'},
    )
    assert stale.status_code == 412
    directory.post(
        "/customers/contoso/tenant",
        {"tenant_id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "primary_domain": "contoso.test"},
        who="billing",
    )
    changed = directory.post(
        "/customers/contoso/relationship",
        {"relationship": "indirect_reseller", "indirect_provider": "Tech Data AB"},
        who="sales",
    )
    got = directory.get("/customers/contoso", who="contoso", min_position=changed["position"])
    assert (
        got["display_name"],
        got["tenant_id"],
        got["primary_domain"],
        got["relationship"],
        got["indirect_provider"],
        got["version"],
    ) == (
        "Contoso Group AB",
        "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "contoso.test",
        "indirect_reseller",
        "Tech Data AB",
        changed["version"],
    )


def test_changes_to_a_customer_are_refused_with_the_rule(directory: Api) -> None:
    same = directory.call(
        "POST", "/customers/contoso/name", "sales", json={"display_name": "Contoso AB"}
    )
    assert (same.status_code, same.json()["type"]) == (409, "/problems/customer-unchanged")
    unnamed = directory.call(
        "POST",
        "/customers/contoso/relationship",
        "sales",
        json={"relationship": "indirect_reseller"},
    )
    assert (unnamed.status_code, unnamed.json()["type"]) == (
        409,
        "/problems/indirect-provider-not-named",
    )
    bad_tenant = directory.call(
        "POST",
        "/customers/contoso/tenant",
        "sales",
        json={"tenant_id": "x" * 36, "primary_domain": "contoso.example"},
    )
    assert (bad_tenant.status_code, bad_tenant.json()["type"]) == (422, "/problems/invalid-value")
    by_customer = directory.call(
        "POST", "/customers/contoso/name", "contoso", json={"display_name": "Mine AB"}
    )
    by_agent = directory.call(
        "POST", "/customers/contoso/name", "agent", json={"display_name": "Mine AB"}
    )
    assert (by_customer.status_code, by_agent.status_code) == (403, 403)
    missing = directory.call(
        "POST", "/customers/nobody/name", "sales", json={"display_name": "Nobody AB"}
    )
    assert missing.status_code == 404
    assert directory.services.customers.customer("contoso").version == 1


SECRET = "whsec-contoso-0123456789abcdef0123"  # noqa: S105 - a test secret


@pytest.fixture
def sealed_directory(database_url: str, tmp_path: Path, api_clock: ManualClock) -> Iterator[Api]:
    """The directory on a store with a master key (secrets can be sealed)."""
    settings = sealed_settings(database_url, tmp_path)
    with TestClient(create_app(settings, api_clock, run_projections=True)) as client:
        api = Api(client, api_clock, {})
        api.principal("sales", Role.SALES_AGENT)
        api.principal("contoso", Role.CUSTOMER, customer_id="contoso")
        api.post("/customers", customer_body("contoso"), who="sales")
        yield api


def test_a_webhook_secret_is_set_and_never_answered(
    sealed_directory: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    path = "/customers/contoso/webhook-secret"
    set_ = sealed_directory.call(
        "POST", path, "sales", json={"secret": SECRET, "overlap_hours": 12}
    )
    assert set_.status_code == 200, set_.text
    assert set_.json()["version"] == 2
    customer = sealed_directory.services.customers.customer("contoso")
    assert [s.retires_at for s in customer.webhook_secrets] == [None]
    again = sealed_directory.call("POST", path, "sales", json={"secret": SECRET})
    assert (again.status_code, again.json()["type"]) == (409, "/problems/customer-unchanged")
    short = sealed_directory.call("POST", path, "sales", json={"secret": "short"})
    by_customer = sealed_directory.call("POST", path, "contoso", json={"secret": SECRET})
    assert (short.status_code, by_customer.status_code) == (422, 403)
    shown = sealed_directory.get(
        "/customers/contoso", who="sales", min_position=set_.json()["position"]
    )
    assert shown["version"] == 2  # the read model follows, so If-Match works
    answered = " ".join([set_.text, again.text, short.text, str(shown)])
    logged = capsys.readouterr()
    assert SECRET not in answered
    assert SECRET not in logged.out + logged.err


def test_without_a_master_key_a_webhook_secret_is_refused(directory: Api) -> None:
    refused = directory.call(
        "POST", "/customers/contoso/webhook-secret", "sales", json={"secret": SECRET}
    )
    assert (refused.status_code, refused.json()["type"]) == (
        409,
        "/problems/webhook-secret-not-sealable",
    )
