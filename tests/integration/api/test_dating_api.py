"""When facts happened, over HTTP (ADR 32), on SQLite and PostgreSQL: a customer
dates nothing, staff log late only within the allowance (a setting), a case's
steps keep their order, the reopen window is judged when recorded, invoices and
payments fall within the account's history. Every refusal is problem+json with
its rule, and records nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient

from cases.api.app import create_app
from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.domain.metadata import Actor, Role
from cases.settings import Settings
from tests.integration.api.conftest import T0
from tests.support.app_services import services_of
from tests.support.builders import caller, terms

ADMIN = Actor("admin", Role.SYSTEM)
INTAKE = {
    "contact": {"name": "Karin Lund", "email": "karin.lund@contoso.example"},
    "channel": "phone",
    "product": "Exchange Online",
    "category": "billing",
    "severity": "moderate",
    "title": "What is the Azure plan line?",
    "description": "Our March invoice has a line we do not recognise.",
}


@dataclass
class Desk:
    """A client on a fresh store with published terms, a clock and a token per role."""

    client: TestClient
    clock: ManualClock
    tokens: dict[str, str]

    @property
    def services(self) -> Services:
        return services_of(self.client)

    def head(self) -> int:
        return self.services.log.head()

    def post(self, path: str, body: dict[str, Any], who: str = "agent") -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        response: httpx.Response = self.client.post(path, json=body, headers=headers)
        return response

    def ok(self, path: str, body: dict[str, Any], who: str = "agent") -> Any:
        response = self.post(path, body, who)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def refused(
        self, path: str, body: dict[str, Any], status: int, rule: str, who: str = "agent"
    ) -> dict[str, Any]:
        """The request is refused with `rule` as problem+json and records nothing."""
        before = self.head()
        response = self.post(path, body, who)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem: dict[str, Any] = response.json()
        assert problem["type"] == f"/problems/{rule}"
        assert self.head() == before
        return problem

    def case(self, **fields: Any) -> str:
        case_id: str = self.ok("/cases", {"customer_id": "contoso", **INTAKE, **fields})["id"]
        return case_id

    def later(self, **delta: float) -> datetime:
        return self.clock.advance(timedelta(**delta))


def desk_on(client: TestClient, clock: ManualClock) -> Desk:
    desk = Desk(client, clock, {})
    services = desk.services
    for name, role, customer in (
        ("agent", Role.HELPDESK_AGENT, None),
        ("billing", Role.BILLING_ADMIN, None),
        ("karin", Role.CUSTOMER, "contoso"),
    ):
        desk.tokens[name] = services.principals.create(
            caller(ADMIN), name=name, role=role, customer_id=customer
        ).token
    services.desk.publish_terms(caller(ADMIN), terms(), effective_from=T0)
    clock.advance(timedelta(days=40))  # terms in force for a month before now
    return desk


@pytest.fixture
def desk(client: TestClient, api_clock: ManualClock) -> Desk:
    return desk_on(client, api_clock)


def moment(at: datetime) -> str:
    return at.isoformat()


class TestCustomers:
    def test_a_customer_posting_received_at_is_refused(self, desk: Desk) -> None:
        """The case seen in issue 13: a customer's intake dated 30 days back."""
        body = {**INTAKE, "received_at": moment(desk.clock.now() - timedelta(days=30))}
        problem = desk.refused("/cases", body, 403, "customer-cannot-date-acts", who="karin")
        assert "received_at" in problem["detail"]

    def test_even_a_received_at_of_now_is_refused_not_ignored(self, desk: Desk) -> None:
        body = {**INTAKE, "received_at": moment(desk.clock.now())}
        desk.refused("/cases", body, 403, "customer-cannot-date-acts", who="karin")

    def test_a_customers_request_is_received_when_recorded(self, desk: Desk) -> None:
        case_id = desk.ok("/cases", INTAKE, who="karin")["id"]
        case = desk.services.desk.case(UUID(case_id))
        assert case.received_at == desk.clock.now()
        assert case.customer_id == "contoso"


class TestBackdating:
    def test_staff_log_a_request_received_earlier_within_the_allowance(self, desk: Desk) -> None:
        received = desk.clock.now() - timedelta(hours=72)
        case_id = desk.case(received_at=moment(received))
        assert desk.services.desk.case(UUID(case_id)).received_at == received

    def test_staff_cannot_date_a_request_beyond_the_allowance(self, desk: Desk) -> None:
        body = {"customer_id": "contoso", **INTAKE}
        body["received_at"] = moment(desk.clock.now() - timedelta(days=30))
        problem = desk.refused("/cases", body, 422, "backdated-beyond-allowance")
        assert "received_at" in problem["detail"]

    def test_staff_cannot_date_an_act_beyond_the_allowance(self, desk: Desk) -> None:
        case_id = desk.case()
        desk.later(days=4)
        body = {
            "direction": "outbound",
            "channel": "phone",
            "summary": "Called back",
            "occurred_at": moment(desk.clock.now() - timedelta(hours=73)),
        }
        desk.refused(f"/cases/{case_id}/communications", body, 422, "backdated-beyond-allowance")

    def test_the_allowance_is_a_setting(
        self, database_url: str, tmp_path: Path, api_clock: ManualClock
    ) -> None:
        """CASES_BACKDATING_ALLOWANCE_HOURS=1: a call two hours back is refused."""
        settings = Settings(
            database_url=database_url,
            data_dir=tmp_path,
            log_level="WARNING",
            backdating_allowance_hours=1,
        )
        with TestClient(create_app(settings, api_clock, run_projections=False)) as client:
            desk = desk_on(client, api_clock)
            case_id = desk.case()
            desk.later(hours=3)
            call = {"direction": "outbound", "channel": "phone", "summary": "Called back"}
            path = f"/cases/{case_id}/communications"
            two_hours = moment(desk.clock.now() - timedelta(hours=2))
            desk.refused(
                path, {**call, "occurred_at": two_hours}, 422, "backdated-beyond-allowance"
            )
            desk.ok(path, {**call, "occurred_at": moment(desk.clock.now() - timedelta(hours=1))})


class TestStepsInOrder:
    def test_a_close_dated_before_the_resolution_is_refused(self, desk: Desk) -> None:
        case_id = desk.case()
        desk.later(minutes=30)
        resolved = desk.clock.now()
        desk.ok(f"/cases/{case_id}/resolution", {"code": "answered", "summary": "Explained"})
        desk.later(minutes=30)
        body = {"occurred_at": moment(resolved - timedelta(minutes=20))}
        problem = desk.refused(
            f"/cases/{case_id}/close", body, 409, "occurred-before-previous-step"
        )
        assert resolved.isoformat() in problem["detail"]

    def test_a_late_reopening_dated_back_into_the_window_is_refused(self, desk: Desk) -> None:
        """The case seen in issue 13: recorded after the 14-day window, dated inside it."""
        case_id = desk.case()
        desk.ok(f"/cases/{case_id}/resolution", {"code": "answered", "summary": "Explained"})
        closed = desk.clock.now()
        desk.ok(f"/cases/{case_id}/close", {})
        desk.clock.set(closed + timedelta(days=14, hours=2))
        body = {"reason": "Came back", "occurred_at": moment(closed + timedelta(days=13, hours=23))}
        desk.refused(f"/cases/{case_id}/reopen", body, 409, "reopen-window-expired")

    def test_a_call_logged_late_after_a_note_is_taken(self, desk: Desk) -> None:
        """A note sets no course: a call made before it is recorded when it happened."""
        case_id = desk.case()
        desk.later(minutes=20)
        called = desk.clock.now()
        desk.later(minutes=20)
        desk.ok(f"/cases/{case_id}/notes", {"text": "Customer will call back"})
        call = {
            "direction": "outbound",
            "channel": "phone",
            "summary": "Explained the line",
            "occurred_at": moment(called),
        }
        desk.ok(f"/cases/{case_id}/communications", call)
        assert desk.services.desk.case(UUID(case_id)).first_response_at == called


class TestAccountHistory:
    @pytest.fixture
    def account(self, desk: Desk) -> str:
        body = {
            "customer_id": "contoso",
            "currency": "EUR",
            "net_days": 30,
            "billing_period": "monthly",
            "time_zone": "Europe/Stockholm",
        }
        account_id: str = desk.ok("/accounts", body, who="billing")["id"]
        return account_id

    @staticmethod
    def invoice(number: str, issued_on: str) -> dict[str, Any]:
        price = {"amount": "100.00", "currency": "EUR"}
        return {
            "number": number,
            "period": {"starts_on": "2026-03-01", "ends_on": "2026-03-31"},
            "lines": [{"description": "Cloud services", "quantity": 1, "unit_price": price}],
            "issued_on": issued_on,
        }

    def test_an_invoice_issued_tomorrow_is_refused(self, desk: Desk, account: str) -> None:
        tomorrow = desk.clock.now().date() + timedelta(days=1)
        body = self.invoice("F-1", tomorrow.isoformat())
        desk.refused(f"/accounts/{account}/invoices", body, 409, "invoice-in-future", "billing")

    def test_an_invoice_carried_over_from_before_the_account_is_taken(
        self, desk: Desk, account: str
    ) -> None:
        """Up to a year before the opening."""
        last_year = desk.clock.now().date() - timedelta(days=365)
        body = self.invoice("F-0", last_year.isoformat())
        desk.ok(f"/accounts/{account}/invoices", body, "billing")

    def test_a_payment_dated_long_before_the_account_is_refused(
        self, desk: Desk, account: str
    ) -> None:
        body = {
            "reference": "BG-1",
            "amount": {"amount": "100.00", "currency": "EUR"},
            "received_on": "2020-01-01",
        }
        path = f"/accounts/{account}/payments"
        desk.refused(path, body, 409, "dated-before-account-history", "billing")
