"""The audit log over HTTP for an auditor (issue 14 part 3): the checkpoint, and
proofs that one case's events are in it, checked with the public verifier key
and an RFC 9162 verifier written from the RFC (tests/unit/transparency/rfc9162.py),
not with the code that made them; on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient

from cases.api.app import create_app
from cases.audit_log.keys import write_key
from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.db.database import open_projection_db
from cases.domain import case_commands as cmd
from cases.domain.metadata import Actor, Role
from cases.followers.tree_builder import checkpoint_now
from cases.settings import Settings
from cases.transparency.checkpoint import open_checkpoint
from cases.transparency.signed_note import NoteVerifier
from tests.support.builders import caller, intake, terms
from tests.unit.transparency import rfc9162

ADMIN = Actor("admin", Role.SYSTEM)
ORIGIN = "cases.example.com/audit"


@dataclass
class Auditor:
    client: TestClient
    settings: Settings
    services: Services
    verifier_key: str
    tokens: dict[Role, str]
    case_id: UUID

    def get(self, path: str, role: Role = Role.AUDITOR, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        response: httpx.Response = self.client.get(path, headers=headers, params=params)
        return response

    def checkpoint_now(self) -> int:
        db = open_projection_db(self.settings)
        try:
            return checkpoint_now(self.settings, self.services.log, db).size
        finally:
            db.close()

    def case_positions(self) -> list[int]:
        notifications = self.services.log.recorder.select_notifications(start=1, limit=10_000)
        return [n.id for n in notifications if UUID(str(n.originator_id)) == self.case_id]


@pytest.fixture
def auditor(database_url: str, tmp_path: Path, api_clock: ManualClock) -> Iterator[Auditor]:
    key = tmp_path / "audit-log.key"
    verifier_key = write_key(key, ORIGIN)
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        log_level="WARNING",
        audit_log_origin=ORIGIN,
        audit_log_key_file=key,
    )
    with TestClient(create_app(settings, api_clock, run_projections=True)) as client:
        services: Services = client.app.state.api.services  # type: ignore[attr-defined]
        tokens = {
            role: services.principals.create(caller(ADMIN), name=role.value, role=role).token
            for role in (Role.AUDITOR, Role.SALES_AGENT)
        }
        desk, who = services.desk, caller()
        desk.publish_terms(who, terms(), effective_from=api_clock.now())
        api_clock.advance(timedelta(minutes=10))
        case_id = desk.receive_case(
            who, cmd.TakeIn(received_at=api_clock.now(), **intake())
        ).aggregate_id
        desk.handle(who, case_id, cmd.CheckServiceHealth(None))
        yield Auditor(client, settings, services, verifier_key, tokens, case_id)


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def test_a_cases_events_are_proved_in_the_signed_checkpoint(auditor: Auditor) -> None:
    size = auditor.checkpoint_now()
    answer = auditor.get("/audit-log/checkpoint")
    assert answer.status_code == 200, answer.text
    verifier = NoteVerifier.from_verifier_key(auditor.verifier_key)
    checkpoint = open_checkpoint(answer.json()["note"], verifier, ORIGIN)
    assert checkpoint.size == size == answer.json()["size"]

    positions = auditor.case_positions()
    assert len(positions) >= 3  # received, clocks started, health checked
    for position in positions:
        proved = auditor.get("/audit-log/inclusion", position=position, size=size)
        assert proved.status_code == 200, proved.text
        body = proved.json()
        leaf = _b64(body["leaf"])
        assert int.from_bytes(leaf[1:9], "big") == position
        assert UUID(bytes=leaf[9:25]) == auditor.case_id
        audit_path = [_b64(h) for h in body["proof"]]
        assert rfc9162.verify_path(
            body["leaf_index"], size, rfc9162.leaf(leaf), audit_path, checkpoint.root_hash
        )


def test_one_cases_history_is_proved_without_the_rest_of_the_log(auditor: Auditor) -> None:
    size = auditor.checkpoint_now()
    verifier = NoteVerifier.from_verifier_key(auditor.verifier_key)
    answer = auditor.get(f"/audit-log/cases/{auditor.case_id}/proofs", size=size)
    assert answer.status_code == 200, answer.text
    proofs = answer.json()
    assert [p["position"] for p in proofs] == auditor.case_positions()
    for proved in proofs:
        checkpoint = open_checkpoint(proved["checkpoint"]["note"], verifier, ORIGIN)
        leaf = _b64(proved["leaf"])
        assert UUID(bytes=leaf[9:25]) == auditor.case_id
        audit_path = [_b64(h) for h in proved["proof"]]
        assert rfc9162.verify_path(
            proved["leaf_index"],
            checkpoint.size,
            rfc9162.leaf(leaf),
            audit_path,
            checkpoint.root_hash,
        )
    unknown = auditor.get(f"/audit-log/accounts/{auditor.case_id.hex[::-1]}/proofs")
    assert unknown.status_code == 404


def test_a_later_checkpoint_is_proved_to_extend_an_earlier_one(auditor: Auditor) -> None:
    old = auditor.checkpoint_now()
    auditor.services.desk.handle(caller(), auditor.case_id, cmd.AddNote("Customer called back"))
    new = auditor.checkpoint_now()
    assert new > old
    verifier = NoteVerifier.from_verifier_key(auditor.verifier_key)
    answer = auditor.get("/audit-log/consistency", old=old, new=new)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    older = open_checkpoint(body["old"]["note"], verifier, ORIGIN)
    newer = open_checkpoint(body["new"]["note"], verifier, ORIGIN)
    proof = [_b64(h) for h in body["proof"]]
    assert rfc9162.verify_proof(old, new, older.root_hash, newer.root_hash, proof)
    assert not rfc9162.verify_proof(old, new, newer.root_hash, older.root_hash, proof)


def test_refusals(auditor: Auditor) -> None:
    size = auditor.checkpoint_now()
    assert auditor.get("/audit-log/checkpoint", Role.SALES_AGENT).status_code == 403
    missing = auditor.get(f"/audit-log/checkpoints/{size + 1}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert f"no checkpoint is kept at size {size + 1}" in missing.json()["detail"]
    assert auditor.get(f"/audit-log/checkpoints/{size}").json()["size"] == size
    beyond = auditor.get("/audit-log/inclusion", position=10_000, size=size)
    assert beyond.status_code == 404
    backwards = auditor.get("/audit-log/consistency", old=size, new=1)
    assert backwards.status_code == 422
    assert "larger than new" in backwards.json()["detail"]


BEYOND = 2**63  # one past the largest position, tree size or version a store can hold


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/audit-log/inclusion", {"position": BEYOND}),
        ("/audit-log/inclusion", {"position": 1, "size": BEYOND}),
        ("/audit-log/consistency", {"old": 0, "new": BEYOND}),
        (f"/audit-log/checkpoints/{BEYOND}", {}),
        ("/cases/{case_id}/history", {"proofs": "true", "checkpoint": BEYOND}),
        ("/cases/{case_id}/replay", {"version": BEYOND}),
        ("/cases/{case_id}/state", {"version": BEYOND}),
    ],
)
def test_a_number_past_what_a_store_holds_is_refused_as_a_bad_request(
    auditor: Auditor, path: str, params: dict[str, Any]
) -> None:
    """A position, tree size or version past a signed 64-bit integer is refused
    with a problem (422), not sent to the store: SQLite's driver cannot bind it
    (`OverflowError`), which answered 500 (found by the OpenAPI conformance test)."""
    auditor.checkpoint_now()
    answer = auditor.get(path.format(case_id=auditor.case_id), **params)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert str(2**63 - 1) in answer.text


def _verified(proved: dict[str, Any], verifier: NoteVerifier, case_id: UUID) -> int:
    """Check one `inclusion` with the verifier key and the RFC's algorithm alone;
    return the version the leaf records."""
    checkpoint = open_checkpoint(proved["checkpoint"]["note"], verifier, ORIGIN)
    leaf = _b64(proved["leaf"])
    assert UUID(bytes=leaf[9:25]) == case_id
    audit_path = [_b64(h) for h in proved["proof"]]
    assert rfc9162.verify_path(
        proved["leaf_index"], checkpoint.size, rfc9162.leaf(leaf), audit_path, checkpoint.root_hash
    )
    return int.from_bytes(leaf[25:33], "big")


@pytest.mark.parametrize("route", ["history", "replay"])
def test_the_case_history_and_replay_carry_each_events_proof_when_asked(
    auditor: Auditor, route: str
) -> None:
    """`proofs=true` adds each event's leaf and inclusion proof in the checkpoint named
    (default: the latest); an event recorded after it has none; without it, none."""
    size = auditor.checkpoint_now()
    auditor.services.desk.handle(
        caller(), auditor.case_id, cmd.AddNote("recorded after the checkpoint")
    )
    verifier = NoteVerifier.from_verifier_key(auditor.verifier_key)
    path = f"/cases/{auditor.case_id}/{route}"

    answer = auditor.get(path, proofs="true")
    assert answer.status_code == 200, answer.text
    entries = answer.json()
    proved = [e for e in entries if e["inclusion"] is not None]
    assert len(proved) == len(auditor.case_positions()) - 1
    assert entries[-1]["inclusion"] is None  # the note came after the checkpoint
    for entry in proved:
        assert _verified(entry["inclusion"], verifier, auditor.case_id) == entry["version"]
        assert entry["inclusion"]["checkpoint"]["size"] == size

    named = auditor.get(path, proofs="true", checkpoint=size).json()
    assert [e["inclusion"] for e in named] == [e["inclusion"] for e in entries]
    assert all(e["inclusion"] is None for e in auditor.get(path).json())
    unknown = auditor.get(path, proofs="true", checkpoint=size + 1000)
    assert unknown.status_code == 404
    assert "no checkpoint is kept at size" in unknown.json()["detail"]
    alone = auditor.get(path, checkpoint=size)
    assert alone.status_code == 422
    assert "only with proofs=true" in alone.json()["detail"]
