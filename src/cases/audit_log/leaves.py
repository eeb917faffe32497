"""The leaf of the transparency log: one stored event as canonical bytes.

Every field is fixed-width big-endian or length-prefixed, so a third party can
rebuild the bytes from the five columns of the events table alone
(docs/audit-log.md, "Leaf encoding"):

    u8   format version (1)
    u64  position (the notification id)
    16   aggregate id (the UUID's 16 bytes)
    u64  aggregate version
    u32  topic length, then the topic (UTF-8)
    i64  recorded timestamp, microseconds since 1970-01-01T00:00:00Z
    u32  state length, then the state bytes exactly as stored

The recorded timestamp is the `timestamp` field of the stored state (the moment
eventsourcing recorded the event, kept in plain text by the transcoder), read
by the rule `recorded_micros` states; a state it cannot be read from gives
`NO_TIMESTAMP`, so the leaf is still defined and a changed state still changes
its hash.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import orjson
from eventsourcing.persistence import Notification

from cases.persistence.event_rows import StoredRow

FORMAT_VERSION = 1
NO_TIMESTAMP = -(2**63)  # the state holds no readable recorded timestamp
TIMESTAMP_PREFIX = b'{"timestamp":{"_type_":"datetime_iso","_data_":"'
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HEAD = struct.Struct(">BQ16sQ")  # format version, position, aggregate id, version
_HASHED_HEAD = struct.Struct(">BBQ16sQ")  # RFC 9162's leaf prefix 0x00, then _HEAD
_TAIL = struct.Struct(">qI")  # recorded timestamp, state length
_U32 = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A row of the events table, as stored."""

    position: int
    aggregate_id: UUID
    version: int
    topic: str
    state: bytes


def recorded_micros(state: bytes) -> int:
    """The stored state's recorded timestamp in microseconds since the epoch
    (UTC), or `NO_TIMESTAMP` if the state holds none that can be read.

    A state that starts as the transcoder writes every event
    (`TIMESTAMP_PREFIX`) has it as the text up to the next quote; any other
    is parsed as JSON for its `timestamp` member."""
    try:
        if state.startswith(TIMESTAMP_PREFIX):
            end = state.index(b'"', len(TIMESTAMP_PREFIX))
            text = state[len(TIMESTAMP_PREFIX) : end].decode("ascii")
        else:
            stored = orjson.loads(state)["timestamp"]
            text = stored["_data_"] if isinstance(stored, dict) else stored
        moment = datetime.fromisoformat(text)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return NO_TIMESTAMP
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def encode_leaf(record: StoredRecord) -> bytes:
    """The canonical leaf bytes of one stored event."""
    head = _HEAD.pack(FORMAT_VERSION, record.position, record.aggregate_id.bytes, record.version)
    return b"".join(
        (
            head,
            _length_prefixed(record.topic),
            _TAIL.pack(recorded_micros(record.state), len(record.state)),
            record.state,
        )
    )


def _length_prefixed(topic: str) -> bytes:
    encoded = topic.encode("utf-8")
    return _U32.pack(len(encoded)) + encoded


def leaf_hashes(rows: Iterable[StoredRow]) -> list[bytes]:
    """The leaf hash (RFC 9162: SHA-256 of 0x00 and the leaf bytes) of each stored
    row, in order: `leaf_hash(encode_leaf(...))` in one tight loop, for the
    verifier and the tree builder."""
    topics: dict[str, bytes] = {}
    pack_head, pack_tail, sha256 = _HASHED_HEAD.pack, _TAIL.pack, hashlib.sha256
    digests = []
    for position, aggregate_id, version, topic, state in rows:
        prefixed = topics.get(topic)
        if prefixed is None:
            prefixed = topics[topic] = _length_prefixed(topic)
        leaf = b"".join(
            (
                pack_head(0, FORMAT_VERSION, position, aggregate_id.bytes, version),
                prefixed,
                pack_tail(recorded_micros(state), len(state)),
                state,
            )
        )
        digests.append(sha256(leaf).digest())
    return digests


def record_of(notification: Notification) -> StoredRecord:
    """The stored record of a notification read from the event log."""
    originator = notification.originator_id
    return StoredRecord(
        notification.id,
        originator if isinstance(originator, UUID) else UUID(str(originator)),
        int(notification.originator_version),
        notification.topic,
        bytes(notification.state),
    )
