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

import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import orjson
from eventsourcing.persistence import Notification

FORMAT_VERSION = 1
NO_TIMESTAMP = -(2**63)  # the state holds no readable recorded timestamp
TIMESTAMP_PREFIX = b'{"timestamp":{"_type_":"datetime_iso","_data_":"'
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HEAD = struct.Struct(">BQ16sQI")
_I64 = struct.Struct(">q")
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
    topic = record.topic.encode("utf-8")
    return b"".join(
        (
            _HEAD.pack(
                FORMAT_VERSION,
                record.position,
                record.aggregate_id.bytes,
                record.version,
                len(topic),
            ),
            topic,
            _I64.pack(recorded_micros(record.state)),
            _U32.pack(len(record.state)),
            record.state,
        )
    )


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
