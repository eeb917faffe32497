"""Erasing a data subject over HTTP (ADR 0044): the user management admin only,
404 problem+json for an unknown subject, no-op the second time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from cases.api.app import create_app
from cases.clock import ManualClock
from cases.db.schema import migrate
from cases.domain.metadata import Role
from cases.persistence.database_url import parse_database_url
from tests.integration.api.conftest import sealed_settings
from tests.integration.api.test_terms_api import Api, ok, problem

ERASE = {"reason": "Article 17 request 2026-114"}


@pytest.fixture
def sealed_api(database_url: str, tmp_path: Path, api_clock: ManualClock) -> Iterator[Api]:
    migrate(parse_database_url(database_url))
    settings = sealed_settings(database_url, tmp_path)
    with TestClient(create_app(settings, api_clock, run_projections=False)) as client:
        yield Api(client, api_clock)


def test_the_admin_erases_a_principal_once(sealed_api: Api) -> None:
    auditor = ok(sealed_api.call("GET", "/principals/me", Role.AUDITOR))
    path = f"/privacy/subjects/{auditor['id']}/erasure"

    first = ok(sealed_api.call("POST", path, Role.USER_MANAGEMENT_ADMIN, ERASE))
    assert (first["kind"], first["already_erased"]) == ("principal", False)
    again = ok(sealed_api.call("POST", path, Role.USER_MANAGEMENT_ADMIN, ERASE))
    assert (again["already_erased"], again["erasure_id"]) == (True, first["erasure_id"])

    listed = ok(sealed_api.call("GET", "/principals", Role.USER_MANAGEMENT_ADMIN))
    assert {p["name"] for p in listed if p["id"] == auditor["id"]} == {"erased"}


def test_an_unknown_subject_is_a_404_problem(sealed_api: Api) -> None:
    subject = uuid4()
    response = sealed_api.call(
        "POST", f"/privacy/subjects/{subject}/erasure", Role.USER_MANAGEMENT_ADMIN, ERASE
    )
    body = problem(response, 404)
    assert body["type"].endswith("/unknown-subject")
    assert str(subject) in body["detail"]


def test_only_the_user_management_admin_may_erase(sealed_api: Api) -> None:
    auditor = ok(sealed_api.call("GET", "/principals/me", Role.AUDITOR))
    path = f"/privacy/subjects/{auditor['id']}/erasure"
    problem(sealed_api.call("POST", path, Role.HELPDESK_AGENT, ERASE), 403)
    problem(sealed_api.call("POST", path, Role.USER_MANAGEMENT_ADMIN, {"reason": ""}), 422)


def test_find_by_name_in_the_body_and_export(sealed_api: Api) -> None:
    auditor = ok(sealed_api.call("GET", "/principals/me", Role.AUDITOR))
    found = ok(
        sealed_api.call(
            "POST", "/privacy/subjects/search", Role.USER_MANAGEMENT_ADMIN, {"name": "AUDITOR"}
        )
    )
    assert found == [{"subject_id": auditor["id"], "kind": "principal"}]
    export = ok(
        sealed_api.call(
            "GET", f"/privacy/subjects/{auditor['id']}/export", Role.USER_MANAGEMENT_ADMIN
        )
    )
    assert export["events"][0]["details"]["name"] == "auditor"
    assert export["erased"] is False


def test_a_refused_intake_does_not_echo_the_contact(sealed_api: Api) -> None:
    body = {
        "customer_id": "contoso",
        "contact": {"name": "Karin Lund", "email": "karin.lund-at-contoso.example"},
        "channel": "phone",
        "product": "Exchange Online",
        "category": "technical",
        "severity": "moderate",
        "title": "Outbound mail delayed",
        "description": "Karin Lund says the queue grows",
    }
    response = sealed_api.call("POST", "/cases", Role.HELPDESK_AGENT, body)
    assert response.status_code == 422, response.text
    assert "karin.lund-at-contoso.example" not in response.text
    assert "Karin Lund" not in response.text
