"""`cases audit …`: the event log as a transparency log (issue 14, ADR 43).

`keygen` makes the operator's checkpoint signing key, `checkpoint` issues a
checkpoint of the whole log now, `inclusion`, `proofs` and `consistency` print
the proofs the API gives, `verify` checks the log against every kept
checkpoint and any held outside (and, with `--read-models`, every read model
against a replay of the log). Exit codes: 0 everything verifies, 1 the log and
its checkpoints part (the first place is printed) or a read model differs, 2 a
bad setting, store or key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from pydantic import TypeAdapter

from cases.api.schemas.audit_log import CheckpointOut, ConsistencyOut, InclusionOut, b64
from cases.audit_log.keys import (
    KeyFileError,
    key_file,
    verifier_from,
    write_key,
)
from cases.audit_log.proofs import (
    ProofUnavailableError,
    aggregate_inclusions,
    consistency,
    inclusion,
)
from cases.audit_log.tree_store import TreeStore
from cases.audit_log.verify import LogVerifier, default_workers
from cases.audit_log.webhook_outbox import WebhookOutbox
from cases.audit_log.witnessing import WitnessSettingsError, fork_in_witness_dir, webhook_of
from cases.cli.groups import command_group
from cases.cli.projections import projection_store
from cases.cli.services import cli_settings, fail
from cases.db.database import ProjectionDatabase
from cases.followers.catalog import PROJECTIONS, projection_named
from cases.followers.leadership import runner_running
from cases.followers.read_model_check import check_read_model
from cases.followers.rebuild import RebuildInProgressError
from cases.followers.tree_builder import TREE, checkpoint_now
from cases.persistence.event_log import EventLog
from cases.projections.layout import LayoutError
from cases.settings import Settings
from cases.transparency.signed_note import NoteVerifier

audit_app = command_group("The tamper-evident audit log: signing key, checkpoints, verification.")


@audit_app.command("keygen")
def keygen_command(
    name: Annotated[
        str, typer.Option("--name", help="The log's origin, e.g. 'cases.example.com/audit'.")
    ],
    key_path: Annotated[
        Path | None,
        typer.Option("--key-file", help="Where to write the private key (default: the setting)."),
    ] = None,
) -> None:
    """Generate a signing key: write the private key file, print the verifier key."""
    settings = cli_settings()
    path = key_path or key_file(settings)
    try:
        verifier = write_key(path, name)
    except (KeyFileError, ValueError) as e:
        fail(str(e), 2)
    except OSError as e:
        fail(f"cannot write the key {path}: {e.strerror}", 2)
    print(verifier)
    print(f"private key written to {path}; give auditors the verifier key above", flush=True)


@audit_app.command("checkpoint")
def checkpoint_command() -> None:
    """Bring the tree up to the head of the log and print its signed checkpoint."""
    with projection_store() as store:
        try:
            issued = checkpoint_now(store.settings, store.log, store.db)
        except KeyFileError as e:
            fail(str(e), 2)
    print(issued.note, end="")


SizeOption = Annotated[
    int | None,
    typer.Option("--size", min=0, help="The size of a kept checkpoint (default: the latest)."),
]


@audit_app.command("inclusion")
def inclusion_command(
    position: Annotated[int, typer.Argument(min=1, help="The event's position in the log.")],
    size: SizeOption = None,
) -> None:
    """Print the event's leaf and RFC 9162 inclusion proof in a kept checkpoint, as JSON
    (the shape of GET /audit-log/inclusion); exit 1 if none proves it."""
    with projection_store() as store:
        try:
            found = inclusion(store.log, TreeStore(store.db), position, size)
        except ProofUnavailableError as e:
            fail(str(e), 1)
    print(InclusionOut.of(found).model_dump_json(indent=2))


@audit_app.command("proofs")
def proofs_command(
    aggregate_id: Annotated[UUID, typer.Argument(help="A case's or an account's id.")],
    size: SizeOption = None,
) -> None:
    """Print every event of one case or account with its leaf and inclusion proof in a
    kept checkpoint, as a JSON list in log order (GET /audit-log/cases/{id}/proofs)."""
    with projection_store() as store:
        try:
            found = aggregate_inclusions(store.log, TreeStore(store.db), aggregate_id, size)
        except ProofUnavailableError as e:
            fail(str(e), 1)
    print(_INCLUSIONS.dump_json([InclusionOut.of(f) for f in found], indent=2).decode())


@audit_app.command("consistency")
def consistency_command(
    old: Annotated[int, typer.Argument(min=0, help="The older kept checkpoint's size.")],
    new: Annotated[int, typer.Argument(min=0, help="The newer kept checkpoint's size.")],
) -> None:
    """Print the RFC 9162 consistency proof between two kept checkpoints, with both, as
    JSON (GET /audit-log/consistency)."""
    if old > new:
        fail(f"OLD ({old}) is larger than NEW ({new})", 2)
    with projection_store() as store:
        try:
            older, newer, proof = consistency(TreeStore(store.db), old, new)
        except ProofUnavailableError as e:
            fail(str(e), 1)
    answer = ConsistencyOut(
        old=CheckpointOut.of(older), new=CheckpointOut.of(newer), proof=[b64(h) for h in proof]
    )
    print(answer.model_dump_json(indent=2))


_INCLUSIONS = TypeAdapter(list[InclusionOut])


@audit_app.command("status")
def status_command() -> None:
    """How far the tree reaches against the head of the log, and the latest checkpoint."""
    with projection_store() as store:
        head = store.log.head()
        tree = TreeStore(store.db)
        reached, latest = tree.head(), tree.latest()
        running = runner_running(store.db, TREE)
        witness_dir = store.settings.audit_log_witness_dir
        webhook = _webhook_line(store.settings, store.db)
    print(f"tree: {reached.size} events, to position {reached.position} of {head}")
    lag = max(head - reached.position, 0)
    print(f"builder: {'running' if running else 'not running'}, {lag} positions behind the log")
    if webhook is not None:
        print(webhook)
    if latest is None:
        print("latest checkpoint: none yet")
        return
    issued = latest.issued_at.isoformat(timespec="seconds")
    print(f"latest checkpoint: size {latest.size}, issued {issued}")
    fork = None if witness_dir is None else fork_in_witness_dir(witness_dir, latest)
    if fork is not None:
        fail(f"FORK: {fork}", 1)


def _webhook_line(settings: Settings, db: ProjectionDatabase) -> str | None:
    """Where the webhook's deliveries stand (ADR 0055), if one is configured."""
    try:
        webhook = webhook_of(settings)
    except WitnessSettingsError as e:
        fail(str(e), 2)
    if webhook is None:
        return None
    outbox = WebhookOutbox(db, webhook)
    state, pending = outbox.state(), len(outbox.pending())
    line = f"webhook: delivered through size {state.delivered_size}, {pending} pending"
    if state.failures:
        line += f", {state.failures} failed attempts, last: {state.last_error}"
    return line


def _held(paths: list[Path]) -> list[tuple[str, str]]:
    held: list[tuple[str, str]] = []
    for path in paths:
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for file in files:
            try:
                held.append((f"the checkpoint file {file}", file.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as e:
                fail(f"--checkpoint-file: cannot read {file}: {e}", 2)
    return held


def _verifier(settings: Settings, text: str | None) -> NoteVerifier:
    """The verifier key given, else the one of the configured signing key."""
    if text is None:
        try:
            return verifier_from(settings)
        except KeyFileError as e:
            fail(f"{e} (or give --verifier-key)", 2)
    candidate = Path(text)
    try:
        key = candidate.read_text(encoding="utf-8").strip() if candidate.is_file() else text
        return NoteVerifier.from_verifier_key(key)
    except (ValueError, OSError) as e:
        fail(f"--verifier-key: {e}", 2)


@audit_app.command("verify")
def verify_command(
    checkpoint_files: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint-file",
            help="A checkpoint held outside the database (a file, or a directory of them, "
            "such as the witness directory); may be repeated.",
        ),
    ] = None,
    verifier_key: Annotated[
        str | None,
        typer.Option(
            help="The verifier key (text, or a file holding it); default: the one of the "
            "configured signing key."
        ),
    ] = None,
    read_models: Annotated[
        bool, typer.Option("--read-models", help="Also compare every read model with a rebuild.")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows read per query.")] = 10_000,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Processes to read and hash the log in, each over its own ranges of it "
            "(default: CASES_AUDIT_LOG_VERIFY_WORKERS, else one per CPU; 1: this process).",
        ),
    ] = None,
) -> None:
    """Recompute every leaf from the stored rows and check every checkpoint; with
    --read-models, then compare every read model with a replay of the verified log."""
    held = _held(checkpoint_files or [])
    with projection_store() as store:
        verifier = _verifier(store.settings, verifier_key)
        result = LogVerifier(
            store.log,
            TreeStore(store.db),
            verifier,
            store.settings.audit_log_origin,
            batch_size=batch_size,
            workers=workers or store.settings.audit_log_verify_workers or default_workers(),
            settings=store.settings,
        ).verify(held)
        if result.finding is not None:
            print(f"FAILED at {result.finding}")
            raise typer.Exit(1)
        print(
            f"verified {result.events} events against {result.checkpoints} checkpoints "
            f"signed by {verifier.name}"
        )
        if read_models and not _read_models_match(store.log, store.db):
            raise typer.Exit(1)


def _read_models_match(log: EventLog, db: ProjectionDatabase) -> bool:
    """Compare each read model with a replay of the log; print and return the verdict."""
    matches = True
    for name in PROJECTIONS:
        try:
            check = check_read_model(log, projection_named(name), db)
        except RebuildInProgressError as e:
            fail(f"--read-models: {e}", 2)
        except LayoutError as e:  # tracking rows of two layouts: kept by neither
            matches = False
            print(f"FAILED read model {name}: {e}")
            continue
        if check.matches:
            print(f"read model {name}: matches the log at {check.where}")
            continue
        matches = False
        for difference in check.differences:
            print(f"FAILED read model {name} at {check.where}: {difference}")
    return matches
