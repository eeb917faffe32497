"""The leaf encoding is the one docs/audit-log.md describes, byte for byte."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from uuid import UUID

import pytest

from cases.audit_log.leaves import (
    NO_TIMESTAMP,
    StoredRecord,
    encode_leaf,
    leaf_hashes,
    recorded_micros,
)
from cases.transparency.merkle import leaf_hash

STATE = (
    b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-01-05T08:00:00+00:00"},'
    b'"originator_topic":"cases.domain.collection_policy:CollectionPolicy"}'
)
EXAMPLE = StoredRecord(
    1,
    UUID("ce5d6344-82ef-5f56-9531-eb218b121b38"),
    1,
    "cases.domain.collection_policy:CollectionPolicy.Established",
    STATE,
)
DOCUMENTED_LEAF_HASH = "3c15f5bd1b44103229e07627c069de4981dec9d37c674bcede3654314b9da8d5"


def reference_leaf(record: StoredRecord) -> bytes:
    """A second encoder, written from docs/audit-log.md, not from leaves.py."""
    moment = datetime.fromisoformat(json.loads(record.state)["timestamp"]["_data_"])
    micros = round((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000)
    topic = record.topic.encode()
    return (
        b"\x01"
        + record.position.to_bytes(8, "big")
        + record.aggregate_id.bytes
        + record.version.to_bytes(8, "big")
        + len(topic).to_bytes(4, "big")
        + topic
        + micros.to_bytes(8, "big", signed=True)
        + len(record.state).to_bytes(4, "big")
        + record.state
    )


def test_the_worked_example_of_the_documentation() -> None:
    leaf = encode_leaf(EXAMPLE)
    assert leaf == reference_leaf(EXAMPLE)
    assert len(leaf) == 253
    assert hashlib.sha256(b"\x00" + leaf).hexdigest() == DOCUMENTED_LEAF_HASH
    assert leaf_hash(leaf).hex() == DOCUMENTED_LEAF_HASH


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("position", 2),
        ("aggregate_id", UUID(int=1)),
        ("version", 2),
        ("topic", EXAMPLE.topic + "X"),
        ("state", STATE.replace(b"08:00:00", b"08:00:01")),
        ("state", STATE.replace(b"CollectionPolicy", b"CollectionPolicZ")),
    ],
)
def test_every_field_is_in_the_leaf(field: str, value: object) -> None:
    changed = StoredRecord(**{**{f: getattr(EXAMPLE, f) for f in EXAMPLE.__slots__}, field: value})
    assert encode_leaf(changed) != encode_leaf(EXAMPLE)


@pytest.mark.parametrize(
    "state",
    [b"\x00binary", b"[1, 2]", b'{"no": "timestamp"}', b'{"timestamp": "not a moment"}'],
)
def test_a_state_without_a_readable_timestamp_still_has_a_leaf(state: bytes) -> None:
    assert recorded_micros(state) == NO_TIMESTAMP
    record = StoredRecord(1, EXAMPLE.aggregate_id, 1, EXAMPLE.topic, state)
    assert encode_leaf(record).endswith(len(state).to_bytes(4, "big") + state)


def test_a_moment_before_the_epoch_and_one_without_an_offset() -> None:
    before = b'{"timestamp":{"_type_":"datetime_iso","_data_":"1969-12-31T23:59:59.5+00:00"}}'
    assert recorded_micros(before) == -500_000
    naive = b'{"timestamp":"1970-01-01T00:00:01"}'
    assert recorded_micros(naive) == 1_000_000


def test_the_prefix_path_reads_what_a_json_parser_reads() -> None:
    """Rule 1 of the documentation (the transcoder's prefix) and rule 2 (JSON)
    agree on every state the transcoder writes."""
    assert STATE.startswith(b'{"timestamp":{"_type_":"datetime_iso","_data_":"')
    spaced = STATE.replace(b'{"timestamp":{', b'{ "timestamp":{')  # not the prefix: parsed
    assert recorded_micros(spaced) == recorded_micros(STATE) == 1_767_600_000_000_000


def test_the_bulk_hashes_are_the_leaf_hashes_of_each_row() -> None:
    """`leaf_hashes` (the verifier's tight loop) gives, row by row, exactly
    `leaf_hash(encode_leaf(...))`, with topics repeated and states of every shape."""
    other = b'{"originator_topic":"x","timestamp":"2026-01-05T08:00:00"}'
    rows = [
        (1, EXAMPLE.aggregate_id, 1, EXAMPLE.topic, STATE),
        (2, EXAMPLE.aggregate_id, 2, EXAMPLE.topic, STATE.replace(b"08:00", b"09:00")),
        (5, UUID(int=7), 1, "cases.other:Topic.Happened", other),
        (9, UUID(int=8), 3, EXAMPLE.topic, b"\x00not json"),
    ]
    expected = [leaf_hash(encode_leaf(StoredRecord(*row))) for row in rows]
    assert leaf_hashes(rows) == expected
    assert len(set(expected)) == len(rows)
    assert leaf_hashes([]) == []
