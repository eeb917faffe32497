"""Which room of `cases` may import which (ADR 0038).

The packages (and the few top-level modules) of `src/cases` stand in layers. A
module may import its own package and any layer below its own; never a layer
above (upward), nor another package of its own layer (sideways). Every import
counts: inside functions and under `TYPE_CHECKING` too, since each is a
dependency a reader has to follow. The domain imports no framework, database or
logging library either.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

# Top to bottom; the rooms in one row are siblings and may not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli",),
    ("api", "scenario"),
    ("bootstrap",),
    ("followers",),
    ("reports", "outbox"),
    ("projections", "application", "audit_log"),
    ("vendor",),
    ("db",),
    ("persistence",),
    (
        "history",
        "clock",
        "progress",
        "settings",
        "time_range",
        "heap",
        "fault_points",
        "log_config",
        "transparency",
    ),
    ("observability",),
    ("domain",),
    ("workers_directory",),  # stdlib only; the metrics' directory (observability) uses it
)
LAYER_OF = {room: depth for depth, row in enumerate(LAYERS) for room in row}
ROOT = "cases"  # `cases/__init__.py` (the version): anyone may import it

DOMAIN_FORBIDS = (
    "fastapi",
    "starlette",
    "pydantic",
    "psycopg",
    "sqlite3",
    "yoyo",
    "structlog",
)


@dataclass(frozen=True, slots=True)
class Violation:
    module: str
    line: int
    imported: str
    why: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported}: {self.why}"


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def room_of(module: str) -> str:
    """`cases.reports.compliance_sql` -> `reports`; `cases.clock` -> `clock`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def imported_modules(tree: ast.Module, known: set[str]) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                # `from cases import time_range` imports the module `cases.time_range`
                submodule = f"{node.module}.{alias.name}"
                yield node.lineno, submodule if submodule in known else node.module


def violations(src: Path) -> list[Violation]:
    """Every import in `src/cases` that breaks the layers."""
    paths = sorted((src / "cases").rglob("*.py"))
    known = {module_name(p, src) for p in paths}
    found: list[Violation] = []
    for path in paths:
        module = module_name(path, src)
        room = room_of(module)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, imported in sorted(set(imported_modules(tree, known))):
            top = imported.split(".")[0]
            if room == "domain" and top in DOMAIN_FORBIDS:
                found.append(Violation(module, line, imported, "the domain uses no framework"))
            if top != ROOT:
                continue
            target = room_of(imported)
            if target in (room, ROOT) or room == ROOT:
                continue
            if room not in LAYER_OF or target not in LAYER_OF:
                unplaced = room if room not in LAYER_OF else target
                found.append(Violation(module, line, imported, f"{unplaced!r} has no layer"))
            elif LAYER_OF[target] < LAYER_OF[room]:
                found.append(Violation(module, line, imported, f"{target} is above {room}"))
            elif LAYER_OF[target] == LAYER_OF[room]:
                found.append(Violation(module, line, imported, f"{target} is beside {room}"))
    return found


def test_every_import_in_cases_keeps_to_the_layers() -> None:
    """No module of src/cases imports upward or sideways."""
    assert [str(v) for v in violations(SRC)] == []


def test_every_room_has_a_layer() -> None:
    """A new package is placed in the layers on purpose, not by default."""
    rooms = {room_of(module_name(p, SRC)) for p in (SRC / "cases").rglob("*.py")}
    assert rooms - {ROOT} - set(LAYER_OF) == set()


def test_the_transparency_room_stands_alone() -> None:
    """An auditor's verifier may be lifted out whole: it imports nothing else of cases."""
    room = SRC / "cases" / "transparency"
    paths = sorted(room.rglob("*.py"))
    known = {module_name(p, SRC) for p in (SRC / "cases").rglob("*.py")}
    outside = [
        f"{module_name(path, SRC)}:{line} imports {imported}"
        for path in paths
        for line, imported in imported_modules(ast.parse(path.read_text(encoding="utf-8")), known)
        if imported.split(".")[0] == ROOT and room_of(imported) != "transparency"
    ]
    assert paths
    assert outside == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"cases/__init__.py": "", **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {"cases/api/q.py": "from cases.scenario.d import Demo\n"},
            ["cases.api.q:1 imports cases.scenario.d: scenario is beside api"],
            id="sideways",
        ),
        pytest.param(
            {"cases/db/database.py": "import os\n\ndef f():\n    from cases.api import deps\n"},
            ["cases.db.database:4 imports cases.api: api is above db"],
            id="upward-inside-a-function",
        ),
        pytest.param(
            {"cases/domain/case.py": "from psycopg import sql\n"},
            ["cases.domain.case:1 imports psycopg: the domain uses no framework"],
            id="framework-in-the-domain",
        ),
        pytest.param(
            {
                "cases/clock.py": "",
                "cases/reports/sql.py": "",
                "cases/reports/seal.py": "from cases import clock\nfrom cases.reports import sql\n",
            },
            [],
            id="downward",
        ),
        pytest.param(
            {"cases/widgets/w.py": "from cases.domain import x\n"},
            ["cases.widgets.w:1 imports cases.domain: 'widgets' has no layer"],
            id="unplaced-room",
        ),
    ],
)
def test_the_rule_names_each_bad_import(
    tmp_path: Path, files: dict[str, str], expected: list[str]
) -> None:
    """The checker itself: a bad import in a throwaway tree is reported, a good one is not."""
    assert [str(v) for v in violations(_tree(tmp_path, files))] == expected
