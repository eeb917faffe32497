"""The image the Dockerfile builds migrates, serves and answers (issue 18, ADR 0058).

Built and started with a real container engine where one runs (the `docker` CLI and a
daemon it reaches); skipped with the reason otherwise. Slow (the build installs the
locked dependencies), so outside the default run and CI: `pytest --slow -k container`.

The base image is the Dockerfile's `PYTHON_IMAGE` unless CASES_TEST_PYTHON_IMAGE names
another (a machine that cannot reach Docker Hub builds on a local Debian image with
Python 3.11: deploy/local-images.sh). The build and the containers use the host's
network, so the containers reach the test PostgreSQL on 127.0.0.1 and the build reaches
the package index whatever the daemon's bridge allows.

Every container is labelled; the run's teardown removes them, and a run removes any
a killed earlier run left behind (tests/e2e/_containers.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import httpx
import pytest

import cases
from tests.e2e._containers import LABEL, docker, wait_until_healthy
from tests.support.postgres import throwaway_database
from tests.support.server import free_port

pytestmark = pytest.mark.slow

STARTUP_TIMEOUT = 60.0


def _run(image: str, *args: str, env: dict[str, str], volume: str | None = None) -> str:
    """`cases ARGS` in a fresh container; its standard output."""
    options = ["--rm", "--network", "host", "--label", LABEL]
    for name, value in env.items():
        options += ["-e", f"{name}={value}"]
    if volume is not None:
        options += ["-v", f"{volume}:/var/lib/cases"]
    ran = docker("run", *options, image, *args)
    assert ran.returncode == 0, f"cases {' '.join(args)}:\n{ran.stdout}\n{ran.stderr}"
    return ran.stdout


def test_the_image_runs_cases_as_an_unprivileged_user(image: str) -> None:
    user = docker("run", "--rm", "--label", LABEL, "--entrypoint", "id", image, "-u")
    assert user.returncode == 0, user.stderr
    assert user.stdout.strip() == "10001"
    version = _run(image, "--version", env={})
    assert version.strip() == f"cases {cases.__version__}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[tuple[dict[str, str], str | None]]:
    """The settings that point a container at a store, and the volume it keeps data in."""
    if request.param == "sqlite":
        volume = f"cases-test-{uuid4().hex[:8]}"
        try:
            yield {}, volume  # the image's default: SQLite under /var/lib/cases
        finally:
            docker("volume", "rm", "-f", volume)
    else:
        with throwaway_database() as url:
            yield {"CASES_DATABASE_URL": url}, None


def test_the_image_migrates_serves_and_answers_an_authenticated_request(
    image: str, store: tuple[dict[str, str], str | None]
) -> None:
    """An operator's first day with the image: migrate, create a principal, serve with
    two workers, one authenticated request."""
    env, volume = store
    migrated = _run(image, "migrate", env=env, volume=volume)
    assert "  0001_projection_tracking" in migrated.splitlines()
    created = _run(
        image, "principals", "create", "--name", "Op", "--role", "auditor", env=env, volume=volume
    )
    [token] = [line.split()[1] for line in created.splitlines() if line.startswith("token ")]

    port = free_port()
    name = f"cases-test-{uuid4().hex[:8]}"
    options = ["-d", "--name", name, "--network", "host", "--label", LABEL]
    for key, value in env.items():
        options += ["-e", f"{key}={value}"]
    if volume is not None:
        options += ["-v", f"{volume}:/var/lib/cases"]
    started = docker(
        "run", *options, image, "serve", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1" if volume is not None else "2",  # SQLite serves from one process
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, STARTUP_TIMEOUT, lambda: docker("logs", name).stderr[-4000:])
        with httpx.Client(base_url=url, timeout=30.0) as client:
            anonymous = client.get("/cases")
            answered = client.get("/cases", headers={"Authorization": f"Bearer {token}"})
        assert anonymous.status_code == 401
        assert answered.status_code == 200, answered.text
        assert answered.json()["items"] == []
    finally:
        docker("rm", "-f", name)
