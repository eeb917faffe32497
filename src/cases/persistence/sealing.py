"""Personal fields sealed in the stored form, under their subject's key (ADR 0044).

A personal text is stored as ``{"_type_": "sealed", "_data_": TOKEN}``, TOKEN
being base64 of the subject id (16 bytes), a random nonce (12 bytes) and the
AES-256-GCM ciphertext of the UTF-8 text, with the subject id as associated
data. The token names its subject, so reading needs no context; writing does:
`sealing_for(subject, kind)` says whose record is being encoded (the mapper
sets it around each event and snapshot, `SealingMapper`).

Reading a token whose key is gone (erased or lost) gives `ERASED`, never an
error. Writing for an erased subject stores `ERASED` itself.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, Final, TypeVar
from uuid import UUID

from cryptography.exceptions import InvalidTag
from eventsourcing.persistence import Transcoding

from cases.domain.erasure import SubjectKind
from cases.persistence.personal_data import ERASED
from cases.persistence.subject_keys import NONCE_BYTES, SubjectKeys
from cases.persistence.transcoder import DataclassAsDict, _Walker

SEALED_NAME: Final = "sealed"

_T = TypeVar("_T")

_UNRESOLVED: Final = object()


class _Subject:
    """The subject whose record is being encoded, and its cipher once a text needed it."""

    __slots__ = ("cipher", "kind", "subject")

    def __init__(self, subject: UUID, kind: SubjectKind) -> None:
        self.subject = subject
        self.kind = kind
        self.cipher: Any = _UNRESOLVED  # AESGCM, or None once erased


_SUBJECT: ContextVar[_Subject | None] = ContextVar("sealing_subject", default=None)


@dataclass(frozen=True, slots=True)
class Sealed:
    """A personal text as stored: the token of its ciphertext."""

    token: str


class sealing_for:  # noqa: N801 - used as a function: `with sealing_for(subject, kind):`
    """Personal fields encoded inside are sealed under `subject`'s key.

    A class rather than a generator context manager: it is entered for every
    event with personal fields, and costs a third as much."""

    __slots__ = ("_reset", "_subject")

    def __init__(self, subject: UUID, kind: SubjectKind) -> None:
        self._subject = _Subject(subject, kind)

    def __enter__(self) -> None:
        self._reset: Token[_Subject | None] = _SUBJECT.set(self._subject)

    def __exit__(self, *exc_info: object) -> None:
        _SUBJECT.reset(self._reset)


class Sealer:
    """Seals and opens personal texts with the subject keys."""

    def __init__(self, keys: SubjectKeys) -> None:
        self.keys = keys

    def seal(self, value: Any) -> Any:
        """`value` (a text, None, or a tuple of texts) with every text sealed under
        the current subject; as it is when no subject is being encoded."""
        current = _SUBJECT.get()
        if current is None or value is None:
            return value
        if type(value) is tuple:
            return tuple(self.seal(item) for item in value)
        cipher = current.cipher
        if cipher is _UNRESOLVED:  # the record's first text: its key, once a record
            self.keys.catch_up_with_erasures()
            cipher = current.cipher = self.keys.for_writing(current.subject, current.kind)
        if cipher is None:
            return ERASED
        subject = current.subject
        nonce = _nonce()
        sealed = cipher.encrypt(nonce, value.encode(), subject.bytes)
        token = base64.b64encode(subject.bytes + nonce + sealed).decode()
        # The event is read back soon (the next command on the case): it opens
        # from memory, not by a decryption.
        self.keys.remember_opened(subject, token, value)
        return Sealed(token)

    def open(self, token: Any) -> str:
        """The text a token seals, or `ERASED` when its subject's key is gone."""
        keys = self.keys
        if time.monotonic() - keys.erasures_counted_at >= keys.ERASURES_CHECKED_EVERY:
            keys.catch_up_with_erasures()  # inlined test: this runs per text read
        opened = keys.opened.get(token)
        if opened is not None:
            return opened
        try:
            raw = base64.b64decode(token, validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise ValueError(f"'{SEALED_NAME}' data is not a token") from None
        subject = UUID(bytes=raw[:16])
        cipher = self.keys.for_reading(subject)
        if cipher is None:
            return ERASED
        nonce, sealed = raw[16 : 16 + NONCE_BYTES], raw[16 + NONCE_BYTES :]
        try:
            text = cipher.decrypt(nonce, sealed, subject.bytes).decode()
        except InvalidTag:
            raise ValueError(f"a sealed text of subject {subject} does not open") from None
        self.keys.remember_opened(subject, token, text)
        return text


def _nonce() -> bytes:
    return os.urandom(NONCE_BYTES)


class SealedAsToken(Transcoding):
    """`Sealed` as its token; decoding opens it (or gives the placeholder)."""

    type = Sealed
    name = SEALED_NAME

    def __init__(self, sealer: Sealer) -> None:
        self._sealer = sealer
        # The transcoder calls this per sealed text read: the opener itself, one
        # call frame fewer than the method below.
        self.decode = sealer.open  # type: ignore[method-assign,assignment]

    def encode(self, obj: Sealed) -> str:
        return obj.token

    def decode(self, data: str) -> str:
        return self._sealer.open(data)


class SealingDataclassAsDict(DataclassAsDict[_T]):
    """A value object with personal fields, those sealed under the current subject."""

    def __init__(
        self, dataclass_cls: type[_T], name: str, personal: frozenset[str], sealer: Sealer
    ) -> None:
        super().__init__(dataclass_cls, name)
        self._personal = tuple(n for n in self.field_names if n in personal)
        self._sealer = sealer

    def encode(self, obj: _T) -> dict[str, Any]:
        fields = super().encode(obj)
        for name in self._personal:
            fields[name] = self._sealer.seal(fields[name])
        return fields

    def encode_walked(self, obj: _T, walker: _Walker) -> dict[str, Any]:
        walked = walker.walk_fields(obj, self.field_names)
        for name in self._personal:
            walked[name] = walker.walk(self._sealer.seal(getattr(obj, name)))
        return walked
