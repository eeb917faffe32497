"""Our signed notes are Go's: its key signs the same bytes, its notes open with us."""

from __future__ import annotations

import pytest

from cases.transparency.signed_note import (
    AmbiguousKeyError,
    InvalidSignatureError,
    KeyFormatError,
    MalformedNoteError,
    NoteSigner,
    NoteVerifier,
    Signature,
    UnverifiedNoteError,
    generate_key,
    key_hash,
    open_note,
)
from tests.unit.transparency.vectors import (
    GO_ENOCH_KEY,
    GO_ENOCH_SIG,
    GO_NOTE,
    GO_PETER_SIG,
    GO_PRIVATE_KEY,
    GO_TEXT,
    GO_VERIFIER_KEY,
)

PETER = Signature(
    "PeterNeumann",
    0xC74F20A3,
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
)
ENOCH = Signature(
    "EnochRoot",
    0xAF0CFE78,
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=",
)


def peter() -> NoteVerifier:
    return NoteVerifier.from_verifier_key(GO_VERIFIER_KEY)


def enoch() -> NoteVerifier:
    return NoteVerifier.from_verifier_key(GO_ENOCH_KEY)


def test_we_sign_go_s_note_byte_for_byte() -> None:
    signer = NoteSigner.from_private_key(GO_PRIVATE_KEY)
    assert signer.sign(GO_TEXT) == GO_NOTE
    assert signer.verifier.verifier_key == GO_VERIFIER_KEY
    assert signer.private_key == GO_PRIVATE_KEY


def test_go_s_note_opens_with_us() -> None:
    opened = open_note(GO_NOTE, [peter()])
    assert opened.body == GO_TEXT
    assert opened.signatures == (PETER,)
    assert opened.unverified == ()
    assert opened.signed_by(peter())


def test_the_key_hash_is_the_published_one() -> None:
    assert key_hash("PeterNeumann", peter().public_key) == 0xC74F20A3
    assert peter().name == "PeterNeumann"


def test_a_signature_by_an_unknown_key_is_reported_not_trusted() -> None:
    opened = open_note(GO_TEXT + "\n" + GO_PETER_SIG + GO_ENOCH_SIG, [peter()])
    assert (opened.signatures, opened.unverified) == ((PETER,), (ENOCH,))
    both = open_note(GO_TEXT + "\n" + GO_PETER_SIG + GO_ENOCH_SIG, [peter(), enoch()])
    assert (both.signatures, both.unverified) == ((PETER, ENOCH), ())


def test_a_note_with_no_known_signature_is_refused() -> None:
    with pytest.raises(UnverifiedNoteError, match="no signature by a key given") as caught:
        open_note(GO_TEXT + "\n" + GO_PETER_SIG + GO_ENOCH_SIG, [])
    assert caught.value.unverified == (PETER, ENOCH)


def test_the_wrong_key_does_not_open_the_note() -> None:
    _, other = generate_key("PeterNeumann")
    with pytest.raises(UnverifiedNoteError):
        open_note(GO_NOTE, [NoteVerifier.from_verifier_key(other)])


def test_a_changed_body_fails_the_signature() -> None:
    with pytest.raises(InvalidSignatureError, match=r"PeterNeumann\+c74f20a3 does not verify"):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), [peter()])


def test_a_changed_signature_fails() -> None:
    changed = GO_TEXT + "\n" + GO_PETER_SIG[:60] + "ABCD" + GO_PETER_SIG[60:]
    with pytest.raises(InvalidSignatureError):
        open_note(changed, [peter()])


def test_repeated_and_corrupt_unknown_signatures_are_kept_once() -> None:
    """Go's "duplicated verified and unverified signatures" case."""
    enoch_abcd = Signature("EnochRoot", 0xAF0CFE78, ENOCH.base64[:46] + "ABCD" + ENOCH.base64[46:])
    note = (
        GO_TEXT
        + "\n"
        + GO_PETER_SIG * 2
        + GO_ENOCH_SIG * 2
        + GO_ENOCH_SIG[:58]  # Go's byte 60: the em dash is three bytes in UTF-8
        + "ABCD"
        + GO_ENOCH_SIG[58:]
    )
    opened = open_note(note, [peter()])
    assert (opened.signatures, opened.unverified) == ((PETER,), (ENOCH, enoch_abcd))


def test_two_verifiers_for_one_key_are_ambiguous_when_used() -> None:
    with pytest.raises(AmbiguousKeyError, match=r"EnochRoot\+af0cfe78"):
        open_note(GO_TEXT + "\n" + GO_ENOCH_SIG, [enoch(), peter(), enoch()])
    assert open_note(GO_NOTE, [enoch(), peter(), enoch()]).signatures == (PETER,)


def test_more_than_a_hundred_signatures_are_malformed() -> None:
    with pytest.raises(MalformedNoteError, match="at most 100"):
        open_note(GO_TEXT + "\n" + GO_PETER_SIG * 101, [peter()])


@pytest.mark.parametrize(
    "note",
    [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + GO_PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + GO_PETER_SIG,
        GO_TEXT + "\n" + "\u2014 Bad Name " + PETER.base64,
        GO_TEXT + "\n" + GO_PETER_SIG + "Unexpected line.\n",
        GO_TEXT + "\n" + GO_PETER_SIG.replace("\u2014", "-"),
        GO_TEXT + "\n" + "\u2014 PeterNeumann AAAA\n",
        GO_TEXT + "\n" + "\u2014 PeterNeumann not*base64\n",
    ],
    ids=[
        "no-signatures",
        "blank-line-only",
        "no-final-newline",
        "control-character",
        "name-with-space",
        "extra-line",
        "hyphen-not-em-dash",
        "short-signature",
        "bad-base64",
    ],
)
def test_malformed_notes_are_refused(note: str) -> None:
    """Go's badMsgs table, and a few more."""
    with pytest.raises(MalformedNoteError):
        open_note(note, [peter()])


def test_invalid_utf8_is_malformed() -> None:
    with pytest.raises(MalformedNoteError, match="UTF-8"):
        open_note(b"\xff" + GO_NOTE.encode(), [peter()])


def test_every_mangling_of_go_s_keys_is_refused() -> None:
    """Go's TestNewVerifier and TestNewSigner: every substring and every byte bumped."""
    for key, parse in [
        (GO_VERIFIER_KEY, NoteVerifier.from_verifier_key),
        (GO_PRIVATE_KEY, NoteSigner.from_private_key),
    ]:
        mangled = {key[i:j] for i in range(len(key)) for j in range(i + 1, len(key) + 1)}
        mangled |= {key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :] for i in range(len(key))}
        mangled.discard(key)
        accepted = []
        for text in mangled:
            try:
                parse(text)
            except KeyFormatError:
                continue
            accepted.append(text)
        assert accepted == []


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        (
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "32 bytes",
        ),
        ("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "algorithm"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("PeterNeumann+0xc74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hexadecimal"),
    ],
)
def test_a_bad_verifier_key_names_its_fault(key: str, rule: str) -> None:
    with pytest.raises(KeyFormatError, match=rule):
        NoteVerifier.from_verifier_key(key)


def test_a_generated_key_signs_and_verifies() -> None:
    private, public = generate_key("log.example/cases")
    signer = NoteSigner.from_private_key(private)
    verifier = NoteVerifier.from_verifier_key(public)
    assert (signer.name, signer.key_hash) == (verifier.name, verifier.key_hash)
    assert open_note(signer.sign("hello\n"), [verifier]).body == "hello\n"


def test_signing_text_without_a_final_newline_is_refused() -> None:
    signer = NoteSigner.from_private_key(GO_PRIVATE_KEY)
    with pytest.raises(MalformedNoteError, match="ends with a newline"):
        signer.sign("abc")
