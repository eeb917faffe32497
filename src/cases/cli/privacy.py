"""`cases privacy`: erase a data subject's personal data (ADR 0044)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer

from cases.api.schemas.privacy import SubjectExportOut
from cases.application.caller import Caller
from cases.cli.serve import BOOTSTRAP
from cases.cli.services import open_services
from cases.domain.erasure import DEFAULT_LEGAL_BASIS
from cases.domain.metadata import Source
from cases.persistence.subject_keys import MasterKey, MasterKeyError

privacy_app = typer.Typer(
    help="Personal data: find, export and erase a data subject's (ADR 0044).", no_args_is_help=True
)


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
    """Wrap every subject key with a new master key; no event changes. Set
    CASES_MASTER_KEY(_FILE) to the new key before the next start."""
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
