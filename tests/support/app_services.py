"""The services behind an app that a FastAPI `TestClient` runs."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from cases.bootstrap import Services


def services_of(client: TestClient) -> Services:
    """The services the client's app opened when it started."""
    app = client.app
    assert isinstance(app, FastAPI), app
    services: Services = app.state.api.services
    return services
