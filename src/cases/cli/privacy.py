"""`cases privacy`: erase a data subject's personal data (ADR 0044)."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer

from cases.api.schemas.privacy import SubjectExportOut
from cases.application.caller import Caller
from cases.application.legacy_reseal import reseal_legacy
from cases.application.subject_reindex import reindex_subjects
from cases.cli.groups import command_group
from cases.cli.progress import run_progress
from cases.cli.serve import BOOTSTRAP
from cases.cli.services import cli_settings, open_services
from cases.db.database import open_projection_db
from cases.db.statement import sql
from cases.domain.erasure import DEFAULT_LEGAL_BASIS
from cases.domain.metadata import Actor, Role, Source
from cases.persistence.database_url import StoreKind, parse_database_url
from cases.persistence.event_log import EventLog
from cases.persistence.legacy_plaintext import legacy_subjects
from cases.persistence.subject_keys import MasterKey, MasterKeyError

privacy_app = command_group("Personal data: find, export and erase a data subject's (ADR 0044).")


@privacy_app.command("erase")
def erase(
    subject: Annotated[
        UUID, typer.Argument(help="The subject's id (a case id or a principal id).")
    ],
    reason: Annotated[
        str, typer.Option(help="Why, naming the request, never the person (it is kept).")
    ],
    legal_basis: Annotated[str, typer.Option(help="The legal basis.")] = DEFAULT_LEGAL_BASIS,
) -> None:
    """Throw the subject's key away: its personal data reads 'erased' from now on.
    Erasing again does nothing; an unknown subject exits with 1."""
    with open_services() as services:
        erased = services.privacy.erase(
            Caller.new(BOOTSTRAP, Source.CLI), subject, reason, legal_basis
        )
    if erased.already:
        print(f"subject {subject} ({erased.kind.value}) was already erased")
    else:
        print(f"erased subject {subject} ({erased.kind.value}); erasure {erased.erasure_id}")
    if erased.plain_events:
        print(
            f"{erased.plain_events} of its events were recorded before sealing and keep "
            "their personal data in plain text (ADR 0066; `cases privacy legacy`)"
        )


@privacy_app.command("subjects")
def subjects(
    email: Annotated[
        str | None, typer.Option(help="An e-mail address it was recorded with.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name it was recorded with.")] = None,
) -> None:
    """List the subjects (not erased) recorded with this e-mail address or name."""
    if email is None and name is None:
        print("error: give --email or --name", file=sys.stderr)
        raise typer.Exit(2)
    with open_services() as services:
        found = services.privacy.find(email=email, name=name)
    for subject in found:
        print(f"{subject.subject_id} {subject.kind.value}")
    if not found:
        print("no subject found", file=sys.stderr)


@privacy_app.command("export")
def export(
    subject: Annotated[
        UUID, typer.Argument(help="The subject's id (a case id or a principal id).")
    ],
) -> None:
    """Print everything recorded about the subject as JSON, its personal data opened."""
    with open_services() as services:
        answer = SubjectExportOut.of(services.privacy.export(subject))
    print(answer.model_dump_json(indent=2))


@privacy_app.command("rotate-master-key")
def rotate_master_key(
    new_key_file: Annotated[
        Path, typer.Option(help="A file holding the new master key (base64 of 32 bytes).")
    ],
) -> None:
    """Wrap every subject key with a new master key, then rebuild the search digests
    under it (no event changes). Set CASES_MASTER_KEY(_FILE) to the new key and
    restart every process at once: until then they search and seal with the old.
    Then run this again, still with the old key set: it re-wraps only the keys those
    processes made meanwhile (keys already under the new one are skipped)."""
    try:
        new = MasterKey.from_text(new_key_file.read_text())
    except (OSError, MasterKeyError) as e:
        print(f"error: --new-key-file: {e}", file=sys.stderr)
        raise typer.Exit(2) from None
    with open_services() as services:
        keys = services.log.subject_keys
        if keys is None:
            print("error: no master key is set (CASES_MASTER_KEY)", file=sys.stderr)
            raise typer.Exit(2)
        count = keys.rewrap(new)
        print(f"re-wrapped {count} subject keys under master key {new.key_id}")
        _reindex(services.log)


@privacy_app.command("reindex")
def reindex() -> None:
    """Write the subjects' search digests again from the events, under the master key
    set (after an interrupted rotation, say); stale digests are deleted. Safe to re-run."""
    with open_services() as services:
        if services.log.subject_keys is None:
            print("error: no master key is set (CASES_MASTER_KEY)", file=sys.stderr)
            raise typer.Exit(2)
        _reindex(services.log)


def _reindex(log: EventLog) -> None:
    head = log.head()
    with run_progress("Indexing subjects", head, shown_from=10_000) as advance:
        done = reindex_subjects(log, progress=advance)
    print(
        f"indexed {done.subjects} subjects ({done.digests} digests); "
        f"deleted {done.stale} stale digests"
    )


@privacy_app.command("legacy")
def legacy() -> None:
    """List the subjects whose personal data was recorded before sealing (plain text
    in the log, which erasure cannot remove; ADR 0056): id, kind, events, first
    position, fields. Exits 0 whether or not any are found."""
    with open_services() as services:
        found = legacy_subjects(services.log)
    for subject in found:
        fields = ",".join(sorted(subject.fields))
        print(
            f"{subject.subject_id} {subject.kind.value} events={subject.events} "
            f"first_position={subject.first_position} fields={fields}"
        )
    print(f"{len(found)} subjects hold personal data recorded before sealing", file=sys.stderr)


@privacy_app.command("reseal")
def reseal() -> None:
    """Re-seal, store-wide, what personal data recorded before sealing left outside
    the log: every snapshot holding it in plain text is deleted (the next one taken
    is sealed). The events keep it: their bytes are the audit log's leaves (ADR
    0066); the subjects concerned are listed, as `legacy` does. Safe to re-run."""
    settings = cli_settings()
    with open_services() as services:
        if services.log.subject_keys is None:
            print("error: no master key is set (CASES_MASTER_KEY)", file=sys.stderr)
            raise typer.Exit(2)
        memory = parse_database_url(settings.effective_database_url).kind is StoreKind.MEMORY
        db = None if memory else open_projection_db(settings)
        head = services.log.head()
        try:
            with run_progress("Scanning the log", head, shown_from=10_000) as scanned:
                done = reseal_legacy(services.log, db, scanned=scanned)
        finally:
            if db is not None:
                db.close()
    for subject in done.unerasable:
        print(
            f"{subject.subject_id} {subject.kind.value} plain_events={subject.events} "
            f"first_position={subject.first_position}"
        )
    print(
        f"deleted {done.snapshots_deleted} snapshots holding plain text; "
        f"{len(done.unerasable)} subjects keep {done.plain_events} events recorded before "
        "sealing (the audit log forbids rewriting them, ADR 0066)"
    )


RETENTION_ACTOR = Actor("retention-run", Role.SYSTEM)


@privacy_app.command("retention")
def retention(
    years: Annotated[
        int | None,
        typer.Option(
            help="Cases closed more than this many years ago (default: CASES_RETENTION_YEARS)."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Only count the cases.")] = False,
) -> None:
    """Erase the personal data of support cases closed more than N years ago, as the
    read model `case_queue` lists them (run `cases projections run` first). Safe to
    re-run: an erased case is not erased again."""
    settings = cli_settings()
    span = years or settings.retention_years
    with open_services() as services:
        cutoff = services.clock.now() - timedelta(days=365 * span + span // 4)
        db = open_projection_db(settings)
        try:
            rows = db.fetchall(
                sql(
                    "SELECT case_id FROM case_queue WHERE closed_at IS NOT NULL "
                    "AND closed_at < {} ORDER BY closed_at"
                ),
                [cutoff],
            )
        finally:
            db.close()
        case_ids = [UUID(str(r[0])) for r in rows]
        if dry_run:
            print(f"{len(case_ids)} cases closed before {cutoff.date()}")
            return
        with run_progress("Erasing closed cases", len(case_ids), shown_from=50) as advance:
            erased = services.privacy.apply_retention(
                Caller.new(RETENTION_ACTOR, Source.SCHEDULER),
                case_ids,
                f"retention: closed more than {span} years ago",
                "retention period ended (storage limitation, GDPR article 5(1)(e))",
                advance,
            )
    print(f"erased {erased} of {len(case_ids)} cases closed before {cutoff.date()}")
