"""One AES-256 key per data subject, wrapped by the operator's master key (ADR 0044).

A subject's key is made the first time one of its personal fields is stored,
wrapped (AES-256-GCM, the subject id as associated data) by the master key and
kept in the `subject_keys` table (migration 0010) beside the events, or in
memory for the in-memory store. Erasing a subject deletes its wrapped key and
keeps the row as a tombstone: no key is ever made for it again, so a command
racing the erasure stores the placeholder, never readable text.

On SQLite a new subject's key and its search digests are written in the
transaction of the record (event or snapshot) that made them, not on the keys'
own connection (ADR 0067, amended): the record carries them (`SubjectRows`), the
store's recorder writes them with it, and the key is only held once they have
committed together. A crash can then never leave events whose key is missing,
and an intake is one write transaction, not three.

Unwrapped keys (and the texts they opened) are kept in the process's memory
once read; erasing through this process forgets them at once. Every other
process counts the store's erasures at most every `ERASURES_CHECKED_EVERY`
seconds, as it seals or opens a text or starts a command, and forgets all it
holds when the count moved, telling its listeners (the working copies) to do
the same: an erasure made anywhere reaches every process within that bound.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Final, Protocol
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cases.domain.erasure import SubjectKind
from cases.persistence.statement import Identifier, Sql, sql

KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12


class MasterKeyError(Exception):
    """The master key is missing, malformed, or not the one that wrapped a key."""


class UnknownSubjectError(LookupError):
    """No personal data was ever stored for this subject id."""


class Erasure(Enum):
    DONE = "erased"
    ALREADY = "already erased"


@dataclass(frozen=True, slots=True)
class MasterKey:
    """The operator's key that wraps every subject key; only its id is ever stored."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise MasterKeyError(
                f"the master key must be {KEY_BYTES} bytes, got {len(self.secret)}"
            )

    def __repr__(self) -> str:
        return f"MasterKey(id={self.key_id})"

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"cases master key id" + self.secret).hexdigest()[:16]

    @classmethod
    def from_text(cls, text: str) -> MasterKey:
        """A key written as base64 (standard or URL-safe) of 32 random bytes."""
        try:
            secret = base64.urlsafe_b64decode(text.strip().replace("+", "-").replace("/", "_"))
        except ValueError:
            raise MasterKeyError("the master key is not base64 of 32 bytes") from None
        return cls(secret)

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(os.urandom(KEY_BYTES))

    def as_text(self) -> str:
        return base64.urlsafe_b64encode(self.secret).decode()

    def digest(self, field: str, value: str) -> str:
        """The keyed digest a subject is found by: the same for the same normalised
        value (e-mail addresses and names ignore case and extra spaces)."""
        normal = " ".join(value.split()).casefold()
        key = hashlib.sha256(b"cases subject index" + self.secret).digest()
        return hmac.new(key, f"{field}\x00{normal}".encode(), hashlib.sha256).hexdigest()

    def wrap(self, subject: UUID, key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(self.secret).encrypt(nonce, key, subject.bytes)

    def unwrap(self, subject: UUID, wrapped: bytes) -> bytes:
        try:
            return AESGCM(self.secret).decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], subject.bytes
            )
        except InvalidTag:  # another master key wrapped it
            raise MasterKeyError(
                f"the key of subject {subject} was not wrapped by master key {self.key_id}"
            ) from None


@dataclass(frozen=True, slots=True)
class KeyRow:
    subject: UUID
    kind: SubjectKind
    wrapped: bytes | None  # None once erased
    master_key_id: str | None


class KeyMadeElsewhereError(Exception):
    """A record's new subject key lost to a key another process stored first."""


@dataclass(frozen=True, slots=True, eq=False)
class SubjectRows:
    """What one record brings to the keys' tables when they are written in its own
    transaction (SQLite): its subject's new key, if it made one, and the digests
    its subject is found by."""

    keys: SubjectKeys
    subject: UUID
    key: KeyRow | None
    digests: tuple[tuple[str, str], ...]


class SubjectKeys(ABC):
    """Where the wrapped subject keys live, and the unwrapped ones this process holds."""

    OPENED_LIMIT: Final = 100_000
    ERASURES_CHECKED_EVERY: float = 1.0
    """Seconds between two counts of the store's erasures (other processes' too)."""

    written_with_records: bool = False
    """Whether a new key and the digests ride on the record that made them
    (`rows_for_record`), written in its transaction, rather than being written at
    once on the keys' own connection."""

    written_ahead_together: bool = False
    """Whether a new key waits, made but not stored, until the record that made it
    is encoded, and is then stored with that record's digests in one write on the
    keys' own connection (`write_ahead`), still before the record is."""

    def __init__(self, master: MasterKey) -> None:
        self.master = master
        self._held: dict[UUID, AESGCM | None] = {}
        self._pending: dict[UUID, tuple[KeyRow, AESGCM]] = {}
        """New keys made for records not yet committed (`written_with_records`)."""
        self._lock = threading.Lock()
        self._opened_lock = threading.Lock()
        self._missing_lock = threading.Lock()
        """Held while a key this process does not hold is read or made: threads
        missing the same subject at once (a runner's decoding threads, a cold
        working copy) wait for the first one's read instead of each reading it."""
        self.opened: dict[str, str] = {}
        """Texts this process opened, by their stored token (a token never changes);
        emptied on every erasure."""
        self.erasure_listeners: list[Callable[[], None]] = []
        """Told when an erasure made elsewhere is seen: drop what you hold decrypted."""
        self._erasures_seen: int | None = None
        self.erasures_counted_at = -float("inf")
        """When the erasures were last counted (`time.monotonic()`)."""

    def catch_up_with_erasures(self) -> None:
        """Forget every key and text held if the store's erasures changed since the
        last count (counted at most every `ERASURES_CHECKED_EVERY` seconds)."""
        now = time.monotonic()
        if now - self.erasures_counted_at < self.ERASURES_CHECKED_EVERY:
            return
        self.erasures_counted_at = now
        count = self._erased_count()
        if count == self._erasures_seen:
            return
        first = self._erasures_seen is None
        self._erasures_seen = count
        if first:
            return
        with self._opened_lock:
            self._held.clear()
            self.opened.clear()
        for listener in self.erasure_listeners:
            listener()

    def remember_opened(self, subject: UUID, token: str, text: str) -> None:
        """Keep an opened text, unless its subject was erased meanwhile."""
        with self._opened_lock:
            if self._held.get(subject) is None and subject not in self._pending:
                return
            if len(self.opened) >= self.OPENED_LIMIT:
                self.opened.clear()
            self.opened[token] = text

    # --- what the sealing needs ------------------------------------------------

    def for_writing(self, subject: UUID, kind: SubjectKind) -> AESGCM | None:
        """The subject's cipher, made if it has none yet; None once erased."""
        return self._held_or(subject, lambda: self._made(subject, kind))

    def _made(self, subject: UUID, kind: SubjectKind) -> AESGCM | None:
        if self.written_with_records or self.written_ahead_together:
            return self._made_for_record(subject, kind)
        # A subject first written here is the usual case (a case taken in): one
        # insert, no read before or after it; a row already there is then read.
        made = KeyRow(subject, kind, self.master.wrap(subject, _new_key()), self.master.key_id)
        row = made if self._insert(made) else self._row(subject)
        return self._hold(subject, row)

    def _held_or(self, subject: UUID, fetch: Callable[[], AESGCM | None]) -> AESGCM | None:
        """The subject's held cipher, else what `fetch` reads or makes, under the
        lock for keys not held: threads missing one subject at once read it once."""
        held = self._held.get(subject, False)
        if held is not False:
            return held  # type: ignore[return-value]
        with self._missing_lock:
            held = self._held.get(subject, False)
            if held is not False:  # read or made meanwhile by another thread
                return held  # type: ignore[return-value]
            return fetch()

    def _made_for_record(self, subject: UUID, kind: SubjectKind) -> AESGCM | None:
        """The subject's stored key (or its tombstone), else a new key that rides
        on the record being encoded and is written in its transaction."""
        if subject not in self._pending:
            row = self._row(subject)  # a read: no write lock taken
            if row is not None:
                return self._hold(subject, row)
        return self._pending_key(subject, kind)

    def new_subject(self, subject: UUID, kind: SubjectKind) -> None:
        """The record about to be encoded starts its aggregate, whose id is the
        subject: its key is made without a read (none can be stored for a new id),
        to be stored with the record. A key stored first all the same is found
        when it is (`write_with_record`, `write_ahead`)."""
        if (self.written_with_records or self.written_ahead_together) and (
            subject not in self._held
        ):
            with self._missing_lock:
                self._pending_key(subject, kind)

    def _pending_key(self, subject: UUID, kind: SubjectKind) -> AESGCM:
        """The subject's key waiting to be stored with its record, made if none is."""
        pending = self._pending.get(subject)
        if pending is not None:
            return pending[1]
        key = _new_key()
        made = KeyRow(subject, kind, self.master.wrap(subject, key), self.master.key_id)
        with self._opened_lock:  # a racing thread's key for the subject wins
            return self._pending.setdefault(subject, (made, AESGCM(key)))[1]

    def rows_for_record(
        self, subject: UUID, digests: tuple[tuple[str, str], ...] = ()
    ) -> SubjectRows | None:
        """What the record of `subject` being encoded must write with it: the
        subject's key if it is not stored yet, and `digests`; None if nothing."""
        pending = self._pending.get(subject)
        if pending is None and not digests:
            return None
        return SubjectRows(self, subject, None if pending is None else pending[0], digests)

    def recorded(self, rows: SubjectRows) -> None:
        """The record carrying `rows` committed: its new key is stored, hold it."""
        self._settle(rows, hold=True)

    def not_recorded(self, rows: SubjectRows) -> None:
        """The record carrying `rows` failed: forget its new key (a retry encodes
        its record again, under a key made or read then)."""
        self._settle(rows, hold=False)

    def _settle(self, rows: SubjectRows, *, hold: bool) -> None:
        """No longer pending: the key `rows` carried, held if it was stored."""
        if rows.key is not None:
            self._settle_key(rows.subject, rows.key, hold=hold)

    def _settle_key(self, subject: UUID, key: KeyRow, *, hold: bool) -> None:
        """No longer pending: the subject's new `key`, held if it was stored."""
        with self._opened_lock:
            pending = self._pending.get(subject)
            if pending is None or pending[0] is not key:
                return  # settled by another record of the subject
            del self._pending[subject]
            if hold:
                self._held[subject] = pending[1]

    def write_ahead(self, subject: UUID, values: list[tuple[str, str]]) -> bool:
        """Store, before the record of `subject` just encoded, what it needs: the
        key it made (`written_ahead_together`) and the digests of `values`, in one
        write that does not wait for its flush (the record's commit makes it
        durable). False when another key of the subject was stored first: that one
        is held now, and the record must be encoded again under it."""
        digests = list(self.digests_of(values)) if values else []
        pending = self._pending.get(subject)
        if pending is None:
            if digests:
                self._index(subject, digests, ahead=True)
            return True
        made = pending[0]
        stored = self._insert_ahead(made, digests)
        row = None if stored else self._row(subject)
        # Ours if it went in now, or earlier (another thread, a lost answer).
        ours = stored or (row is not None and row.wrapped == made.wrapped)
        self._settle_key(subject, made, hold=ours)
        if not ours:
            self._hold(subject, row)  # the key stored first, or its tombstone
            return False
        if not stored and digests:  # our key went in without these digests
            self._index(subject, digests, ahead=True)
        return True

    def _insert_ahead(self, row: KeyRow, digests: list[tuple[str, str]]) -> bool:
        """Insert the key unless the subject has one, and its digests only if it
        went in, in one write ahead of the records; whether the key went in."""
        raise NotImplementedError(f"{type(self).__name__} stores a new key when it makes it")

    def write_with_record(self, cursor: _Cursor, rows: Sequence[SubjectRows]) -> None:
        """Write `rows` through `cursor`, in the records' own transaction (only keys
        kept in the records' database can)."""
        raise NotImplementedError(f"{type(self).__name__} keeps its keys apart from the records")

    def digests_of(self, values: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        """The (field, digest) kept for each (field, value)."""
        return tuple((f, self.master.digest(f, v)) for f, v in values)

    def for_reading(self, subject: UUID) -> AESGCM | None:
        """The subject's cipher; None when erased or never made (the key is lost)."""
        return self._held_or(subject, lambda: self._hold(subject, self._row(subject)))

    def _hold(self, subject: UUID, row: KeyRow | None) -> AESGCM | None:
        cipher = None
        if row is not None and row.wrapped is not None:
            cipher = AESGCM(self.master.unwrap(subject, row.wrapped))
        if row is not None:  # a subject never seen may still get a key: not held
            self._held[subject] = cipher
        return cipher

    # --- erasure, finding, rotation ------------------------------------------------

    def index(self, subject: UUID, field: str, value: str) -> None:
        """Let the subject be found by `value` of `field` (only a digest is kept)."""
        self.index_all(subject, [(field, value)])

    def index_all(
        self, subject: UUID, values: list[tuple[str, str]], *, ahead: bool = False
    ) -> None:
        """Let the subject be found by each (field, value), written together;
        `ahead` of the records that bring them (made durable by their commit)."""
        if values:
            self._index(subject, list(self.digests_of(values)), ahead=ahead)

    def digests(self) -> set[tuple[str, str, UUID]]:
        """Every (field, digest, subject) kept."""
        return self._digests_kept()

    def drop_digests(self, stale: list[tuple[str, str, UUID]]) -> None:
        """Delete these digests (stale after a rotation, ADR 0056)."""
        if stale:
            self._drop(stale)

    def find(self, field: str, value: str) -> list[KeyRow]:
        """The subjects not yet erased that were found by `value` of `field`."""
        found = [self._row(s) for s in self._indexed(field, self.master.digest(field, value))]
        return [row for row in found if row is not None and row.wrapped is not None]

    def kind_of(self, subject: UUID) -> SubjectKind | None:
        row = self._row(subject)
        return None if row is None else row.kind

    def erase(self, subject: UUID, erased_at: str) -> Erasure:
        """Throw the subject's key away (its row stays, keyless, as the tombstone)."""
        row = self._row(subject)
        if row is None:
            raise UnknownSubjectError(f"no personal data is held for subject {subject}")
        with self._opened_lock:
            self._held[subject] = None
            self.opened.clear()
        if row.wrapped is None:
            return Erasure.ALREADY
        self._erase(subject, erased_at)
        return Erasure.DONE

    def rewrap(self, new_master: MasterKey) -> int:
        """Wrap every kept subject key with `new_master` (events are not touched);
        returns how many were re-wrapped. Use the new master key from then on."""
        count = 0
        for row in self._rows():
            if row.wrapped is None or row.master_key_id == new_master.key_id:
                continue
            key = self.master.unwrap(row.subject, row.wrapped)
            self._set_wrapped(row.subject, new_master.wrap(row.subject, key), new_master.key_id)
            count += 1
        self.master = new_master
        return count

    # --- the storage --------------------------------------------------------------

    @abstractmethod
    def _row(self, subject: UUID) -> KeyRow | None: ...

    @abstractmethod
    def _erased_count(self) -> int:
        """How many subjects the store holds erased (a partial index answers it)."""

    @abstractmethod
    def _rows(self) -> Iterator[KeyRow]: ...

    @abstractmethod
    def _insert(self, row: KeyRow) -> bool:
        """Insert unless the subject has a row already (a racing writer's wins);
        whether this row went in."""

    @abstractmethod
    def _erase(self, subject: UUID, erased_at: str) -> None:
        """Delete the wrapped key and the subject's digests, keep the row."""

    @abstractmethod
    def _index(self, subject: UUID, digests: list[tuple[str, str]], *, ahead: bool) -> None:
        """Keep each (field, digest) of the subject, in one write (`_write_ahead`
        if `ahead`)."""

    @abstractmethod
    def _digests_kept(self) -> set[tuple[str, str, UUID]]: ...

    @abstractmethod
    def _drop(self, stale: list[tuple[str, str, UUID]]) -> None: ...

    @abstractmethod
    def _indexed(self, field: str, digest: str) -> list[UUID]: ...

    @abstractmethod
    def _set_wrapped(self, subject: UUID, wrapped: bytes, master_key_id: str) -> None: ...

    def close(self) -> None:  # noqa: B027 (nothing to release in memory)
        """Release what the store holds."""


def _new_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


class MemorySubjectKeys(SubjectKeys):
    """Subject keys of the in-memory store (tests, the demo)."""

    def __init__(self, master: MasterKey) -> None:
        super().__init__(master)
        self._table: dict[UUID, KeyRow] = {}
        self._digests: set[tuple[str, str, UUID]] = set()

    def _row(self, subject: UUID) -> KeyRow | None:
        return self._table.get(subject)

    def _rows(self) -> Iterator[KeyRow]:
        return iter(list(self._table.values()))

    def _erased_count(self) -> int:
        return sum(1 for row in list(self._table.values()) if row.wrapped is None)

    def _insert(self, row: KeyRow) -> bool:
        with self._lock:
            return self._table.setdefault(row.subject, row) is row

    def _erase(self, subject: UUID, erased_at: str) -> None:  # noqa: ARG002 (no column)
        with self._lock:
            row = self._table[subject]
            self._table[subject] = KeyRow(subject, row.kind, None, None)
            self._digests = {d for d in self._digests if d[2] != subject}

    def _index(self, subject: UUID, digests: list[tuple[str, str]], *, ahead: bool) -> None:  # noqa: ARG002 (nothing to flush)
        with self._lock:
            self._digests.update((field, digest, subject) for field, digest in digests)

    def _digests_kept(self) -> set[tuple[str, str, UUID]]:
        with self._lock:
            return set(self._digests)

    def _drop(self, stale: list[tuple[str, str, UUID]]) -> None:
        with self._lock:
            self._digests.difference_update(stale)

    def _indexed(self, field: str, digest: str) -> list[UUID]:
        return sorted(s for f, d, s in self._digests if (f, d) == (field, digest))

    def _set_wrapped(self, subject: UUID, wrapped: bytes, master_key_id: str) -> None:
        with self._lock:
            row = self._table[subject]
            self._table[subject] = KeyRow(subject, row.kind, wrapped, master_key_id)


class _Cursor(Protocol):
    def execute(self, query: Any, params: Any = ..., /) -> Any: ...


class _Connection(_Cursor, Protocol):
    def close(self) -> None: ...


KEYS_SCHEMA: Final = "cases_keys"
"""PostgreSQL's schema of the subject keys and digests (ADR 0067, migration 0019)."""


@dataclass(frozen=True, slots=True)
class _Statements:
    """The statements on the keys' two tables, named where they live."""

    insert_key: Sql
    select_keys: Sql
    erase_key: Sql
    erased_count: Sql
    rewrap_key: Sql
    index: Identifier
    subjects_of_digest: Sql
    all_digests: Sql
    delete_digest: Sql
    delete_digests_of: Sql

    @classmethod
    def in_schema(cls, schema: str | None) -> _Statements:
        where = () if schema is None else (schema,)
        tables = {
            "keys": Identifier((*where, "subject_keys")),
            "index": Identifier((*where, "subject_index")),
        }

        def q(template: str) -> Sql:
            return sql(template, **{n: t for n, t in tables.items() if f"{{{n}}}" in template})

        return cls(
            insert_key=q(
                "INSERT INTO {keys} (subject_id, kind, wrapped_key, master_key_id) "
                "VALUES ({}, {}, {}, {}) ON CONFLICT (subject_id) DO NOTHING"
            ),
            select_keys=q("SELECT subject_id, kind, wrapped_key, master_key_id FROM {keys} "),
            erase_key=q(
                "UPDATE {keys} SET wrapped_key = NULL, master_key_id = NULL, erased_at = {} "
                "WHERE subject_id = {}"
            ),
            erased_count=q("SELECT COUNT(*) FROM {keys} WHERE wrapped_key IS NULL"),
            rewrap_key=q(
                "UPDATE {keys} SET wrapped_key = {}, master_key_id = {} "
                "WHERE subject_id = {} AND wrapped_key IS NOT NULL"
            ),
            index=tables["index"],
            subjects_of_digest=q(
                "SELECT subject_id FROM {index} WHERE field = {} AND digest = {} "
                "ORDER BY subject_id"
            ),
            all_digests=q("SELECT field, digest, subject_id FROM {index}"),
            delete_digest=q(
                "DELETE FROM {index} WHERE field = {} AND digest = {} AND subject_id = {}"
            ),
            delete_digests_of=q("DELETE FROM {index} WHERE subject_id = {}"),
        )

    def insert_key_with_digests(self, count: int) -> Sql:
        """One WITH clause inserting a key unless its subject has one, and `count`
        digests of the subject only if the key went in; the key's row `written`."""
        key = sql("WITH written AS ({insert_key} RETURNING subject_id)", insert_key=self.insert_key)
        if not count:
            return key
        values = ", ".join(["({}, {})"] * count)
        return key + sql(
            ", digests AS (INSERT INTO {index} (field, digest, subject_id) "  # noqa: S608 - placeholders only
            f"SELECT d.field, d.digest, written.subject_id FROM written, (VALUES {values}) "
            "AS d (field, digest) ON CONFLICT DO NOTHING)",
            index=self.index,
        )

    def insert_digests(self, count: int) -> Sql:
        """One statement inserting `count` digests (a subject's e-mail and name)."""
        rows = ", ".join(["({}, {}, {})"] * count)
        return sql(
            "INSERT INTO {index} (field, digest, subject_id) VALUES "  # noqa: S608 - placeholders only
            + rows
            + " ON CONFLICT DO NOTHING",
            index=self.index,
        )


class SqlSubjectKeys(SubjectKeys):
    """Subject keys in the `subject_keys` table of SQLite or PostgreSQL (there in the
    `cases_keys` schema, ADR 0067), through one autocommitted connection of their own
    used under a lock (keys are read once per process)."""

    def __init__(
        self,
        master: MasterKey,
        connect: Callable[[], _Connection],
        render: Callable[[Sql], str],
        schema: str | None = None,
    ) -> None:
        super().__init__(master)
        self._connect = connect
        self._connection: _Connection | None = None
        self._render = render
        self._sql = _Statements.in_schema(schema)

    @contextmanager
    def _conn(self) -> Iterator[_Connection]:
        """The connection, under the lock; one that failed is dropped, so the next
        use connects again (the database may have restarted)."""
        with self._lock:
            if self._connection is None:
                self._connection = self._connect()
            try:
                yield self._connection
            except Exception:
                with suppress(Exception):
                    self._connection.close()
                self._connection = None
                raise

    def _write(self, statement: Sql, params: tuple[Any, ...]) -> int:
        """Run `statement`; how many rows it changed."""
        with self._conn() as conn:
            return int(conn.execute(self._render(statement), params).rowcount)

    def _write_ahead(self, statement: Sql, params: tuple[Any, ...]) -> int:
        """Run `statement`, a write made ahead of the records that need it (a new key,
        a subject's digests); how many rows it changed."""
        return self._write(statement, params)

    def _write_all(self, statement: Sql, params: list[tuple[Any, ...]]) -> None:
        """Run `statement` once per parameter row, in one transaction."""
        with self._conn() as conn:
            text = self._render(statement)
            conn.execute("BEGIN")
            try:
                for row in params:
                    conn.execute(text, row)
            except Exception:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _read(self, query: Sql, params: tuple[Any, ...]) -> list[Any]:
        with self._conn() as conn:
            return list(conn.execute(self._render(query), params).fetchall())

    def _select(self, where: Sql, params: tuple[Any, ...]) -> list[KeyRow]:
        rows = self._read(self._sql.select_keys + where, params)
        return [
            KeyRow(UUID(r[0]), SubjectKind(r[1]), None if r[2] is None else bytes(r[2]), r[3])
            for r in rows
        ]

    def _row(self, subject: UUID) -> KeyRow | None:
        found = self._select(sql("WHERE subject_id = {}"), (str(subject),))
        return found[0] if found else None

    def _rows(self) -> Iterator[KeyRow]:
        return iter(self._select(sql("ORDER BY subject_id"), ()))

    def _erased_count(self) -> int:
        rows = self._read(self._sql.erased_count, ())
        return int(rows[0][0])

    def _insert(self, row: KeyRow) -> bool:
        params = (str(row.subject), row.kind.value, row.wrapped, row.master_key_id)
        return self._write_ahead(self._sql.insert_key, params) == 1

    def _erase(self, subject: UUID, erased_at: str) -> None:
        self._write(self._sql.erase_key, (erased_at, str(subject)))
        self._write(self._sql.delete_digests_of, (str(subject),))

    def _index(self, subject: UUID, digests: list[tuple[str, str]], *, ahead: bool) -> None:
        params = tuple(p for field, digest in digests for p in (field, digest, str(subject)))
        write = self._write_ahead if ahead else self._write
        write(self._sql.insert_digests(len(digests)), params)

    def _indexed(self, field: str, digest: str) -> list[UUID]:
        rows = self._read(self._sql.subjects_of_digest, (field, digest))
        return [UUID(r[0]) for r in rows]

    def _digests_kept(self) -> set[tuple[str, str, UUID]]:
        return {(str(f), str(d), UUID(str(s))) for f, d, s in self._read(self._sql.all_digests, ())}

    def _drop(self, stale: list[tuple[str, str, UUID]]) -> None:
        self._write_all(self._sql.delete_digest, [(f, d, str(s)) for f, d, s in stale])

    def _set_wrapped(self, subject: UUID, wrapped: bytes, master_key_id: str) -> None:
        self._write(self._sql.rewrap_key, (wrapped, master_key_id, str(subject)))

    def write_with_record(self, cursor: _Cursor, rows: Sequence[SubjectRows]) -> None:
        """Write what records bring (`SubjectRows`) through `cursor`, inside the
        records' own transaction. A new key whose subject got another key
        meanwhile (another process's) raises `KeyMadeElsewhereError`, and the
        transaction must roll back: its records are sealed under a key never kept."""
        insert_key = self._render(self._sql.insert_key)
        written: set[int] = set()
        for each in rows:
            key = each.key
            if key is None or id(key) in written:
                continue
            written.add(id(key))
            params = (str(key.subject), key.kind.value, key.wrapped, key.master_key_id)
            if cursor.execute(insert_key, params).rowcount != 1:
                stored = cursor.execute(
                    self._render(self._sql.select_keys + sql("WHERE subject_id = {}")),
                    (str(key.subject),),
                ).fetchone()
                if stored is None or stored[2] is None or bytes(stored[2]) != key.wrapped:
                    raise KeyMadeElsewhereError(f"subject {key.subject} got a key meanwhile")
        digests = [(f, d, str(each.subject)) for each in rows for f, d in each.digests]
        if digests:
            cursor.execute(
                self._render(self._sql.insert_digests(len(digests))),
                tuple(p for row in digests for p in row),
            )

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def sqlite_subject_keys(master: MasterKey, path: Path) -> SqlSubjectKeys:
    """The keys in the store's own SQLite file (ADR 0067 says why not a file apart),
    new ones written in the transaction of the record that made them."""

    def connect() -> _Connection:
        return sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)

    keys = SqlSubjectKeys(master, connect, Sql.sqlite)
    keys.written_with_records = True
    return keys


class PostgresSubjectKeys(SqlSubjectKeys):
    """The keys in PostgreSQL's `cases_keys` schema, a new key and a subject's
    digests committed without waiting for the WAL's flush, in one round trip
    (ADR 0067, amended).

    They are written before the events sealed under them, and the events' own
    commit flushes the WAL up to its record, which PostgreSQL writes and
    replays in order: once the events are durable, so are the key and the
    digests committed before them. A crash of the database before that loses at
    most a key and digests no event uses yet (the client's retry makes its key
    anew); it can never leave an event whose key is missing. Everything else
    (an erasure above all, acknowledged as done) still waits for its flush."""

    written_ahead_together = True

    def _write_ahead(self, statement: Sql, params: tuple[Any, ...]) -> int:
        """Run `statement` (an INSERT, UPDATE or DELETE), committed without waiting
        for the flush; how many rows it changed. One statement, bound by the
        server: `set_config(..., true)` is `SET LOCAL` for its own transaction."""
        return self._unflushed(sql("WITH written AS ({it} RETURNING 1)", it=statement), params)

    def _insert_ahead(self, row: KeyRow, digests: list[tuple[str, str]]) -> bool:
        params = (str(row.subject), row.kind.value, row.wrapped, row.master_key_id)
        statement = self._sql.insert_key_with_digests(len(digests))
        return self._unflushed(statement, params + tuple(p for d in digests for p in d)) == 1

    def _unflushed(self, written: Sql, params: tuple[Any, ...]) -> int:
        """Run `written`, a WITH clause naming its changed rows `written`, in a
        transaction that does not wait for its flush; how many rows it changed."""
        query = written + sql(
            " SELECT set_config('synchronous_commit', 'off', true), (SELECT count(*) FROM written)"
        )
        with self._conn() as conn:
            found = conn.execute(self._render(query), params).fetchone()
        return int(found[1])


def postgres_subject_keys(
    master: MasterKey, connect: Callable[[], _Connection]
) -> PostgresSubjectKeys:
    """The keys in the `cases_keys` schema, through `connect` (the keys role's, ADR 0067)."""
    return PostgresSubjectKeys(
        master, connect, lambda statement: statement.postgres(None), schema=KEYS_SCHEMA
    )
