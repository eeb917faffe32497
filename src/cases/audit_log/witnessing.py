"""Write each new checkpoint where the database administrator cannot rewrite it."""

from __future__ import annotations

import os
from pathlib import Path

from cases.audit_log.tree_store import KeptCheckpoint


def write_to_witness_dir(directory: Path, checkpoint: KeptCheckpoint) -> None:
    """The checkpoint's note as `<size>.checkpoint` in `directory`, never over a file
    already there (an append-only directory keeps what it was given first)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{checkpoint.size:020d}.checkpoint"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(checkpoint.note)
        out.flush()
        os.fsync(out.fileno())
