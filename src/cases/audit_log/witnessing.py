"""Hand each new checkpoint to the witnesses configured: the append-only directory."""

from __future__ import annotations

from pathlib import Path

from cases.audit_log.tree_store import KeptCheckpoint
from cases.transparency.witness import CheckpointDirectory


def write_to_witness_dir(directory: Path, checkpoint: KeptCheckpoint) -> None:
    """Keep the checkpoint's note in `directory` (`cases.transparency.witness`): never
    over a file already there; a different checkpoint for a kept size raises
    CheckpointForkError, which stops the tree builder for the operator to look."""
    CheckpointDirectory(directory).keep(checkpoint.note)
