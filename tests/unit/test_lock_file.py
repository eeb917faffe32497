"""The lock files agree with pyproject.toml (ADR 45): every dependency is pinned, with
hashes, at a version its bounds allow, so a stale lock fails here, not on install."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)")


def requirement_lines(*extras: str) -> list[str]:
    """The project's dependencies and those of the named extras (all extras: none named)."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        meta = tomllib.load(file)["project"]
    optional = meta["optional-dependencies"]
    lines: list[str] = list(meta["dependencies"])
    for extra in extras or tuple(optional):
        lines += optional[extra]
    return lines


def pins(lock: str) -> dict[str, Version]:
    text = (ROOT / "requirements" / lock).read_text(encoding="utf-8")
    found: dict[str, Version] = {}
    for line in text.splitlines():
        if match := PIN.match(line):
            found[canonicalize_name(match[1])] = Version(match[2])
    return found


def declared(*extras: str) -> list[Requirement]:
    return [Requirement(line) for line in requirement_lines(*extras)]


@pytest.mark.parametrize(("lock", "extras"), [("dev.txt", ("dev",)), ("runtime.txt", ("otel",))])
def test_every_declared_dependency_is_pinned_within_its_bounds(
    lock: str, extras: tuple[str, ...]
) -> None:
    pinned = pins(lock)
    unpinned = [str(r) for r in declared(*extras) if canonicalize_name(r.name) not in pinned]
    outside = [
        f"{r.name}=={pinned[canonicalize_name(r.name)]} is outside {r.specifier}"
        for r in declared(*extras)
        if canonicalize_name(r.name) in pinned
        and not r.specifier.contains(pinned[canonicalize_name(r.name)], prereleases=True)
    ]
    assert unpinned == []
    assert outside == []


@pytest.mark.parametrize("lock", ["dev.txt", "runtime.txt"])
def test_every_pin_carries_a_hash(lock: str) -> None:
    text = (ROOT / "requirements" / lock).read_text(encoding="utf-8")
    blocks = re.split(r"\n(?=[A-Za-z0-9_.\-]+==)", text)
    unhashed = [b.split()[0] for b in blocks if PIN.match(b) and "--hash=sha256:" not in b]
    assert unhashed == []


def test_every_dependency_has_an_upper_bound() -> None:
    """ADR 10: each library is held to a range, not left open upward."""
    lines = requirement_lines()
    open_ended = [
        line
        for line in lines
        if not any(s.operator in {"<", "<=", "==", "~="} for s in Requirement(line).specifier)
    ]
    assert open_ended == []
