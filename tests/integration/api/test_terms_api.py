"""The support terms and the collection policy over HTTP: publishing versions,
reading the one in force at a moment, refusals of malformed terms and of roles
without the permission; on SQLite and PostgreSQL through FastAPI's TestClient."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from cases.clock import ManualClock
from cases.domain.metadata import Actor, Role
from tests.integration.api.conftest import T0
from tests.support.app_services import services_of
from tests.support.builders import caller

ROLES: list[Role] = [role for role in Role if role is not Role.SYSTEM]  # SYSTEM is no principal's
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")

TERMS: dict[str, Any] = {
    "vendor_name": "Microsoft",
    "partner_kind": "indirect_reseller",
    "arrangement": {"model": "resold", "coverage": "part", "provider_name": "Crayon"},
    "service_hours": {
        "time_zone": "Europe/Stockholm",
        "weekly": [
            *({"weekday": day, "start": "08:00", "end": "17:00"} for day in WEEKDAYS),
            {"weekday": "saturday", "start": "22:00", "end": "24:00"},
        ],
        "holiday_country": "SE",
        "holidays": ["2026-12-24", "2026-12-31"],
    },
    "contact_methods": [
        {"channel": "phone", "address": "+46 8 123 456 00"},
        {"channel": "portal", "address": "https://support.partner.example"},
    ],
    "pricing": {"charged": True, "description": "Included up to 10 cases a month."},
    "held_vehicles": ["advanced_support_for_partners"],
    "targets": [
        {"severity": "critical", "first_response_minutes": 60, "next_update_minutes": 120,
         "resolution_minutes": 480},
        {"severity": "moderate", "first_response_minutes": 240, "next_update_minutes": 480,
         "resolution_minutes": 2400},
        {"severity": "minimal", "first_response_minutes": 480, "next_update_minutes": 960,
         "resolution_minutes": 4800},
    ],
    "reopen_window_days": 14,
}  # fmt: skip
POLICY: dict[str, Any] = {
    "stages": [
        {"days": -7, "action": "upcoming_payment_reminder"},
        {"days": 1, "action": "overdue_reminder"},
        {"days": 14, "action": "final_warning"},
        {"days": 30, "action": "suspend_access", "products": ["Microsoft 365 E3"]},
    ],
    "spare_paid_in_advance": False,
}


class Api:
    """A client on a fresh store, a manual clock, and a token per role."""

    def __init__(self, client: TestClient, clock: ManualClock) -> None:
        self.client = client
        self.clock = clock
        services = services_of(client)
        admin = caller(Actor("admin", Role.SYSTEM))
        self.tokens = {
            role: services.principals.create(
                admin,
                name=role.value,
                role=role,
                customer_id="contoso" if role is Role.CUSTOMER else None,
            ).token
            for role in ROLES
        }

    def call(
        self, method: str, path: str, role: Role, body: Any = None, **params: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        response: httpx.Response = self.client.request(
            method, path, headers=headers, json=body, params=params
        )
        return response


@pytest.fixture
def api(client: TestClient, api_clock: ManualClock) -> Api:
    return Api(client, api_clock)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def changed(path: str, value: Any) -> dict[str, Any]:
    """TERMS with the field at the dotted `path` set to `value` (or removed: ...)."""
    terms = copy.deepcopy(TERMS)
    *parents, last = path.split(".")
    node: Any = terms
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    key: Any = int(last) if last.isdigit() else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return terms


# Support terms ----------------------------------------------------------------


def test_published_terms_read_back_as_published(api: Api) -> None:
    """A version published now is in force at once and reads back in the shape it
    was published in, "24:00" and holidays included; every role may read it."""
    problem(api.call("GET", "/support-offering/terms", Role.CUSTOMER), 404)
    response = api.call("POST", "/support-offering/terms", Role.USER_MANAGEMENT_ADMIN, TERMS)
    published = ok(response, 201)
    assert published["published_version"] == 1
    assert response.headers["Location"] == "/support-offering/terms/1"

    for role in ROLES:
        in_force = ok(api.call("GET", "/support-offering/terms", role))
        assert in_force.pop("version") == 1
        assert in_force.pop("effective_from") == "2026-03-02T08:00:00Z"
        assert in_force == TERMS
    assert ok(api.call("GET", "/support-offering/terms/1", Role.AUDITOR))["version"] == 1


def test_a_later_version_takes_effect_when_it_says(api: Api) -> None:
    """Terms published for next month leave today's in force; `at` reads either;
    a version never published is not found; a retroactive one conflicts."""
    ok(api.call("POST", "/support-offering/terms", Role.USER_MANAGEMENT_ADMIN, TERMS), 201)
    later = {**TERMS, "reopen_window_days": 30, "effective_from": "2026-04-01T00:00:00+02:00"}
    assert (
        ok(api.call("POST", "/support-offering/terms", Role.USER_MANAGEMENT_ADMIN, later), 201)[
            "published_version"
        ]
        == 2
    )

    assert ok(api.call("GET", "/support-offering/terms", Role.CUSTOMER))["version"] == 1
    april = ok(
        api.call("GET", "/support-offering/terms", Role.CUSTOMER, at="2026-04-01T00:00+02:00")
    )
    assert (april["version"], april["reopen_window_days"]) == (2, 30)
    assert ok(api.call("GET", "/support-offering/terms/2", Role.SALES_AGENT))["version"] == 2
    missing = problem(api.call("GET", "/support-offering/terms/3", Role.SALES_AGENT), 404)
    assert missing["type"] == "/problems/no-terms-in-force"
    before = problem(
        api.call("GET", "/support-offering/terms", Role.AUDITOR, at="2026-03-01T00:00:00Z"), 404
    )
    assert before["type"] == "/problems/no-terms-in-force"

    past = {**TERMS, "effective_from": (T0 - timedelta(days=1)).isoformat()}
    refused = problem(
        api.call("POST", "/support-offering/terms", Role.USER_MANAGEMENT_ADMIN, past), 409
    )
    assert refused["type"] == "/problems/retroactive-terms"


@pytest.mark.parametrize(
    ("path", "value", "field", "kind"),
    [
        ("vendor_name", "M" * 101, "body.vendor_name", "string_too_long"),
        ("partner_kind", "reseller", "body.partner_kind", "enum"),
        ("colour", "blue", "body.colour", "extra_forbidden"),
        ("arrangement.provider_name", None, "body.arrangement", "invalid-value"),
        ("service_hours.time_zone", "Europe/Gotham", "body.service_hours.time_zone", "value_error"),
        ("service_hours.holiday_country", "XX", "body.service_hours.holiday_country",
         "value_error"),
        ("service_hours.holidays", ["24/12/2026"], "body.service_hours.holidays.0", "value_error"),
        ("service_hours.weekly.0.weekday", "funday", "body.service_hours.weekly.0.weekday", "enum"),
        ("service_hours.weekly.0.start", "8:00", "body.service_hours.weekly.0.start",
         "string_pattern_mismatch"),
        ("service_hours.weekly.0.end", "07:00", "body.service_hours.weekly.0", "invalid-value"),
        ("service_hours.weekly.1", {"weekday": "monday", "start": "16:00", "end": "18:00"},
         "body.service_hours", "invalid-value"),
        ("targets.2.severity", "critical", "body.targets", "value_error"),
        ("targets.0.resolution_minutes", 30, "body.targets.0", "invalid-value"),
        ("contact_methods", [], "body.contact_methods", "too_short"),
        ("reopen_window_days", 366, "body.reopen_window_days", "less_than_equal"),
        ("effective_from", "2026-04-01T00:00:00", "body.effective_from", "value_error"),
        ("pricing", ..., "body.pricing", "missing"),
    ],
)  # fmt: skip
def test_malformed_terms_are_refused_naming_the_field(
    api: Api, path: str, value: Any, field: str, kind: str
) -> None:
    """422 problem+json naming the part of the terms and why; nothing published."""
    response = api.call(
        "POST", "/support-offering/terms", Role.USER_MANAGEMENT_ADMIN, changed(path, value)
    )
    errors = problem(response, 422)["errors"]
    assert (field, kind) in {(e["field"], e["type"]) for e in errors}, errors
    problem(api.call("GET", "/support-offering/terms", Role.AUDITOR), 404)


# Collection policy ------------------------------------------------------------


def test_a_published_policy_is_in_force_with_its_customer_text(api: Api) -> None:
    """The billing admin publishes; customers read the stages and the text that
    says when non-payment affects access."""
    problem(api.call("GET", "/collection-policy", Role.CUSTOMER), 404)
    response = api.call("POST", "/collection-policy", Role.BILLING_ADMIN, POLICY)
    assert ok(response, 201)["published_version"] == 1
    assert response.headers["Location"] == "/collection-policy/1"

    policy = ok(api.call("GET", "/collection-policy", Role.CUSTOMER))
    assert policy["version"] == 1
    assert policy["stages"][3] == POLICY["stages"][3]
    assert policy["stages"][0]["products"] == []
    assert "we suspend access to your Microsoft 365 E3 subscriptions" in policy["customer_text"]
    assert ok(api.call("GET", "/collection-policy/1", Role.HELPDESK_AGENT)) == policy

    api.clock.advance(timedelta(days=1))
    gentler = {"stages": [{"days": 1, "action": "overdue_reminder"}]}
    ok(api.call("POST", "/collection-policy", Role.BILLING_ADMIN, gentler), 201)
    now = ok(api.call("GET", "/collection-policy", Role.AUDITOR))
    assert now["version"] == 2
    assert "does not affect your access" in now["customer_text"]
    then = ok(api.call("GET", "/collection-policy", Role.AUDITOR, at=T0.isoformat()))
    assert then["version"] == 1
    problem(api.call("GET", "/collection-policy/3", Role.AUDITOR), 404)


@pytest.mark.parametrize(
    ("stages", "field", "kind"),
    [
        ([{"days": 5, "action": "upcoming_payment_reminder"}], "body.stages.0", "stage-timing"),
        ([{"days": 7, "action": "overdue_reminder"}, {"days": 1, "action": "overdue_reminder"}],
         "body.stages", "stages-out-of-order"),
        ([{"days": 30, "action": "suspend_access"}], "body.stages", "suspension-without-warning"),
        ([{"days": 1, "action": "overdue_reminder", "products": ["E3"]}], "body.stages.0",
         "invalid-value"),
        ([{"days": 400, "action": "overdue_reminder"}], "body.stages.0.days", "less_than_equal"),
        ([{"days": 1, "action": "nag"}], "body.stages.0.action", "enum"),
        ([], "body.stages", "too_short"),
    ],
)  # fmt: skip
def test_malformed_policies_are_refused_naming_the_rule(
    api: Api, stages: list[dict[str, Any]], field: str, kind: str
) -> None:
    """422 problem+json naming the stage and the broken rule; nothing published."""
    response = api.call("POST", "/collection-policy", Role.BILLING_ADMIN, {"stages": stages})
    errors = problem(response, 422)["errors"]
    assert (field, kind) in {(e["field"], e["type"]) for e in errors}, errors
    problem(api.call("GET", "/collection-policy", Role.BILLING_ADMIN), 404)


# Roles --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "path", "body"),
    [
        (Role.BILLING_ADMIN, "/support-offering/terms", TERMS),
        (Role.HELPDESK_AGENT, "/support-offering/terms", TERMS),
        (Role.CUSTOMER, "/support-offering/terms", TERMS),
        (Role.USER_MANAGEMENT_ADMIN, "/collection-policy", POLICY),
        (Role.SALES_AGENT, "/collection-policy", POLICY),
        (Role.AUDITOR, "/collection-policy", POLICY),
        (Role.CUSTOMER, "/collection-policy", POLICY),
    ],
)
def test_only_roles_with_the_permission_publish(
    api: Api, role: Role, path: str, body: dict[str, Any]
) -> None:
    """403 problem+json, and nothing is published."""
    assert problem(api.call("POST", path, role, body), 403)["type"] == "/problems/forbidden"
    problem(api.call("GET", path, Role.AUDITOR), 404)
