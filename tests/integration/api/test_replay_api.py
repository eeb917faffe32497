"""Auditor replay over HTTP: `GET /cases/{id}/replay` and `GET /accounts/{id}/replay`
on SQLite and PostgreSQL: each event with its metadata and changes, cut-offs, who
may read it, and refusals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi.testclient import TestClient

from cases.clock import ManualClock
from cases.domain import billing_commands as bcmd
from cases.domain import case_commands as cmd
from cases.domain.billing_values import BillingPeriod, InvoiceLine, InvoicePeriod
from cases.domain.metadata import Actor, Role
from cases.domain.money import Money, UnitPrice
from cases.domain.permissions import ROLE_PERMISSIONS, Permission
from tests.integration.api.conftest import T0
from tests.support.app_services import services_of
from tests.support.builders import caller, intake, is_clock_fact, terms, vendor_round_trip

ADMIN = Actor("admin", Role.SYSTEM)
BEA = Actor("billing-bea", Role.BILLING_ADMIN)
ROLES = [r for r in Role if r is not Role.SYSTEM]  # a principal cannot be the system


@dataclass
class Audit:
    """A client, a token per role, and a case and an account with histories."""

    client: TestClient
    tokens: dict[Role, str]
    case_id: UUID
    account_id: UUID
    case_reached: list[int]  # the case's version after each command (its receipt's)

    def get(self, path: str, role: Role = Role.AUDITOR, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        response: httpx.Response = self.client.get(path, headers=headers, params=params)
        return response


@pytest.fixture
def audit(client: TestClient, api_clock: ManualClock) -> Audit:
    """A case escalated, referenced, handed back, resolved, closed and reopened
    (eight commands ten minutes apart from T0 + 10 min, each recording one event
    of the case and the clock facts it brings); an account with a 1 000 EUR
    invoice paid 400 EUR; a principal of every role."""
    services = services_of(client)
    tokens: dict[Role, str] = {
        role: services.principals.create(
            caller(ADMIN),
            name=f"{role.value}-1",
            role=role,
            customer_id="contoso" if role is Role.CUSTOMER else None,
        ).token
        for role in ROLES
    }
    desk, who = services.desk, caller()
    desk.publish_terms(who, terms(), effective_from=T0)
    api_clock.advance(timedelta(minutes=10))
    received = desk.receive_case(who, cmd.TakeIn(received_at=api_clock.now(), **intake()))
    case_id, reached = received.aggregate_id, [received.version]
    for command in vendor_round_trip():
        api_clock.advance(timedelta(minutes=10))
        reached.append(desk.handle(who, case_id, command).version)
    office = services.billing
    account_id = office.open_account(
        caller(BEA),
        bcmd.OpenAccount(
            customer_id="contoso", currency="EUR", net_days=30, billing_period=BillingPeriod.MONTHLY
        ),
    ).aggregate_id
    office.handle(
        caller(BEA),
        account_id,
        bcmd.IssueInvoice(
            number="F-2001",
            period=InvoicePeriod(date(2026, 3, 1), date(2026, 3, 31)),
            lines=(
                InvoiceLine("Microsoft 365 E3, 25 seats", Decimal(25), UnitPrice.of(40, "EUR")),
            ),
            issued_on=date(2026, 3, 2),
        ),
    )
    office.handle(
        caller(BEA),
        account_id,
        bcmd.ReceivePayment(
            reference="B-1", amount=Money.of(400, "EUR"), received_on=date(2026, 3, 2)
        ),
    )
    return Audit(client, tokens, case_id, account_id, reached)


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def changes(step: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {c["path"]: (c["before"], c["after"]) for c in step["changes"]}


def own_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps of the case's own events, without its service-level clock facts."""
    return [s for s in steps if not is_clock_fact(s["event_type"])]


def test_an_auditor_replays_a_case(audit: Audit) -> None:
    """Each event with its metadata, a summary and what it changed, values as JSON."""
    response = audit.get(f"/cases/{audit.case_id}/replay")
    assert response.status_code == 200, response.text
    steps = response.json()
    assert [s["version"] for s in steps] == list(range(1, audit.case_reached[-1] + 1))
    own = own_steps(steps)
    assert len(own) == len(audit.case_reached)
    started = steps[1]  # the intake's first clock fact
    assert started["event_type"] == "SupportCase.ServiceClockStarted"
    assert started["summary"].startswith("Started the first response clock at ")
    assert (None, "first_response") in changes(started).values()
    escalated = own[2]
    assert escalated["event_type"] == "SupportCase.Escalated"
    assert escalated["summary"].startswith("Escalation 1 to the vendor")
    assert escalated["actor"] == {"principal_id": "agent-anna", "role": "helpdesk_agent"}
    assert escalated["source"] == "api"
    assert escalated["correlation_id"]
    assert escalated["occurred_at"] == escalated["recorded_at"]
    assert changes(escalated)["escalations[1].escalated_at"] == (None, at(30))
    assert changes(escalated)["status"] == ("in_progress", "escalated")
    assert changes(own[3]) == {"escalations[1].vendor_reference": (None, "2611080040012345")}
    assert changes(own[7])["resolution.code"] == ("fixed_by_vendor", None)
    assert changes(own[7])["reopen_count"] == (0, 1)


def test_an_auditor_replays_an_account_with_exact_money(audit: Audit) -> None:
    """Money is `{amount, currency}` with string amounts; invoices go by number."""
    response = audit.get(f"/accounts/{audit.account_id}/replay")
    assert response.status_code == 200, response.text
    issued, paid = response.json()[1:]
    assert changes(issued)["invoices[F-2001].total"] == (
        None,
        {"amount": "1000.00", "currency": "EUR"},
    )
    assert changes(issued)["invoices[F-2001].due_on"] == (None, "2026-04-01")
    assert changes(issued)["invoices[F-2001].lines[0].quantity"] == (None, "25")
    assert changes(paid)["invoices[F-2001].settled"] == (
        {"amount": "0.00", "currency": "EUR"},
        {"amount": "400.00", "currency": "EUR"},
    )
    assert changes(paid)["payment_references[0]"] == (None, "B-1")


def test_version_and_as_of_cut_the_replay(audit: Audit) -> None:
    """`version` stops after it; `as_of` after the last event recorded by then."""
    everything = audit.get(f"/cases/{audit.case_id}/replay").json()
    escalated = own_steps(everything)[2]["version"]
    by_version = audit.get(f"/cases/{audit.case_id}/replay", version=escalated).json()
    assert [s["version"] for s in by_version] == list(range(1, escalated + 1))
    assert by_version[-1]["event_type"] == "SupportCase.Escalated"
    # Commands ran at T0 + 10, 20, ... minutes: by T0 + 59 the fifth (the hand-back).
    by_moment = audit.get(f"/cases/{audit.case_id}/replay", as_of=at(59)).json()
    assert [s["version"] for s in by_moment] == list(range(1, audit.case_reached[4] + 1))


@pytest.mark.parametrize("role", ROLES)
def test_only_roles_that_read_histories_may_replay(audit: Audit, role: Role) -> None:
    """Roles with `read_history` get the replay; the others 403, for both routes."""
    allowed = Permission.READ_HISTORY in ROLE_PERMISSIONS[role]
    for path in (f"/cases/{audit.case_id}/replay", f"/accounts/{audit.account_id}/replay"):
        response = audit.get(path, role)
        assert response.status_code == (200 if allowed else 403), (role, response.text)
    assert allowed is (role in {Role.AUDITOR, Role.HELPDESK_AGENT, Role.BILLING_ADMIN})


def test_unknown_ids_versions_moments_are_404_and_naive_moments_422(audit: Audit) -> None:
    """Nothing to replay is 404 under the not-found rule; a moment without an offset
    or a version below 1 is 422."""
    case = f"/cases/{audit.case_id}/replay"
    for path, params in (
        (f"/cases/{uuid4()}/replay", {}),
        (f"/cases/{audit.account_id}/replay", {}),
        (f"/accounts/{audit.case_id}/replay", {}),
        (case, {"version": audit.case_reached[-1] + 1}),
        (case, {"as_of": at(5)}),
    ):
        response = audit.get(path, **params)
        assert response.status_code == 404, (path, params, response.text)
        assert response.json()["type"] == "/problems/not-found"
    assert audit.get(case, as_of="2026-03-02T09:00:00").status_code == 422
    assert audit.get(case, version=0).status_code == 422


def test_without_a_token_is_401(audit: Audit) -> None:
    """No bearer token, no replay."""
    assert audit.client.get(f"/cases/{audit.case_id}/replay").status_code == 401
