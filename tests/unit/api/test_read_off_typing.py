"""mypy checks the fields a shape reads off its source (tests/support/mypy_read_off.py,
ADR 75): a field the source lacks, or a field given that the shape lacks, fails
`mypy --strict`; a row (a mapping) is not checked."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SNIPPET = """
from dataclasses import dataclass

from pydantic import BaseModel

from cases.api.schemas.common import ReadOff, fields_of


@dataclass
class Source:
    name: str
    role: str


class Misspelt(ReadOff):
    name: str
    rolle: str


class Shape(BaseModel):
    name: str
    role: str


class Renamed(BaseModel):
    title: str
    role: str


Misspelt.of(Source("a", "b"))  # no `rolle` on Source
fields_of(Shape, Source("a", "b"))  # fine
fields_of(Shape, Source("a", "b"), rol="x")  # no field `rol`
fields_of(Renamed, Source("a", "b"))  # no `title` on Source
fields_of(Renamed, Source("a", "b"), title="x")  # fine: given by name
fields_of(Shape, {"name": "a"})  # a row: its keys are not in its type
"""


def _line(text: str) -> int:
    """The number of the snippet's line that starts with `text` (or holds it)."""
    lines = SNIPPET.splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.startswith(text) or text in line)


def test_mypy_reports_each_field_a_source_cannot_give(tmp_path: Path) -> None:
    snippet = tmp_path / "read_off_snippet.py"
    snippet.write_text(SNIPPET, encoding="utf-8")
    run = subprocess.run(  # noqa: S603 - this interpreter, our own mypy configuration
        [sys.executable, "-m", "mypy", "--config-file", "pyproject.toml", str(snippet)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    errors = {
        int(m.group(1)): m.group(2)
        for m in re.finditer(r"read_off_snippet\.py:(\d+): error: (.*)", run.stdout)
    }
    assert errors == {
        _line(
            "Misspelt.of("
        ): '"Misspelt" reads field "rolle" off "Source", which has no such attribute '
        "(give it by name, or rename it)  [misc]",
        _line('rol="x"'): '"Shape" has no field "rol" to give  [misc]',
        _line(
            'fields_of(Renamed, Source("a", "b"))'
        ): '"Renamed" reads field "title" off "Source", which has no such attribute '
        "(give it by name, or rename it)  [misc]",
    }, run.stdout + run.stderr
