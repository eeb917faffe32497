"""Signed notes (C2SP signed-note; Go's golang.org/x/mod/sumdb/note) with Ed25519 keys.

A note is UTF-8 text ending in a newline, a blank line, then one or more
signature lines `— <name> <base64(key hash (4 bytes, big-endian) || signature)>`.
A key is named; its *key hash* is the first 4 bytes of
SHA-256(name || "\\n" || 0x01 || public key), and keys travel as Go writes them:
`PRIVATE+KEY+<name>+<hash8hex>+<base64(0x01 || seed)>` and the verifier key
`<name>+<hash8hex>+<base64(0x01 || public key)>`. Opening follows Go's `note.Open`
rule for rule, so a note either side signs, the other side verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
_KEY_SIZE = 32
_SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space
_MAX_SIGNATURES = 100
_HASH_HEX = re.compile(r"[0-9a-fA-F]{8}")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


class NoteError(ValueError):
    """A note, or a key, that cannot be trusted; the message says which rule it breaks."""


class KeyFormatError(NoteError):
    """A signer or verifier key text that is not in Go's format."""


class MalformedNoteError(NoteError):
    """Text that is not a signed note."""


class AmbiguousKeyError(NoteError):
    """Two verifiers given share a name and key hash."""


class InvalidSignatureError(NoteError):
    """A signature by a known key that does not verify: the note was changed or forged."""


class UnverifiedNoteError(NoteError):
    """A well-formed note none of whose signatures is by a known key."""

    def __init__(self, message: str, unverified: tuple[Signature, ...]) -> None:
        super().__init__(message)
        self.unverified = unverified


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line: the key's name, its key hash and the base64 of hash and signature."""

    name: str
    key_hash: int
    base64: str


@dataclass(frozen=True, slots=True)
class OpenedNote:
    """A note whose `signatures` verified; `unverified` are the lines of keys not given."""

    body: str
    signatures: tuple[Signature, ...]
    unverified: tuple[Signature, ...]

    def signed_by(self, verifier: NoteVerifier) -> bool:
        return any(
            s.name == verifier.name and s.key_hash == verifier.key_hash for s in self.signatures
        )


def is_valid_name(name: str) -> bool:
    """Go's rule: non-empty, no '+', no white space."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_hash(name: str, public_key: bytes) -> int:
    """The first 4 bytes (big-endian) of SHA-256(name || "\\n" || 0x01 || public key)."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _decode_base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _parse_key(
    parts: list[str], kind: str, public_of: Callable[[bytes], bytes]
) -> tuple[str, bytes]:
    """(name, raw key) of `name+hash+base64`, checking the form, the algorithm and the hash."""
    if len(parts) != 3:
        raise KeyFormatError(f"a {kind} key reads <name>+<8 hex digits>+<base64 key>")
    name, hash_hex, key64 = parts
    if not is_valid_name(name):
        raise KeyFormatError(f"a {kind} key's name is not empty and has no '+' or space")
    if not _HASH_HEX.fullmatch(hash_hex):
        raise KeyFormatError(f"a {kind} key's hash is 8 hexadecimal digits, not {hash_hex!r}")
    key = _decode_base64(key64)
    if not key:
        raise KeyFormatError(f"a {kind} key's last part is not standard base64")
    if key[0] != ALG_ED25519:
        raise KeyFormatError(f"a {kind} key's algorithm is {key[0]}, not Ed25519 (1)")
    if len(key) != 1 + _KEY_SIZE:
        raise KeyFormatError(f"an Ed25519 {kind} key has {_KEY_SIZE} bytes, not {len(key) - 1}")
    if key_hash(name, public_of(key[1:])) != int(hash_hex, 16):
        raise KeyFormatError(f"the {kind} key's hash {hash_hex} does not match its key")
    return name, key[1:]


def _public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _public_of_seed(seed: bytes) -> bytes:
    return _public_bytes(Ed25519PrivateKey.from_private_bytes(seed))


def _key_text(name: str, hash_: int, key: bytes) -> str:
    return f"{name}+{hash_:08x}+{base64.b64encode(bytes([ALG_ED25519]) + key).decode()}"


class NoteVerifier:
    """An Ed25519 verifier key of a named signer."""

    def __init__(self, name: str, public_key: bytes) -> None:
        if not is_valid_name(name):
            raise KeyFormatError("a key's name is not empty and has no '+' or space")
        self.name = name
        self.key_hash = key_hash(name, public_key)
        self.public_key = public_key
        self._key = Ed25519PublicKey.from_public_bytes(public_key)

    @classmethod
    def from_verifier_key(cls, text: str) -> NoteVerifier:
        return cls(*_parse_key(text.split("+", 2), "verifier", lambda key: key))

    @property
    def verifier_key(self) -> str:
        """Go's verifier key text: `<name>+<hash8hex>+<base64(0x01 || public key)>`."""
        return _key_text(self.name, self.key_hash, self.public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


class NoteSigner:
    """An Ed25519 private key that signs notes under its name."""

    def __init__(self, name: str, seed: bytes) -> None:
        if not is_valid_name(name):
            raise KeyFormatError("a key's name is not empty and has no '+' or space")
        self.name = name
        self._seed = seed
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.verifier = NoteVerifier(name, _public_bytes(self._key))
        self.key_hash = self.verifier.key_hash

    @classmethod
    def from_private_key(cls, text: str) -> NoteSigner:
        parts = text.split("+", 4)
        if parts[:2] != ["PRIVATE", "KEY"]:
            raise KeyFormatError("a private key reads PRIVATE+KEY+<name>+<hash>+<base64 seed>")
        return cls(*_parse_key(parts[2:], "private", _public_of_seed))

    @property
    def private_key(self) -> str:
        """Go's signer key text: `PRIVATE+KEY+<name>+<hash8hex>+<base64(0x01 || seed)>`."""
        return "PRIVATE+KEY+" + _key_text(self.name, self.key_hash, self._seed)

    def signature_line(self, body: str) -> str:
        _check_text(body)
        signature = self._key.sign(body.encode())
        blob = self.key_hash.to_bytes(4, "big") + signature
        return f"{_SIGNATURE_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"

    def sign(self, body: str) -> str:
        """The whole note: `body`, a blank line, this key's signature line."""
        return body + "\n" + self.signature_line(body)


def generate_key(name: str) -> tuple[str, str]:
    """A fresh Ed25519 key pair named `name`: (private key text, verifier key text)."""
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes_raw()
    signer = NoteSigner(name, seed)
    return signer.private_key, signer.verifier.verifier_key


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise MalformedNoteError("a note's text is not empty and ends with a newline")
    _check_characters(text)


def _check_characters(text: str) -> None:
    if _CONTROL.search(text):
        raise MalformedNoteError("a note holds no control character but the newline")
    try:
        text.encode()
    except UnicodeEncodeError as error:
        raise MalformedNoteError("a note is valid UTF-8") from error


def _find_verifier(name: str, hash_: int, verifiers: Sequence[NoteVerifier]) -> NoteVerifier | None:
    found = [v for v in verifiers if v.name == name and v.key_hash == hash_]
    if len(found) > 1:
        raise AmbiguousKeyError(f"two verifiers given for the key {name}+{hash_:08x}")
    return found[0] if found else None


def _signature_of(line: str) -> tuple[Signature, bytes]:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise MalformedNoteError(f"a signature line starts with '{_SIGNATURE_PREFIX}': {line!r}")
    name, _, b64 = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    blob = _decode_base64(b64)
    if not is_valid_name(name) or not b64 or blob is None or len(blob) < 5:
        raise MalformedNoteError(f"a signature line reads '— <name> <base64>': {line!r}")
    return Signature(name, int.from_bytes(blob[:4], "big"), b64), blob[4:]


def open_note(note: str | bytes, verifiers: Sequence[NoteVerifier]) -> OpenedNote:
    """The note's body and who signed it, checked by Go's `note.Open` rules.

    Every signature by a given key must verify (else InvalidSignatureError); lines
    by other keys are kept in `unverified`; at least one must be by a given key
    (else UnverifiedNoteError).
    """
    if isinstance(note, bytes):
        try:
            note = note.decode()
        except UnicodeDecodeError as error:
            raise MalformedNoteError("a note is valid UTF-8") from error
    _check_characters(note)
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("a note ends with a blank line and its signature lines")
    body, lines = note[: split + 1], note[split + 2 :]
    if not lines.endswith("\n"):
        raise MalformedNoteError("a note's last signature line ends with a newline")
    signatures: list[Signature] = []
    unverified: list[Signature] = []
    seen: set[tuple[str, int]] = set()
    count = 0
    for line in lines[:-1].split("\n"):
        signature, raw = _signature_of(line)
        count += 1
        if count > _MAX_SIGNATURES:
            raise MalformedNoteError(f"a note has at most {_MAX_SIGNATURES} signatures")
        verifier = _find_verifier(signature.name, signature.key_hash, verifiers)
        if verifier is None:
            if signature not in unverified:
                unverified.append(signature)
            continue
        if (signature.name, signature.key_hash) in seen:
            continue
        seen.add((signature.name, signature.key_hash))
        if not verifier.verify(body.encode(), raw):
            raise InvalidSignatureError(
                f"the signature by {signature.name}+{signature.key_hash:08x} does not verify:"
                " the note was changed or not signed by that key"
            )
        signatures.append(signature)
    if not signatures:
        raise UnverifiedNoteError("the note has no signature by a key given", tuple(unverified))
    return OpenedNote(body, tuple(signatures), tuple(unverified))
