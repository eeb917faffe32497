"""An append-only directory of checkpoint files, kept where the database cannot rewrite them.

One file per tree size, `<size, 20 digits>.checkpoint`, holding the signed note
exactly as issued. A file is written to a fresh temporary name (O_CREAT|O_EXCL),
fsynced, then linked to its final name, which fails rather than replace a file
already there, and the directory is fsynced: a reader sees a whole checkpoint
or none, and no checkpoint is ever overwritten. The same checkpoint kept twice
is a no-op; a different one for a size already kept is refused as evidence of a
fork (the log was rewritten), and both are named in the error.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cases.transparency.checkpoint import Checkpoint

_SUFFIX = ".checkpoint"
_FILE_MODE = 0o444


class CheckpointForkError(RuntimeError):
    """Two different checkpoints for one tree size: the log was forked or rewritten."""


def note_body(note: str) -> str:
    """The text of a signed note before its signature block (unverified)."""
    split = note.rfind("\n\n")
    if split < 0:
        raise ValueError("a signed note ends with a blank line and its signature lines")
    return note[: split + 1]


class CheckpointDirectory:
    """Checkpoint notes kept as files, one per size, never overwritten."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def file_for(self, size: int) -> Path:
        return self.path / f"{size:020d}{_SUFFIX}"

    def keep(self, note: str) -> Path:
        """Write the note to its size's file; raise CheckpointForkError on a different one."""
        checkpoint = Checkpoint.parse(note_body(note))
        self.path.mkdir(parents=True, exist_ok=True)
        final = self.file_for(checkpoint.size)
        if final.exists():
            return self._same_or_fork(final, checkpoint)
        temporary = self.path / f".{checkpoint.size}.{secrets.token_hex(8)}.tmp"
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
            try:
                os.write(descriptor, note.encode())
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            try:
                os.link(temporary, final)  # a rename that never replaces
            except FileExistsError:
                return self._same_or_fork(final, checkpoint)
        finally:
            temporary.unlink(missing_ok=True)
        self._sync_directory()
        return final

    def _same_or_fork(self, final: Path, checkpoint: Checkpoint) -> Path:
        kept = final.read_text(encoding="utf-8")
        if note_body(kept) == checkpoint.body():
            return final
        held = Checkpoint.parse(note_body(kept))
        raise CheckpointForkError(
            f"a different checkpoint of size {checkpoint.size} is already kept in {final}:"
            f" root {held.root_hash.hex()} there, {checkpoint.root_hash.hex()} now."
            " The log was rewritten or forked; the kept file is evidence, keep it."
        )

    def _sync_directory(self) -> None:
        descriptor = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def sizes(self) -> list[int]:
        """The tree sizes kept, in order."""
        if not self.path.is_dir():
            return []
        found = (p.name.removesuffix(_SUFFIX) for p in self.path.glob(f"*{_SUFFIX}"))
        return sorted(int(name) for name in found if name.isdigit() and name.isascii())

    def at(self, size: int) -> str | None:
        """The note kept for `size`, if any."""
        path = self.file_for(size)
        return path.read_text(encoding="utf-8") if path.exists() else None

    def latest(self) -> str | None:
        """The note of the largest size kept, if any."""
        sizes = self.sizes()
        return self.at(sizes[-1]) if sizes else None
