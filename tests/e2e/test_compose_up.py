"""`docker compose up` of compose.yaml: the store, the one-shot jobs, the API and the
followers start, and a command recorded through the API is projected by the followers
and read back (issue 18, ADR 0058).

Slow (outside CI, like the image's test) and skipped with the reason where no engine
or no compose (the `docker compose` plugin or `docker-compose`) answers. The images
are the image built for this run and compose's `postgres` service's, or
CASES_TEST_POSTGRES_IMAGE where Docker Hub is out of reach (`deploy/local-images.sh
postgres`). Each run is its own compose project `casestest<hex>`; teardown takes it
down with its volumes, and a run takes down any a killed earlier run left behind.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from uuid import uuid4

import httpx
import pytest

from tests.e2e._containers import BUILD_TIMEOUT, ROOT, docker, wait_until_healthy
from tests.support.server import free_port

pytestmark = pytest.mark.slow

PROJECT_PREFIX = "casestest"
STARTUP_TIMEOUT = 240.0  # the store's first start, migrate, then the API


def _compose_command() -> list[str] | None:
    """The compose CLI this machine has: the docker plugin, else the standalone one."""
    for command in (["docker", "compose"], ["docker-compose"]):
        with suppress(OSError):
            ran = subprocess.run(  # noqa: S603 - a compose CLI, our arguments
                [*command, "version"], capture_output=True, text=True, timeout=30, check=False
            )
            if ran.returncode == 0:
                return command
    return None


@dataclass
class Stack:
    """A compose project of compose.yaml, up, with its API's address."""

    command: list[str]
    project: str
    env: dict[str, str]
    url: str

    def compose(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - a compose CLI, our arguments
            [*self.command, "-p", self.project, "-f", str(ROOT / "compose.yaml"), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            cwd=ROOT,
            check=False,
        )

    def status(self, service: str) -> str:
        """The engine's status of the service's container ('Up ...', 'Exited (0) ...')."""
        listed = docker(
            "ps", "-a", "--format", "{{.Status}}",
            "--filter", f"label=com.docker.compose.project={self.project}",
            "--filter", f"label=com.docker.compose.service={service}",
        )  # fmt: skip
        return listed.stdout.strip()

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--tail", "40").stdout[-6000:]


def _take_down_left_behind(command: list[str]) -> None:
    listed = docker("ps", "-a", "--format", '{{.Label "com.docker.compose.project"}}')
    for project in set(listed.stdout.split()):
        if project.startswith(PROJECT_PREFIX):
            subprocess.run(  # noqa: S603 - a compose CLI, our arguments
                [*command, "-p", project, "-f", str(ROOT / "compose.yaml"), "down", "-v"],
                capture_output=True,
                timeout=120,
                cwd=ROOT,
                env={**os.environ, "POSTGRES_PASSWORD": "x"},
                check=False,
            )


@pytest.fixture(scope="module")
def stack(image: str) -> Iterator[Stack]:
    command = _compose_command()
    if command is None:
        pytest.skip("no compose: neither `docker compose` nor `docker-compose` answers")
    _take_down_left_behind(command)
    port = free_port()
    env = {
        **os.environ,
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "CASES_IMAGE_TAG": image.split(":", 1)[1],
        "CASES_API_PORT": str(port),
    }
    postgres_image = os.environ.get("CASES_TEST_POSTGRES_IMAGE")
    if postgres_image:
        env["CASES_POSTGRES_IMAGE"] = postgres_image
    stack = Stack(command, f"{PROJECT_PREFIX}{uuid4().hex[:8]}", env, f"http://127.0.0.1:{port}")
    try:
        up = stack.compose("up", "-d", "--no-build", timeout=BUILD_TIMEOUT)
        assert up.returncode == 0, up.stderr[-4000:]
        wait_until_healthy(stack.url, STARTUP_TIMEOUT, stack.logs)
        yield stack
    finally:
        stack.compose("down", "-v", "--remove-orphans", timeout=300)


def _token(stack: Stack, role: str) -> str:
    created = stack.compose(
        "exec", "-T", "api", "cases", "principals", "create", "--name", role, "--role", role
    )
    assert created.returncode == 0, created.stdout + created.stderr
    [token] = [line.split()[1] for line in created.stdout.splitlines() if line.startswith("token ")]
    return token


def test_the_jobs_ran_once_and_the_long_running_services_are_up(stack: Stack) -> None:
    assert stack.status("migrate").startswith("Exited (0)"), stack.logs()
    assert stack.status("audit-key").startswith("Exited (0)"), stack.logs()
    for service in ("postgres", "api", "followers", "clocks"):
        assert stack.status(service).startswith("Up"), f"{service}: {stack.logs()}"


def test_a_command_through_the_api_is_projected_by_the_followers(stack: Stack) -> None:
    """The API records on the compose store; the followers' container projects it; the
    API reads it back from the read model at the command's position."""
    sales = {"Authorization": f"Bearer {_token(stack, 'sales_agent')}"}
    auditor = {"Authorization": f"Bearer {_token(stack, 'auditor')}"}
    customer = f"composed-{uuid4().hex[:6]}"
    with httpx.Client(base_url=stack.url, timeout=60.0) as client:
        assert client.get("/customers").status_code == 401
        registered = client.post(
            "/customers",
            headers=sales,
            json={
                "customer_id": customer,
                "display_name": "Composed AB",
                "tenant_id": str(uuid4()),
                "primary_domain": f"{customer}.example",
                "relationship": "direct_bill",
            },
        )
        assert registered.status_code == 201, registered.text
        position = registered.json()["position"]
        read = client.get(
            f"/customers/{customer}", params={"min_position": position}, headers=auditor
        )
        metrics = client.get("/metrics")
    assert read.status_code == 200, f"{read.text}\n{stack.logs()}"
    assert read.json()["display_name"] == "Composed AB"
    assert metrics.status_code == 200
    assert 'route="/customers"' in metrics.text
