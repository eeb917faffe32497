"""A real container engine for the end-to-end tests of the image and of compose.yaml
(issue 18, ADR 0058): the `docker` CLI, whether a daemon answers, and the image the
Dockerfile builds, once for the whole run.

The base images are the Dockerfile's and compose's unless CASES_TEST_PYTHON_IMAGE and
CASES_TEST_POSTGRES_IMAGE name others (a machine that cannot reach Docker Hub builds
stand-ins from Debian's packages: `deploy/local-images.sh`). Builds use the host's
network, so they reach the package index whatever the daemon's bridge allows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
LABEL = "org.cases.test=container-image"
BUILD_TIMEOUT = 1800
RUN_TIMEOUT = 120


def docker(*args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """`docker ARGS`, its output captured (never raises on a failed command)."""
    return subprocess.run(  # noqa: S603 - the docker CLI with arguments of ours
        ["docker", *args],  # noqa: S607 - found on PATH like any CLI
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def engine_missing() -> str | None:
    """Why no container can be built here, or None when one can."""
    if shutil.which("docker") is None:
        return "no container engine: the docker CLI is not on PATH"
    info = docker("info", "--format", "{{.ServerVersion}}", timeout=30)
    if info.returncode != 0:
        return f"no container engine: docker info failed ({info.stderr.strip()[:200]})"
    return None


def wait_until_healthy(url: str, timeout: float, logs: Callable[[], str]) -> None:
    """Return once `GET url/health` answers 200; fail with `logs()` if not in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(httpx.TransportError):
            if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer /health in {timeout:.0f} s:\n{logs()}")


def remove_labelled_containers() -> None:
    """Remove the containers a test started, this run's or a killed earlier run's."""
    ids = docker("ps", "-aq", "--filter", f"label={LABEL}").stdout.split()
    if ids:
        docker("rm", "-f", *ids)


@pytest.fixture(scope="session")
def image() -> Iterator[str]:
    """The Dockerfile's image of this checkout, built once; removed at the end."""
    reason = engine_missing()
    if reason is not None:
        pytest.skip(reason)
    remove_labelled_containers()
    tag = f"cases:test-{uuid4().hex[:8]}"
    base = os.environ.get("CASES_TEST_PYTHON_IMAGE")
    build_args = ["--build-arg", f"PYTHON_IMAGE={base}"] if base else []
    built = docker(
        "build", "--network", "host", *build_args, "-t", tag, str(ROOT), timeout=BUILD_TIMEOUT
    )
    assert built.returncode == 0, built.stderr[-4000:]
    try:
        yield tag
    finally:
        remove_labelled_containers()
        docker("image", "rm", "-f", tag)
