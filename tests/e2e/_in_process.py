"""The app in this process (FastAPI's TestClient on SQLite), for tests that need no
real server: authorisation and input validation do not depend on the process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from cases.api.app import create_app
from cases.api.direct_commands import DirectCommandRoute
from cases.application.caller import Caller
from cases.domain.metadata import Actor, Role, Source
from cases.settings import Settings
from tests.e2e._access import CUSTOMER, ROLES, Operation
from tests.e2e._api import intake
from tests.support.app_services import services_of
from tests.support.builders import terms

SETUP = Actor("in-process-setup", Role.SYSTEM)


@dataclass
class InProcessApi:
    """A client of the app, a token per role, and a case of the customer's."""

    client: TestClient
    tokens: dict[str, str]
    case_id: str

    def headers(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}

    def call(self, operation: Operation, token: str | None) -> Any:
        """The operation on the customer's case, with an empty body for a POST."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = operation.url(case_id=self.case_id, rule="forbidden")
        if operation.method == "GET":
            return self.client.get(url, headers=headers)
        return self.client.request(operation.method, url, json={}, headers=headers)


@contextmanager
def in_process_api(
    folder: Path, *, metrics_enabled: bool = True, direct_commands: bool = True
) -> Iterator[InProcessApi]:
    """The app on a fresh SQLite store: terms, a principal per role (the customer
    bound to contoso), and one case of contoso's. Without `direct_commands`, every
    command goes through FastAPI's own route (ADR 94)."""
    settings = Settings(
        database_url=f"sqlite:///{folder / 'events.db'}",
        data_dir=folder,
        metrics_enabled=metrics_enabled,
    )
    app = create_app(settings)
    if not direct_commands:
        app.router.routes[:] = [
            r for r in app.router.routes if not isinstance(r, DirectCommandRoute)
        ]
    with TestClient(app) as client:
        services = services_of(client)
        yesterday = services.clock.now() - timedelta(days=1)
        setup = Caller.new(SETUP, Source.CLI)
        services.desk.publish_terms(setup.at(yesterday), terms(), yesterday)
        tokens = {
            role: services.principals.create(
                setup,
                name=f"The {role}",
                role=Role(role),
                customer_id="contoso" if role == CUSTOMER else None,
            ).token
            for role in ROLES
        }
        opened = client.post(
            "/cases",
            json=intake("contoso"),
            headers={"Authorization": f"Bearer {tokens[CUSTOMER]}"},
        )
        assert opened.status_code == 201, opened.text
        yield InProcessApi(client, tokens, opened.json()["id"])
