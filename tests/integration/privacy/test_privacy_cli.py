"""`cases privacy erase` on a SQLite file with a master key (ADR 0044)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from typer.testing import CliRunner

from cases.cli.main import app
from cases.persistence.subject_keys import MasterKey
from cases.settings import get_settings


@pytest.fixture
def sealed_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("CASES_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CASES_DATABASE_URL", raising=False)
    key_file = tmp_path / "master.key"
    key_file.write_text(MasterKey.generate().as_text())
    monkeypatch.setenv("CASES_MASTER_KEY_FILE", str(key_file))
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    yield runner
    get_settings.cache_clear()


def test_erase_a_principal_then_again_then_an_unknown_subject(sealed_cli: CliRunner) -> None:
    created = sealed_cli.invoke(
        app, ["principals", "create", "--name", "Anna Svensson", "--role", "auditor"]
    )
    assert created.exit_code == 0, created.output
    principal_id = re.search(r"principal ([0-9a-f-]{36})", created.output).group(1)  # type: ignore[union-attr]

    erase = ["privacy", "erase", principal_id, "--reason", "Article 17 request 114"]
    first = sealed_cli.invoke(app, erase)
    assert first.exit_code == 0, first.output
    assert f"erased subject {principal_id} (principal)" in first.output

    again = sealed_cli.invoke(app, erase)
    assert again.exit_code == 0, again.output
    assert "was already erased" in again.output

    listed = sealed_cli.invoke(app, ["principals", "list"])
    assert "Anna Svensson" not in listed.output
    assert "erased" in listed.output

    unknown = uuid4()
    refused = sealed_cli.invoke(app, ["privacy", "erase", str(unknown), "--reason", "x"])
    assert refused.exit_code == 1
    assert f"refused (unknown-subject): no personal data is held for subject {unknown}" in (
        refused.output
    )


def test_find_a_subject_by_name_and_export_it(sealed_cli: CliRunner) -> None:
    created = sealed_cli.invoke(
        app, ["principals", "create", "--name", "Anna Svensson", "--role", "auditor"]
    )
    principal_id = re.search(r"principal ([0-9a-f-]{36})", created.output).group(1)  # type: ignore[union-attr]

    found = sealed_cli.invoke(app, ["privacy", "subjects", "--name", "anna svensson"])
    assert found.exit_code == 0, found.output
    assert found.output.strip() == f"{principal_id} principal"

    exported = sealed_cli.invoke(app, ["privacy", "export", principal_id])
    assert exported.exit_code == 0, exported.output
    answer = json.loads(exported.output)
    assert (answer["kind"], answer["erased"]) == ("principal", False)
    assert answer["events"][0]["details"]["name"] == "Anna Svensson"

    nothing = sealed_cli.invoke(app, ["privacy", "subjects"])
    assert nothing.exit_code == 2
    assert "give --email or --name" in nothing.output


def test_rotate_the_master_key(
    sealed_cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sealed_cli.invoke(app, ["principals", "create", "--name", "Bo Ek", "--role", "auditor"])
    new_key = tmp_path / "new.key"
    new_key.write_text(MasterKey.generate().as_text())
    rotated = sealed_cli.invoke(
        app, ["privacy", "rotate-master-key", "--new-key-file", str(new_key)]
    )
    assert rotated.exit_code == 0, rotated.output
    assert "re-wrapped 1 subject keys" in rotated.output
    assert "indexed 1 subjects (1 digests); deleted 1 stale digests" in rotated.output
    monkeypatch.setenv("CASES_MASTER_KEY_FILE", str(new_key))
    get_settings.cache_clear()
    found = sealed_cli.invoke(app, ["privacy", "subjects", "--name", "bo  EK"])
    assert found.exit_code == 0, found.output
    assert found.output.endswith(" principal\n")
    again = sealed_cli.invoke(app, ["privacy", "reindex"])
    assert again.exit_code == 0, again.output
    assert "deleted 0 stale digests" in again.output
    bad = tmp_path / "bad.key"
    bad.write_text("YWJj")
    refused = sealed_cli.invoke(app, ["privacy", "rotate-master-key", "--new-key-file", str(bad)])
    assert refused.exit_code == 2
    assert "must be 32 bytes" in refused.output


def test_retention_counts_then_erases_nothing_on_an_empty_store(sealed_cli: CliRunner) -> None:
    counted = sealed_cli.invoke(app, ["privacy", "retention", "--years", "3", "--dry-run"])
    assert counted.exit_code == 0, counted.output
    assert counted.output.startswith("0 cases closed before ")
    run = sealed_cli.invoke(app, ["privacy", "retention"])
    assert run.exit_code == 0, run.output
    assert run.output.startswith("erased 0 of 0 cases closed before ")


def _principal_before_sealing(
    sealed_cli: CliRunner, monkeypatch: pytest.MonkeyPatch, *, before_key: list[str]
) -> tuple[str, str]:
    """A principal created with no master key set; the output of `before_key` run
    then; the key set again afterwards."""
    key_file = get_settings().master_key_file
    monkeypatch.delenv("CASES_MASTER_KEY_FILE")
    get_settings.cache_clear()
    created = sealed_cli.invoke(
        app, ["principals", "create", "--name", "Bo Ek", "--role", "auditor"]
    )
    assert created.exit_code == 0, created.output
    principal_id = re.search(r"principal ([0-9a-f-]{36})", created.output).group(1)  # type: ignore[union-attr]
    output = sealed_cli.invoke(app, before_key).output if before_key else ""
    monkeypatch.setenv("CASES_MASTER_KEY_FILE", str(key_file))
    get_settings.cache_clear()
    return principal_id, output


def test_legacy_lists_subjects_recorded_before_sealing(
    sealed_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    principal_id, _ = _principal_before_sealing(sealed_cli, monkeypatch, before_key=[])
    sealed_cli.invoke(app, ["principals", "create", "--name", "Eva Ek", "--role", "auditor"])
    listed = sealed_cli.invoke(app, ["privacy", "legacy"])
    assert listed.exit_code == 0, listed.output
    assert f"{principal_id} principal events=1 " in listed.output
    assert "fields=name" in listed.output
    assert "1 subjects hold personal data recorded before sealing" in listed.output
    refused = sealed_cli.invoke(app, ["privacy", "erase", principal_id, "--reason", "x"])
    assert refused.exit_code == 1
    assert "refused (recorded-before-sealing)" in refused.output


def test_reseal_lists_subjects_recorded_before_sealing_and_is_safe_to_rerun(
    sealed_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    principal_id, refused = _principal_before_sealing(
        sealed_cli, monkeypatch, before_key=["privacy", "reseal"]
    )
    assert "no master key is set" in refused  # nothing to seal with
    for _ in range(2):
        resealed = sealed_cli.invoke(app, ["privacy", "reseal"])
        assert resealed.exit_code == 0, resealed.output
        assert f"{principal_id} principal plain_events=1 " in resealed.output
        assert "deleted 0 snapshots holding plain text; 1 subjects keep 1 events" in (
            resealed.output
        )
