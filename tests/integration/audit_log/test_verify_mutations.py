"""`verify` catches every edit of the events table behind the store's back, and
names the position edited (issue 14): on a copy of a history of more than
10 000 real events, with its tree and a signed checkpoint every 1 000 events."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cases.audit_log import verify
from cases.audit_log.keys import write_key
from cases.db.statement import sql
from cases.transparency.checkpoint import Checkpoint
from cases.transparency.signed_note import NoteSigner
from tests.integration.audit_log.conftest import Copy, TreeHistory
from tests.support.raw_events import RawEvents

MUTATED = 5_432  # inside the tree, between two checkpoints
LATER = 7_777


@pytest.fixture
def raw(copy: Copy) -> Iterator[RawEvents]:
    events = RawEvents(copy.settings.effective_database_url)
    yield events
    events.close()


def test_the_untouched_copy_verifies(copy: Copy, history: TreeHistory) -> None:
    result = copy.verifier().verify()
    assert result.finding is None
    assert result.events == history.events > 10_000
    assert result.checkpoints == history.events // 1_000 + 1


def _flip_a_letter(state: bytes) -> bytes:
    at = state.index(b'"actor"')  # a byte of a key: the JSON stays well formed
    return state[: at + 2] + bytes([state[at + 2] ^ 0x20]) + state[at + 3 :]


def _change_timestamp(state: bytes) -> bytes:
    head = b'"timestamp":{"_type_":"datetime_iso","_data_":"'
    at = state.index(head) + len(head)
    year = int(state[at : at + 4])
    return state[:at] + str(year - 1).encode() + state[at + 4 :]


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda raw: raw.change_state(MUTATED, _flip_a_letter), id="one-byte-of-state"),
        pytest.param(
            lambda raw: raw.change_state(MUTATED, _change_timestamp), id="recorded-timestamp"
        ),
        pytest.param(lambda raw: raw.set_topic(MUTATED, raw.row(MUTATED)[2] + "X"), id="topic"),
        pytest.param(
            lambda raw: raw.set_version(MUTATED, raw.row(MUTATED)[1] + 100_000), id="version"
        ),
    ],
)
def test_a_changed_row_is_named(
    copy: Copy, raw: RawEvents, mutate: Callable[[RawEvents], None]
) -> None:
    mutate(raw)
    finding = copy.verifier().verify().finding
    assert finding is not None
    assert (finding.what, finding.position) == (verify.CHANGED, MUTATED)


def test_a_deleted_row_is_missing(copy: Copy, raw: RawEvents) -> None:
    raw.delete(MUTATED)
    finding = copy.verifier().verify().finding
    assert finding is not None
    assert (finding.what, finding.position) == (verify.MISSING, MUTATED)


def test_two_swapped_rows_are_out_of_order(copy: Copy, raw: RawEvents) -> None:
    raw.swap(MUTATED, LATER)
    finding = copy.verifier().verify().finding
    assert finding is not None
    assert (finding.what, finding.position) == (verify.OUT_OF_ORDER, MUTATED)
    assert f"recorded at position {LATER}" in finding.detail


def test_a_forged_row_is_extra(copy: Copy, raw: RawEvents) -> None:
    originator, version, topic, state = raw.row(LATER)
    raw.insert_before(MUTATED, originator, version + 100_000, topic, state)
    finding = copy.verifier().verify().finding
    assert finding is not None
    assert (finding.what, finding.position) == (verify.EXTRA, MUTATED)


def test_a_cut_tail_is_truncated(copy: Copy, raw: RawEvents) -> None:
    raw.delete_from(MUTATED)
    finding = copy.verifier().verify().finding
    assert finding is not None
    assert (finding.what, finding.position) == (verify.TRUNCATED, MUTATED)


def _held(witness: Path) -> list[tuple[str, str]]:
    return [(str(p), p.read_text()) for p in sorted(witness.iterdir())]


def test_a_rewritten_and_re_signed_log_is_caught_only_against_checkpoints_held_outside(
    copy: Copy, raw: RawEvents, history: TreeHistory
) -> None:
    """The operator edits an event, rebuilds the tree and signs fresh checkpoints
    with the same key: the store is consistent with itself, but not with the
    checkpoints the witness directory kept."""
    raw.change_state(MUTATED, _flip_a_letter)
    copy.db.execute("DELETE FROM audit_log_leaves")
    copy.db.execute("DELETE FROM audit_log_nodes")
    copy.db.execute("DELETE FROM audit_log_checkpoints")
    copy.db.execute(sql("UPDATE audit_log_tree SET size = 0, position = 0, frontier = {}"), (b"",))
    copy.builder().issue_now()
    assert copy.verifier().verify().ok

    finding = copy.verifier().verify(_held(history.witness_dir)).finding
    assert finding is not None
    assert finding.what == verify.REWRITTEN
    assert finding.position is not None
    assert finding.position <= MUTATED < finding.position + 1_000
    assert str(history.witness_dir) in finding.detail


def test_a_checkpoint_signed_by_another_key_is_refused(copy: Copy, tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    write_key(other, copy.settings.audit_log_origin)
    forged = NoteSigner.from_private_key(other.read_text().strip()).sign(
        Checkpoint(copy.settings.audit_log_origin, 10, b"\0" * 32).body()
    )
    finding = copy.verifier().verify([("the forged file", forged)]).finding
    assert finding is not None
    assert finding.what == verify.UNSIGNED
    assert "the forged file" in finding.detail
