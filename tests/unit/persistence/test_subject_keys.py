"""Subject keys and the master key that wraps them (ADR 0044)."""

from __future__ import annotations

from uuid import uuid4

import pytest

from cases.domain.erasure import SubjectKind
from cases.persistence.subject_keys import (
    Erasure,
    MasterKey,
    MasterKeyError,
    MemorySubjectKeys,
    UnknownSubjectError,
)

AT = "2026-03-02T09:00:00+00:00"


def test_a_key_is_made_once_per_subject_and_read_back() -> None:
    keys = MemorySubjectKeys(MasterKey.generate())
    subject = uuid4()
    assert keys.for_reading(subject) is None  # never made: nothing to read with
    cipher = keys.for_writing(subject, SubjectKind.CONTACT)
    assert cipher is not None
    assert keys.for_writing(subject, SubjectKind.CONTACT) is cipher
    assert keys.kind_of(subject) is SubjectKind.CONTACT


def test_erasing_throws_the_key_away_once_and_refuses_an_unknown_subject() -> None:
    keys = MemorySubjectKeys(MasterKey.generate())
    subject = uuid4()
    keys.for_writing(subject, SubjectKind.PRINCIPAL)
    assert keys.erase(subject, AT) is Erasure.DONE
    assert keys.erase(subject, AT) is Erasure.ALREADY
    assert keys.for_reading(subject) is None
    assert keys.for_writing(subject, SubjectKind.PRINCIPAL) is None  # never a new key
    with pytest.raises(UnknownSubjectError, match="no personal data is held"):
        keys.erase(uuid4(), AT)


def test_rotating_the_master_key_rewraps_every_kept_key() -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    keys = MemorySubjectKeys(old)
    kept, erased = uuid4(), uuid4()
    sealed = keys.for_writing(kept, SubjectKind.CONTACT).encrypt(b"\0" * 12, b"hello", None)  # type: ignore[union-attr]
    keys.for_writing(erased, SubjectKind.CONTACT)
    keys.erase(erased, AT)

    assert keys.rewrap(new) == 1
    assert keys.rewrap(new) == 0  # already under the new key

    reopened = MemorySubjectKeys(new)
    reopened._table = keys._table  # the same table, read by a process with the new key
    cipher = reopened.for_reading(kept)
    assert cipher is not None
    assert cipher.decrypt(b"\0" * 12, sealed, None) == b"hello"
    stale = MemorySubjectKeys(old)
    stale._table = keys._table
    with pytest.raises(MasterKeyError, match="was not wrapped by master key"):
        stale.for_reading(kept)


def test_a_master_key_is_32_bytes_of_base64_and_never_shown() -> None:
    key = MasterKey.generate()
    assert MasterKey.from_text(key.as_text() + "\n") == key
    assert key.as_text() not in repr(key)
    with pytest.raises(MasterKeyError, match="must be 32 bytes, got 3"):
        MasterKey.from_text("YWJj")
    with pytest.raises(MasterKeyError, match="not base64"):
        MasterKey.from_text("not base64!")
