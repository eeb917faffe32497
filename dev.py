#!/usr/bin/env python3
"""Run the project from a fresh clone with nothing but Python >= 3.11.

    python3 dev.py serve [ARGS]  # the main job: the HTTP API with demo data, on embedded SQLite
    python3 dev.py demo [ARGS]   # the scripted story (`cases demo`), printed
    python3 dev.py test [ARGS]   # the whole test suite (pytest)
    python3 dev.py cases ARGS    # any `cases` command
    python3 dev.py lint          # ruff check, ruff format --check, mypy --strict src tests

The first run creates `.venv/` and installs the development dependencies at the
versions and hashes locked in `requirements/dev.txt`, then the project itself;
later runs reinstall only when `pyproject.toml` or the lock changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".cases-installed"
LOCK = ROOT / "requirements" / "dev.txt"  # uv pip compile ... --generate-hashes (ADR 45)


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", LOCK):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    """Create the virtual environment and install the project when needed."""
    if not (BIN / "python").exists():
        print("dev.py: creating .venv (first run only)", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if STAMP.exists() and STAMP.read_text() == _fingerprint():
        return
    print("dev.py: installing cases and its dependencies into .venv", file=sys.stderr)
    pip = [
        str(BIN / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "--require-hashes", "-r", str(LOCK)], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    STAMP.write_text(_fingerprint())


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0
    ensure_environment()
    task, rest = argv[0], argv[1:]
    if task == "serve":
        command = [str(BIN / "cases"), "serve", "--demo", *rest]
    elif task == "demo":
        command = [str(BIN / "cases"), "demo", *rest]
    elif task == "test":
        command = [str(BIN / "python"), "-m", "pytest", *rest]
    elif task == "cases":
        command = [str(BIN / "cases"), *rest]
    elif task == "lint":
        for step in (
            [str(BIN / "ruff"), "check", "src", "tests", "benchmarks", "dev.py"],
            [
                str(BIN / "ruff"),
                "format",
                "--check",
                "src",
                "tests",
                "benchmarks",
                "dev.py",
            ],
            [str(BIN / "mypy"), "--strict", "src", "tests"],
        ):
            code = subprocess.run(step, cwd=ROOT, check=False).returncode
            if code:
                return code
        return 0
    else:
        print(
            f"dev.py: unknown task {task!r}; see `python3 dev.py --help`",
            file=sys.stderr,
        )
        return 2
    return subprocess.run(command, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
