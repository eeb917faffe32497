"""Checkpoints of a log (C2SP tlog-checkpoint): the body a signed note carries.

    <origin>\\n<tree size in decimal>\\n<base64 of the 32-byte root hash>\\n[<extension line>\\n]...

The parser is strict: one origin line, a size with no sign, space or leading
zero, a root of exactly 32 bytes in padded standard base64, non-empty extension
lines, and the final newline.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from cases.transparency.merkle import HASH_SIZE
from cases.transparency.signed_note import NoteSigner, NoteVerifier, open_note

_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_MAX_SIZE = 2**64 - 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class CheckpointFormatError(ValueError):
    """A body that is not a checkpoint; the message names the rule."""


class CheckpointOriginError(ValueError):
    """A checkpoint of another log than the one expected."""


class CheckpointSignerError(ValueError):
    """A checkpoint not signed by the log's own key."""


def _check_line(line: str, what: str) -> None:
    if not line:
        raise CheckpointFormatError(f"a checkpoint's {what} is not empty")
    if _CONTROL.search(line):
        raise CheckpointFormatError(f"a checkpoint's {what} holds no control character")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement: the log `origin` held `size` leaves whose root is `root_hash`."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin line")
        if not 0 <= self.size <= _MAX_SIZE:
            raise CheckpointFormatError(f"a checkpoint's size is 0 to 2**64-1, not {self.size}")
        if len(self.root_hash) != HASH_SIZE:
            raise CheckpointFormatError(
                f"a checkpoint's root hash has {HASH_SIZE} bytes, not {len(self.root_hash)}"
            )
        for line in self.extensions:
            _check_line(line, "extension line")

    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "".join(f"{line}\n" for line in (*lines, *self.extensions))

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        if not body.endswith("\n"):
            raise CheckpointFormatError("a checkpoint ends with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointFormatError("a checkpoint has an origin, a size and a root hash line")
        origin, size, root, *extensions = lines
        if not _DECIMAL.fullmatch(size) or int(size) > _MAX_SIZE:
            raise CheckpointFormatError(
                f"a checkpoint's size is a decimal number with no leading zero, not {size!r}"
            )
        try:
            root_hash = base64.b64decode(root, validate=True)
        except (binascii.Error, ValueError) as error:
            raise CheckpointFormatError(
                f"a checkpoint's root hash is standard base64, not {root!r}"
            ) from error
        if base64.b64encode(root_hash).decode() != root:
            raise CheckpointFormatError(f"a checkpoint's root hash is canonical base64: {root!r}")
        return cls(origin, int(size), root_hash, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    """The checkpoint as a signed note."""
    return signer.sign(checkpoint.body())


def open_checkpoint(
    note: str | bytes, verifier: NoteVerifier, origin: str | None = None
) -> Checkpoint:
    """The checkpoint of a note signed by `verifier` (of the log `origin`, when given).

    Raises the signed-note errors (`NoteError`), CheckpointFormatError,
    CheckpointSignerError or CheckpointOriginError.
    """
    opened = open_note(note, [verifier])
    if not opened.signed_by(verifier):
        raise CheckpointSignerError(f"the checkpoint is not signed by {verifier.name}")
    checkpoint = Checkpoint.parse(opened.body)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointOriginError(
            f"the checkpoint is of the log {checkpoint.origin!r}, not {origin!r}"
        )
    return checkpoint
