"""Deployments of the API for end-to-end tests: a store, published support terms,
a principal per role, and a real server process in front of them.

SQLite is served by a single uvicorn process; PostgreSQL by `cases serve --workers 2`
with its projections in a `cases projections run` process.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from cases.application.caller import Caller
from cases.bootstrap import bootstrap
from cases.clock import SystemClock
from cases.domain.metadata import Actor, Role, Source
from cases.settings import Settings
from tests.support import children
from tests.support.builders import terms
from tests.support.postgres import throwaway_database
from tests.support.server import BIN, ServerProcess, prepare_store, serving, store_env

STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
STAFF_ROLES = ("helpdesk_agent", "billing_admin", "sales_agent", "auditor", "operator")
SETUP = Actor("e2e-setup", Role.SYSTEM)


@dataclass
class Deployment:
    """A running API on one store, with a bearer token for every staff role."""

    store: str
    database_url: str
    data_dir: Path
    workers: int
    server: ServerProcess
    tokens: dict[str, str] = field(default_factory=dict)
    _stack: ExitStack = field(default_factory=ExitStack)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, role: str | None = None, token: str | None = None) -> httpx.Client:
        """An HTTP client acting as `role` (or with `token`; neither: no token)."""
        token = token or (self.tokens[role] if role else None)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)

    def new_principal(self, role: str, customer_id: str | None = None) -> str:
        """Create a principal through the API (as the user management admin); its token."""
        with self.client("user_management_admin") as admin:
            response = admin.post(
                "/principals",
                json={
                    "name": f"{role} {uuid4().hex[:6]}",
                    "role": role,
                    "customer_id": customer_id,
                },
            )
        assert response.status_code == 201, response.text
        token: str = response.json()["token"]
        return token

    def restart(self, **server_env: str) -> None:
        """Stop the server and start it again on the same store (a new port), with
        `server_env` added to its environment."""
        self._stack.close()
        self._stack = ExitStack()
        self.server = self._stack.enter_context(
            serving(self.database_url, self.data_dir, workers=self.workers, server_env=server_env)
        )

    def close(self) -> None:
        self._stack.close()


def publish_terms(database_url: str, data_dir: Path) -> None:
    """Publish support terms in force since a month ago, straight through the desk."""
    services = bootstrap(Settings(database_url=database_url, data_dir=data_dir))
    try:
        month_ago = SystemClock().now() - timedelta(days=30)
        caller = Caller.new(SETUP, Source.CLI).at(month_ago)
        services.desk.publish_terms(caller, terms(), month_ago)
    finally:
        services.close()


def bootstrap_admin(database_url: str, data_dir: Path) -> str:
    """`cases principals create` for the first user management admin; its token."""
    process = children.spawn(
        [
            str(BIN / "cases"),
            "principals",
            "create",
            "--name",
            "First Admin",
            "--role",
            "user_management_admin",
        ],
        env=store_env(database_url, data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout: str
        stdout, stderr = process.communicate(timeout=60)
    finally:
        children.kill(process)  # reaped, and nothing left of its group
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, process.args, stdout, stderr)
    [token] = [line.split()[1] for line in stdout.splitlines() if line.startswith("token ")]
    return token


@contextmanager
def deployment(store: str, data_dir: Path, *, workers: int | None = None) -> Iterator[Deployment]:
    """A fresh store with terms and principals, and a server on it."""
    with ExitStack() as stack:
        if store == "sqlite":
            database_url = f"sqlite:///{data_dir / 'events.db'}"
        else:
            database_url = stack.enter_context(throwaway_database())
        prepare_store(database_url)
        publish_terms(database_url, data_dir)
        admin = bootstrap_admin(database_url, data_dir)
        workers = workers or (1 if store == "sqlite" else 2)
        server_stack = ExitStack()
        server = server_stack.enter_context(serving(database_url, data_dir, workers=workers))
        deployed = Deployment(store, database_url, data_dir, workers, server, _stack=server_stack)
        stack.callback(deployed.close)
        deployed.tokens["user_management_admin"] = admin
        for role in STAFF_ROLES:
            deployed.tokens[role] = deployed.new_principal(role)
        yield deployed
