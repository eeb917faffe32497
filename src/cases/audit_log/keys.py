"""The operator's checkpoint signing key: a file in Go's signed-note format.

The private key file holds one line, `PRIVATE+KEY+<name>+<hash>+<key>`; the
verifier key (`<name>+<hash>+<key>`, what auditors are given) is derived from
it and also written beside it (`<file>.pub`). The key's name is the log's
origin, as checkpoints are signed by the log they name.
"""

from __future__ import annotations

import os
from pathlib import Path

import structlog

from cases.settings import Settings
from cases.transparency.signed_note import NoteSigner, NoteVerifier, generate_key

logger = structlog.get_logger("cases.audit_log")


class KeyFileError(Exception):
    """Raised when the key file is missing, unreadable or not a signed-note key."""


def key_file(settings: Settings) -> Path:
    """Where the private key lives: the setting, else `audit-log.key` in the data dir."""
    return settings.audit_log_key_file or settings.data_dir / "audit-log.key"


def signer_of(private_key: str) -> NoteSigner:
    """The signer of a private key text, or KeyFileError saying what is wrong."""
    try:
        return NoteSigner.from_private_key(private_key)
    except ValueError as e:
        raise KeyFileError(f"not a signed-note private key: {e}") from None


def write_key(path: Path, name: str) -> str:
    """Generate a key pair named `name`, write the private key to `path` (mode 0600,
    never over an existing file) and the verifier key to `path.pub`; return the
    verifier key."""
    private, verifier = generate_key(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} exists already: a key is never overwritten") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(private + "\n")
    path.with_name(path.name + ".pub").write_text(verifier + "\n", encoding="utf-8")
    return verifier


def read_private_key(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise KeyFileError(
            f"no checkpoint signing key at {path}: create one with `cases audit keygen`"
        ) from None
    except OSError as e:
        raise KeyFileError(f"cannot read the signing key {path}: {e.strerror}") from None


def signer_from(settings: Settings, *, create: bool = False) -> NoteSigner:
    """The checkpoint signer of the configured key file. With `create` (the embedded
    store), a missing key is generated on first use, with a warning saying where."""
    path = key_file(settings)
    if create and not path.exists():
        verifier = write_key(path, settings.audit_log_origin)
        logger.warning("audit_log_key_generated", key_file=str(path), verifier_key=verifier)
    return signer_of(read_private_key(path))


def verifier_from(settings: Settings) -> NoteVerifier:
    """The verifier of the configured key file's key (the operator's own check)."""
    return signer_of(read_private_key(key_file(settings))).verifier
