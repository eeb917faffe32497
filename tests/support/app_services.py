"""The services behind an app that a FastAPI `TestClient` runs."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from cases.application.caller import Caller
from cases.bootstrap import Services
from cases.domain.metadata import Actor, Role, Source


def services_of(client: TestClient) -> Services:
    """The services the client's app opened when it started."""
    app = client.app
    assert isinstance(app, FastAPI), app
    services: Services = app.state.api.services
    return services


def helpdesk_headers(client: TestClient) -> dict[str, str]:
    """The Authorization header of a new helpdesk agent of the client's app."""
    principal = services_of(client).principals.create(
        Caller.new(Actor("admin", Role.SYSTEM), Source.CLI),
        name="anna",
        role=Role.HELPDESK_AGENT,
        customer_id=None,
    )
    return {"Authorization": f"Bearer {principal.token}"}
