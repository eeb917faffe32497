"""The checkpoint directory keeps one file per size and never overwrites one."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cases.transparency.checkpoint import Checkpoint, CheckpointFormatError, sign_checkpoint
from cases.transparency.signed_note import NoteSigner, generate_key
from cases.transparency.witness import CheckpointDirectory, CheckpointForkError

ORIGIN = "cases.example/log"
SIGNER = NoteSigner.from_private_key(generate_key(ORIGIN)[0])


def note(size: int, root: bytes = bytes(32)) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, size, root), SIGNER)


def test_each_size_gets_its_own_read_only_file(tmp_path: Path) -> None:
    directory = CheckpointDirectory(tmp_path / "witness")
    first = directory.keep(note(5))
    directory.keep(note(12))
    assert first.name == "00000000000000000005.checkpoint"
    assert first.read_text(encoding="utf-8") == note(5)
    assert stat.S_IMODE(first.stat().st_mode) == 0o444
    assert directory.sizes() == [5, 12]
    assert directory.latest() == note(12)
    assert directory.at(5) == note(5)
    assert directory.at(6) is None
    assert sorted(p.name for p in (tmp_path / "witness").iterdir()) == [
        "00000000000000000005.checkpoint",
        "00000000000000000012.checkpoint",
    ]


def test_the_same_checkpoint_again_is_kept_once(tmp_path: Path) -> None:
    directory = CheckpointDirectory(tmp_path)
    assert directory.keep(note(5)) == directory.keep(note(5))
    assert directory.sizes() == [5]


def test_a_same_body_with_another_signature_is_not_a_fork(tmp_path: Path) -> None:
    directory = CheckpointDirectory(tmp_path)
    directory.keep(note(5))
    other = NoteSigner.from_private_key(generate_key("witness.example")[0])
    cosigned = note(5) + other.signature_line(Checkpoint(ORIGIN, 5, bytes(32)).body())
    directory.keep(cosigned)
    assert directory.at(5) == note(5)


def test_a_different_checkpoint_for_a_kept_size_is_refused_as_a_fork(tmp_path: Path) -> None:
    directory = CheckpointDirectory(tmp_path)
    kept = directory.keep(note(5))
    with pytest.raises(CheckpointForkError, match=r"size 5 is already kept .* rewritten or forked"):
        directory.keep(note(5, root=b"\x01" * 32))
    assert kept.read_text(encoding="utf-8") == note(5)
    assert [p.name for p in tmp_path.iterdir()] == [kept.name]


def test_a_file_put_there_by_someone_else_is_not_replaced(tmp_path: Path) -> None:
    """The link to the final name fails if the name appeared meanwhile."""
    directory = CheckpointDirectory(tmp_path)
    forged = note(7, root=b"\x02" * 32)
    directory.file_for(7).write_text(forged, encoding="utf-8")
    with pytest.raises(CheckpointForkError):
        directory.keep(note(7))
    assert directory.at(7) == forged


def test_what_is_not_a_checkpoint_note_is_refused_before_writing(tmp_path: Path) -> None:
    directory = CheckpointDirectory(tmp_path / "w")
    with pytest.raises(ValueError, match="blank line"):
        directory.keep("just text\n")
    with pytest.raises(CheckpointFormatError):
        directory.keep("origin\nseven\nroot\n\n\u2014 key AAAA\n")
    assert not (tmp_path / "w").exists()


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    directory = CheckpointDirectory(tmp_path)
    for size in range(1, 6):
        directory.keep(note(size))
    assert all(not name.startswith(".") for name in os.listdir(tmp_path))
    assert directory.sizes() == [1, 2, 3, 4, 5]
