"""The wheel, installed outside the repository, migrates, serves and answers (issue 18).

An operator's first day: build the wheel, install it into a fresh virtual
environment, `cases migrate` a new database, create a principal, `cases serve`, and
make one authenticated request; on SQLite and on PostgreSQL. Every command runs
from a directory outside the repository with no PYTHONPATH, so only the installed
package can answer (its location is checked too).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

import cases
from cases.db import schema
from tests.support.installed import ROOT, InstalledCases, build_wheel
from tests.support.postgres import throwaway_database
from tests.support.server import ServerProcess, free_port, store_env

STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> InstalledCases:
    work = tmp_path_factory.mktemp("wheel")
    return InstalledCases.create(work / "venv", build_wheel(work))


@pytest.fixture(params=STORES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'cases.db'}"
    else:
        with throwaway_database() as url:
            yield url


def operator_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = store_env(database_url, data_dir)
    env.pop("PYTHONPATH", None)
    return env


def run_cases(
    installed: InstalledCases, env: dict[str, str], cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the installed `cases` command
        [str(installed.cases), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_installed_package_is_the_one_that_runs(
    installed: InstalledCases, tmp_path: Path
) -> None:
    """`cases` imports from the new environment, not from the checkout."""
    found = subprocess.run(  # noqa: S603
        [str(installed.python), "-c", "import cases; print(cases.__file__)"],
        env=operator_env("memory://", tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(found).is_relative_to(installed.site_packages)
    assert not Path(found).is_relative_to(ROOT)


def test_version_is_the_packages(installed: InstalledCases, tmp_path: Path) -> None:
    result = run_cases(installed, operator_env("memory://", tmp_path), tmp_path, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"cases {cases.__version__}"


def test_migrate_serve_and_answer_an_authenticated_request(
    installed: InstalledCases, database_url: str, tmp_path: Path
) -> None:
    """The first day of a deployment, from the wheel alone."""
    env = operator_env(database_url, tmp_path / "data")

    migrated = run_cases(installed, env, tmp_path, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "Applied" in migrated.stdout
    assert "  0001_projection_tracking" in migrated.stdout.splitlines()
    # every migration of the checkout, the portable templates and the dialect's own files
    dialect = "sqlite" if database_url.startswith("sqlite") else "postgres"
    applied = [line.strip() for line in migrated.stdout.splitlines() if line.startswith("  ")]
    assert applied == [m.id for m in schema.dialect_migrations(dialect)]

    created = run_cases(
        installed, env, tmp_path, "principals", "create", "--name", "Op", "--role", "auditor"
    )
    assert created.returncode == 0, created.stderr
    [token] = [line.split()[1] for line in created.stdout.splitlines() if line.startswith("token ")]

    port = free_port()
    server = ServerProcess(
        [str(installed.cases), "serve", "--port", str(port)],
        env,
        tmp_path / "server.log",
        port,
        cwd=tmp_path,
    )
    with ExitStack() as stack:
        server.start()
        stack.callback(server.stop)
        server.wait_until_healthy()
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            anonymous = client.get("/cases")
            answered = client.get("/cases", headers={"Authorization": f"Bearer {token}"})
            dashboard = client.get("/dashboard/dashboard.js")  # package data, not a module
    assert anonymous.status_code == 401
    assert answered.status_code == 200, answered.text
    assert answered.json()["items"] == []
    assert dashboard.status_code == 200
    assert "data-figure" in dashboard.text
