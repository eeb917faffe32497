"""A directory `cases serve` makes for its worker processes, named in their environment.

The workers start after it is made and inherit the variable that names it; they meet
there (metrics, ADR 46; connection counts, ADR 92; core slots, ADR 96). It is removed,
and the variable unset, once the server stops.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def workers_directory(variable: str, prefix: str) -> Iterator[Path]:
    """A new directory named by `variable` in this process's environment (and so in
    every process it starts) while the block runs; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True) as made:
        os.environ[variable] = made
        try:
            yield Path(made)
        finally:
            os.environ.pop(variable, None)
