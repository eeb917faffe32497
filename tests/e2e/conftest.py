"""Deployments for the end-to-end tests (see `_deployment`).

One deployment per store kind serves the whole session (`live`); tests that stop
the server or the database, or change terms, build their own with `deployment`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e._containers import image  # noqa: F401 - a fixture: the image, built once
from tests.e2e._deployment import STORES, Deployment, deployment
from tests.e2e._in_process import InProcessApi, in_process_api


@pytest.fixture(scope="session", params=STORES)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """The session's deployment on each store (shared: make your own cases and customers)."""
    with deployment(request.param, tmp_path_factory.mktemp(f"live-{request.param}")) as deployed:
        yield deployed


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApi]:
    """The app in this process on SQLite (see `_in_process`)."""
    with in_process_api(tmp_path_factory.mktemp("in-process")) as api:
        yield api
