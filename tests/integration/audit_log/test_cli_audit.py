"""`cases audit keygen | checkpoint | verify` on real stores (issue 14)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from typer.testing import CliRunner, Result

from cases.audit_log.tree_store import TreeStore
from cases.cli.main import app
from cases.db.statement import sql
from cases.followers.catalog import PROJECTIONS, projection_named
from cases.followers.rebuild import rebuild
from cases.followers.runner import ProjectionRunner
from cases.followers.tracking import Tracking
from cases.reports.service_levels import ServiceLevelsProjection
from cases.settings import get_settings
from cases.transparency.checkpoint import open_checkpoint
from cases.transparency.signed_note import NoteVerifier
from cases.transparency.witness import CheckpointDirectory
from tests.integration.audit_log.conftest import Copy, TreeHistory
from tests.integration.audit_log.test_webhook_outbox import free_port
from tests.support.raw_events import RawEvents
from tests.unit.transparency import rfc9162


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def cli_store(
    monkeypatch: pytest.MonkeyPatch, copy: Copy, history: TreeHistory, tmp_path: Path
) -> Iterator[Copy]:
    monkeypatch.delenv("CASES_LOG_LEVEL", raising=False)
    monkeypatch.setenv("CASES_DATABASE_URL", copy.settings.effective_database_url)
    monkeypatch.setenv("CASES_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CASES_AUDIT_LOG_KEY_FILE", str(history.key_file))
    get_settings.cache_clear()
    yield copy
    get_settings.cache_clear()


def test_keygen_writes_the_private_key_and_prints_the_verifier_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CASES_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    result = invoke("audit", "keygen", "--name", "cases.example.com/audit")
    assert result.exit_code == 0, result.output
    verifier = NoteVerifier.from_verifier_key(result.output.splitlines()[0])
    assert verifier.name == "cases.example.com/audit"
    private = tmp_path / "audit-log.key"
    assert private.read_text().startswith("PRIVATE+KEY+cases.example.com/audit+")
    assert private.stat().st_mode & 0o077 == 0

    again = invoke("audit", "keygen", "--name", "cases.example.com/audit")
    assert again.exit_code == 2
    assert "never overwritten" in again.output
    get_settings.cache_clear()


def test_checkpoint_brings_the_tree_to_the_head_and_prints_its_note(
    cli_store: Copy, history: TreeHistory
) -> None:
    raw = RawEvents(cli_store.settings.effective_database_url)
    try:
        _, _, topic, state = raw.row(1)
    finally:
        raw.close()
    cli_store.log.recorder.insert_events([StoredEvent(uuid4(), 1, topic, state)])
    result = invoke("audit", "checkpoint")
    assert result.exit_code == 0, result.output
    verifier = cli_store.verifier().verifier
    checkpoint = open_checkpoint(result.output, verifier, cli_store.settings.audit_log_origin)
    assert checkpoint.size == history.events + 1
    assert TreeStore(cli_store.db).latest() == TreeStore(cli_store.db).checkpoint_at(
        history.events + 1
    )


def test_verify_exits_0_when_everything_verifies(cli_store: Copy, history: TreeHistory) -> None:
    result = invoke("audit", "verify", "--checkpoint-file", str(history.witness_dir))
    assert result.exit_code == 0, result.output
    assert f"verified {history.events} events" in result.output


@pytest.mark.parametrize(
    "workers", [[], ["--workers", "1"], ["--workers", "3", "--batch-size", "2000"]]
)
def test_verify_exits_1_and_names_the_first_position_that_parts(
    cli_store: Copy, workers: list[str]
) -> None:
    raw = RawEvents(cli_store.settings.effective_database_url)
    try:
        raw.delete(1234)
    finally:
        raw.close()
    result = invoke("audit", "verify", *workers)
    assert result.exit_code == 1
    assert result.output.startswith("FAILED at position 1234: missing:")


def test_verify_read_models_matches_a_replay_then_finds_a_tampered_row(
    cli_store: Copy, history: TreeHistory
) -> None:
    """Every read model equals a replay of the verified log at its position (exit 0);
    one changed row of one table is found, by table and read-model id (exit 1)."""
    for name in PROJECTIONS:
        ProjectionRunner(cli_store.log, projection_named(name), cli_store.db).catch_up()
    result = invoke("audit", "verify", "--read-models")
    assert result.exit_code == 0, result.output
    for name in PROJECTIONS:
        assert f"read model {name}: matches the log at position " in result.output

    row = cli_store.db.fetchone(sql("SELECT case_id FROM case_queue ORDER BY case_id LIMIT 1"))
    assert row is not None
    with cli_store.db.transaction():
        cli_store.db.execute(
            sql("UPDATE case_queue SET severity = {} WHERE case_id = {}"), ("critical!", row[0])
        )
    tampered = invoke("audit", "verify", "--read-models")
    assert tampered.exit_code == 1, tampered.output
    assert "FAILED read model case_queue at position " in tampered.output
    assert f"case_queue: 1 rows missing, 1 extra (an extra row begins {row[0]!r})" in (
        tampered.output
    )
    assert "read model receivables: matches" in tampered.output
    assert [t for t in Tracking(cli_store.db).all() if t.projection.endswith("__rebuild")] == []


@pytest.mark.parametrize(
    "history", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_verify_read_models_replays_each_partition_of_the_service_levels(
    cli_store: Copy,
) -> None:
    """Where two partitions keep the service levels (ADR 90), each is replayed to
    its own position and compared; a changed row of one is found."""
    log, db = cli_store.log, cli_store.db
    head = rebuild(log, ServiceLevelsProjection(), db, batch_size=2_000, partitions=2).position
    result = invoke("audit", "verify", "--read-models")
    assert result.exit_code == 0, result.output
    assert (
        f"read model service_levels: matches the log at its 2 partitions' positions "
        f"{head}, {head}" in result.output
    )
    row = db.fetchone(sql("SELECT case_id FROM service_level_cases ORDER BY case_id LIMIT 1"))
    assert row is not None
    with db.transaction():
        db.execute(sql("DELETE FROM service_level_cases WHERE case_id = {}"), (row[0],))
    tampered = invoke("audit", "verify", "--read-models")
    assert tampered.exit_code == 1, tampered.output
    assert (
        f"FAILED read model service_levels at its 2 partitions' positions {head}, {head}: "
        f"service_level_cases: 1 rows missing, 0 extra (a missing row begins {row[0]!r})"
    ) in tampered.output
    assert [t for t in Tracking(db).all() if "__rebuild" in t.projection] == []


def test_verify_refuses_a_malformed_verifier_key(cli_store: Copy) -> None:
    result = invoke("audit", "verify", "--verifier-key", "not-a-key")
    assert result.exit_code == 2
    assert "--verifier-key" in result.output


def test_status_says_how_far_the_tree_reaches(cli_store: Copy, history: TreeHistory) -> None:
    result = invoke("audit", "status")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    events = history.events
    assert lines[0] == f"tree: {events} events, to position {events} of {events}"
    assert lines[1] == "builder: not running, 0 positions behind the log"
    assert lines[2].startswith(f"latest checkpoint: size {history.events}, issued ")


def test_status_fails_loudly_on_a_fork_in_the_witness_directory(
    cli_store: Copy, history: TreeHistory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The witness directory holds another checkpoint of the latest size (what stops
    the builder): status says FORK and exits 1; the same checkpoint there is fine."""
    witnesses = tmp_path / "witnesses"
    monkeypatch.setenv("CASES_AUDIT_LOG_WITNESS_DIR", str(witnesses))
    get_settings.cache_clear()
    latest = TreeStore(cli_store.db).latest()
    assert latest is not None
    CheckpointDirectory(witnesses).keep(latest.note)
    assert invoke("audit", "status").exit_code == 0
    forged = tmp_path / "forged"
    origin = cli_store.settings.audit_log_origin
    root = base64.b64encode(b"\xee" * 32).decode()
    CheckpointDirectory(forged).keep(f"{origin}\n{latest.size}\n{root}\n\n\u2014 {origin} AAAA\n")
    monkeypatch.setenv("CASES_AUDIT_LOG_WITNESS_DIR", str(forged))
    get_settings.cache_clear()
    result = invoke("audit", "status")
    assert result.exit_code == 1
    assert f"FORK: the witness directory {forged} holds a different checkpoint of size " in (
        result.stderr
    )


def test_the_cli_prints_proofs_an_auditor_checks_with_the_key_and_the_rfc_alone(
    cli_store: Copy,
) -> None:
    """`inclusion`, `proofs` and `consistency` print what the API gives; checked here
    with the verifier key and the RFC's algorithms written in the tests."""
    verifier = cli_store.verifier().verifier
    origin = cli_store.settings.audit_log_origin
    kept = TreeStore(cli_store.db).checkpoints()
    old, new = kept[1].size, kept[-1].size

    shown = invoke("audit", "inclusion", "1234", "--size", str(old))
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.output)
    checkpoint = open_checkpoint(body["checkpoint"]["note"], verifier, origin)
    leaf = base64.b64decode(body["leaf"])
    path = [base64.b64decode(h) for h in body["proof"]]
    assert rfc9162.verify_path(
        body["leaf_index"], checkpoint.size, rfc9162.leaf(leaf), path, checkpoint.root_hash
    )

    aggregate = UUID(bytes=leaf[9:25])
    listed = invoke("audit", "proofs", str(aggregate))
    assert listed.exit_code == 0, listed.output
    proofs = json.loads(listed.output)
    assert 1234 in [p["position"] for p in proofs]
    for proved in proofs:
        leaf = base64.b64decode(proved["leaf"])
        assert UUID(bytes=leaf[9:25]) == aggregate
        assert proved["checkpoint"]["size"] == new

    consistent = invoke("audit", "consistency", str(old), str(new))
    assert consistent.exit_code == 0, consistent.output
    answer = json.loads(consistent.output)
    older = open_checkpoint(answer["old"]["note"], verifier, origin)
    newer = open_checkpoint(answer["new"]["note"], verifier, origin)
    proof = [base64.b64decode(h) for h in answer["proof"]]
    assert rfc9162.verify_proof(old, new, older.root_hash, newer.root_hash, proof)

    missing = invoke("audit", "inclusion", "1", "--size", str(new + 1))
    assert missing.exit_code == 1
    assert f"no checkpoint is kept at size {new + 1}" in missing.output
    backwards = invoke("audit", "consistency", str(new), str(old))
    assert backwards.exit_code == 2


def test_status_says_where_the_webhooks_deliveries_stand(
    cli_store: Copy, history: TreeHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`checkpoint` tries the webhook once; a receiver that is down leaves every kept
    checkpoint pending, and `status` says so, with the failure (ADR 0055)."""
    monkeypatch.setenv("CASES_AUDIT_LOG_WEBHOOK_URL", f"http://127.0.0.1:{free_port()}/cp")
    monkeypatch.setenv("CASES_AUDIT_LOG_WEBHOOK_SECRET", "an auditor's secret")
    get_settings.cache_clear()
    assert invoke("audit", "checkpoint").exit_code == 0
    result = invoke("audit", "status")
    assert result.exit_code == 0, result.output
    pending = len(TreeStore(cli_store.db).checkpoints())
    webhook = result.output.splitlines()[2]
    assert webhook.startswith(
        f"webhook: delivered through size 0, {pending} pending, 1 failed attempts, last: "
    )
    assert "ConnectError" in webhook
