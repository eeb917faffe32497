"""`cases` installed from its wheel into a fresh virtual environment, outside the
repository, for tests that use it as an operator would.

    wheel = build_wheel(work_dir)           # `pip wheel` of a copy of the sources
    env = InstalledCases.create(venv_dir, wheel)
    env.run("migrate", env=...)             # the venv's own `cases` command

The wheel is installed without its dependencies, which the new environment finds in
this interpreter's site-packages (listed in a `.pth` file): the test needs no
network, and what it proves is that the wheel itself is complete (package data such
as the migrations, the entry point, the version). Only this one `site-packages`
directory is added, not its `.pth` files, so the editable checkout of `cases` the
test run uses stays out of sight.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "src")
BUILD_TIMEOUT = 300.0


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a build or install step, without this run's PYTHONPATH (pip would take the
    checkout on it for an installed `cases`)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(  # noqa: S603 - our own interpreter and tools
        command, check=True, capture_output=True, text=True, timeout=BUILD_TIMEOUT, env=env
    )


def build_wheel(work_dir: Path) -> Path:
    """Build the project's wheel from a clean copy of its sources; its path."""
    source = work_dir / "source"
    source.mkdir(parents=True)
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            ignored = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
            shutil.copytree(origin, source / name, ignore=ignored)
        else:
            shutil.copy2(origin, source / name)
    dist = work_dir / "dist"
    _run(
        [
            sys.executable,
            *("-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"),
            *("--quiet", "--wheel-dir", str(dist), str(source)),
        ]
    )
    [wheel] = dist.glob("cases-*.whl")
    return wheel


@dataclass(frozen=True)
class InstalledCases:
    """A virtual environment holding `cases` as installed from a wheel."""

    venv: Path

    @classmethod
    def create(cls, venv: Path, wheel: Path) -> InstalledCases:
        _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
        installed = cls(venv)
        _run(
            [
                sys.executable,
                *("-m", "pip", "--python", str(installed.python), "install"),
                *("--no-deps", "--no-index", "--ignore-installed", "--quiet", str(wheel)),
            ]
        )
        ours = Path(sysconfig.get_paths()["purelib"])
        (installed.site_packages / "_cases_test_dependencies.pth").write_text(f"{ours}\n")
        return installed

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    @property
    def cases(self) -> Path:
        return self.bin / "cases"

    @property
    def site_packages(self) -> Path:
        [found] = (self.venv / "lib").glob("python3*/site-packages")
        return found
