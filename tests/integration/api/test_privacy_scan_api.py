"""Issue 15's scan over HTTP, on SQLite and PostgreSQL: a case recorded and worked
through the API with Idempotency-Keys (so the stored answers exist), then its
contact erased. Afterwards no table (events, snapshots, read models, idempotency
records, any shadow), no JSON log line of the run and no API answer, the replayed
idempotent answer included, holds any of the contact's values (ADR 0044)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from cases.api.app import create_app
from cases.clock import ManualClock
from cases.db.schema import migrate
from cases.domain.metadata import Role
from cases.persistence.database_url import parse_database_url
from cases.persistence.subject_keys import MasterKey
from cases.settings import Settings
from tests.integration.api.test_terms_api import Api, ok
from tests.support.app_services import services_of
from tests.support.builders import caller, terms
from tests.support.plaintext import tables_holding

PERSONAL = [
    "Signe Qvist",
    "signe.qvist@fabrikam.example",
    "+46 70 555 01 99",
    "Zebra-7781 mailbox quota",
    "Signe reports the Zebra-7781 archive",
    "Signe called back about Zebra-7781",
]
INTAKE = {
    "customer_id": "contoso",
    "contact": {"name": PERSONAL[0], "email": PERSONAL[1], "phone": PERSONAL[2]},
    "channel": "phone",
    "product": "Exchange Online",
    "category": "technical",
    "severity": "moderate",
    "title": PERSONAL[3],
    "description": PERSONAL[4],
}
DEADLINE = 60.0  # seconds for the in-process read models to catch up: a bound, not a timing


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    migrate(parse_database_url(database_url))
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        master_key=MasterKey.generate().as_text(),  # type: ignore[arg-type]
        snapshot_interval=2,
    )


@pytest.fixture
def api(settings: Settings, api_clock: ManualClock) -> Iterator[Api]:
    with TestClient(create_app(settings, api_clock, run_projections=True)) as client:
        yield Api(client, api_clock)


def keyed(api: Api, path: str, key: str, body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {api.tokens[Role.HELPDESK_AGENT]}", "Idempotency-Key": key}
    response: httpx.Response = api.client.post(path, headers=headers, json=body)
    return response


def test_after_erasure_no_table_log_line_or_answer_holds_the_contacts_values(
    api: Api, settings: Settings
) -> None:
    services = services_of(api.client)
    services.desk.publish_terms(caller(), terms(), effective_from=api.clock.now())
    api.clock.advance(timedelta(minutes=5))
    with capture_logs() as logs:
        opened = keyed(api, "/cases", "intake-1", INTAKE)
        assert opened.status_code in (200, 201), opened.text
        case_id = opened.json()["id"]
        for n in range(3):  # past the snapshot interval: snapshots hold the case too
            noted = keyed(api, f"/cases/{case_id}/notes", f"note-{n}", {"text": PERSONAL[5]})
            assert noted.status_code == 200, noted.text
        refused = keyed(api, f"/cases/{uuid4()}/notes", "refused-1", {"text": PERSONAL[5]})
        assert refused.status_code == 404, refused.text  # a refusal's answer is kept
        url = settings.effective_database_url
        assert "idempotency_keys" in tables_holding(url, services.log, ["refused-1"])
        erased = api.call(
            "POST",
            f"/privacy/subjects/{case_id}/erasure",
            Role.USER_MANAGEMENT_ADMIN,
            {"reason": "Article 17 request 2026-200"},
        )
        assert erased.status_code == 200, erased.text
        seen = {"min_position": erased.json()["position"]}  # the read models past the erasure

        answers = [
            keyed(api, "/cases", "intake-1", INTAKE),  # answered again from its step (ADR 95)
            api.call("GET", f"/cases/{case_id}", Role.HELPDESK_AGENT, **seen),
            api.call("GET", f"/cases/{case_id}/history", Role.AUDITOR),
            api.call("GET", f"/cases/{case_id}/replay", Role.AUDITOR),
            api.call("GET", "/timeline", Role.AUDITOR, case_id=case_id, **seen),
            api.call("GET", "/cases", Role.HELPDESK_AGENT, **seen),
            api.call("GET", f"/privacy/subjects/{case_id}/export", Role.USER_MANAGEMENT_ADMIN),
        ]
        # after reads that waited for the read models to pass the erasure
        deadline = time.monotonic() + DEADLINE
        while (found := tables_holding(url, services.log, PERSONAL)) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert found == {}
    for answer in answers:
        assert answer.status_code < 300, (answer.request.url, answer.text)
        assert [v for v in PERSONAL if v in answer.text] == [], answer.request.url
    assert ok(answers[1])["title"] == "erased"
    assert answers[0].json()["id"] == case_id
    assert logs
    assert [v for v in PERSONAL if v in repr(logs)] == []
