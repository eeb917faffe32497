"""Text a document holds between markers, generated from the code: a test keeps
them equal, and rewrites the document when asked to by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def keep_generated(document: Path, start: str, end: str, text: str, rewrite_when: str) -> None:
    """Fail unless `document` holds `text` between `start` and `end`; with the
    environment variable `rewrite_when` set to 1, write it there and skip instead."""
    held = document.read_text()
    name = document.name
    if os.environ.get(rewrite_when) == "1":
        head, rest = held.split(start, 1)
        document.write_text(head + start + text + end + rest.split(end, 1)[1])
        pytest.skip(f"{name} rewritten")
    assert start + text + end in held, (
        f"{name} is behind the code it shows: rerun this test with {rewrite_when}=1"
    )
