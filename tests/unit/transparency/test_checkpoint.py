"""Checkpoints are C2SP tlog-checkpoint bodies, parsed strictly and signed as notes."""

from __future__ import annotations

import base64

import pytest

from cases.transparency.checkpoint import (
    Checkpoint,
    CheckpointFormatError,
    CheckpointOriginError,
    open_checkpoint,
    sign_checkpoint,
)
from cases.transparency.signed_note import (
    InvalidSignatureError,
    MalformedNoteError,
    NoteSigner,
    NoteVerifier,
    UnverifiedNoteError,
    generate_key,
)

ROOT = bytes(range(32))
ROOT64 = base64.b64encode(ROOT).decode()
ORIGIN = "cases.example/log"


def signer() -> NoteSigner:
    return NoteSigner.from_private_key(generate_key(ORIGIN)[0])


def test_the_body_is_origin_size_root_and_extensions() -> None:
    checkpoint = Checkpoint(ORIGIN, 12, ROOT, ("ext one",))
    assert checkpoint.body() == f"{ORIGIN}\n12\n{ROOT64}\next one\n"
    assert Checkpoint.parse(checkpoint.body()) == checkpoint


def test_a_signed_checkpoint_opens_with_the_log_s_key() -> None:
    key = signer()
    note = sign_checkpoint(Checkpoint(ORIGIN, 7, ROOT), key)
    assert open_checkpoint(note, key.verifier, ORIGIN) == Checkpoint(ORIGIN, 7, ROOT)


def test_the_wrong_key_is_refused() -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 7, ROOT), signer())
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(note, signer().verifier)


def test_a_changed_body_is_refused() -> None:
    key = signer()
    note = sign_checkpoint(Checkpoint(ORIGIN, 7, ROOT), key)
    with pytest.raises(InvalidSignatureError):
        open_checkpoint(note.replace("\n7\n", "\n8\n"), key.verifier)


def test_extra_signature_lines_by_other_keys_are_allowed() -> None:
    key, witness = signer(), signer()
    body = Checkpoint(ORIGIN, 7, ROOT).body()
    note = key.sign(body) + witness.signature_line(body)
    assert open_checkpoint(note, key.verifier).size == 7


def test_another_log_s_checkpoint_is_refused() -> None:
    key = NoteSigner.from_private_key(generate_key("other.example/log")[0])
    note = sign_checkpoint(Checkpoint("other.example/log", 7, ROOT), key)
    with pytest.raises(CheckpointOriginError, match=r"other\.example/log"):
        open_checkpoint(note, key.verifier, ORIGIN)


def test_a_note_without_its_final_newline_is_refused() -> None:
    key = signer()
    note = sign_checkpoint(Checkpoint(ORIGIN, 7, ROOT), key)
    with pytest.raises(MalformedNoteError):
        open_checkpoint(note[:-1], key.verifier)


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (f"{ORIGIN}\n7\n{ROOT64}", "ends with a newline"),
        (f"{ORIGIN}\n7\n", "origin, a size and a root"),
        (f"\n7\n{ROOT64}\n", "origin line is not empty"),
        (f"{ORIGIN}\n07\n{ROOT64}\n", "no leading zero"),
        (f"{ORIGIN}\n-7\n{ROOT64}\n", "decimal"),
        (f"{ORIGIN}\n+7\n{ROOT64}\n", "decimal"),
        (f"{ORIGIN}\n 7\n{ROOT64}\n", "decimal"),
        (f"{ORIGIN}\n0x7\n{ROOT64}\n", "decimal"),
        (f"{ORIGIN}\n7_0\n{ROOT64}\n", "decimal"),
        (f"{ORIGIN}\n\u0667\n{ROOT64}\n", "decimal"),
        (f"{ORIGIN}\n18446744073709551616\n{ROOT64}\n", "decimal"),
        (f"{ORIGIN}\n7\n{ROOT64[:-1]}\n", "base64"),
        (f"{ORIGIN}\n7\n{ROOT64.replace('A', '*')}\n", "base64"),
        (f"{ORIGIN}\n7\n{base64.b64encode(ROOT[:31]).decode()}\n", "32 bytes"),
        (f"{ORIGIN}\n7\n{ROOT64}\n\n", "extension line is not empty"),
    ],
)
def test_a_bad_body_names_its_rule(body: str, rule: str) -> None:
    with pytest.raises(CheckpointFormatError, match=rule):
        Checkpoint.parse(body)


def test_go_s_key_signs_a_checkpoint_it_would_verify() -> None:
    """A checkpoint signed with Go's test key opens with its published verifier key."""
    key = NoteSigner.from_private_key(
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    )
    verifier = NoteVerifier.from_verifier_key(
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    )
    note = sign_checkpoint(Checkpoint("PeterNeumann", 0, ROOT), key)
    assert open_checkpoint(note, verifier, "PeterNeumann").size == 0
