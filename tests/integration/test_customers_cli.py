"""`cases customers` on a real SQLite file: add, add-contact, list, show."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cases.cli.main import app
from cases.persistence.subject_keys import MasterKey
from cases.settings import get_settings

TENANT = "5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f"


def test_customers_are_added_listed_and_shown(cli_env: Path) -> None:
    runner = CliRunner()
    add = ["customers", "add", "contoso", "--name", "Contoso AB", "--tenant-id", TENANT]
    added = runner.invoke(app, [*add, "--domain", "contoso.example"])
    assert added.exit_code == 0, added.output
    indirect = [
        *["customers", "add", "fabrikam", "--name", "Fabrikam AB", "--tenant-id", TENANT],
        *["--domain", "fabrikam.example", "--indirect-provider", "Nordic Distribution AB"],
    ]
    assert runner.invoke(app, indirect).exit_code == 0
    contact = runner.invoke(
        app,
        [
            *["customers", "add-contact", "contoso", "--role", "billing"],
            *["--name", "Eva Ekonomi", "--email", "ekonomi@contoso.example", "--language", "sv"],
        ],
    )
    assert contact.exit_code == 0, contact.output

    listed = runner.invoke(app, ["customers", "list"])
    assert listed.exit_code == 0, listed.output
    assert [line.split(":")[0] for line in listed.output.splitlines()] == ["contoso", "fabrikam"]
    assert "through an indirect reseller (Nordic Distribution AB)" in listed.output
    shown = runner.invoke(app, ["customers", "show", "contoso"])
    assert "billing" in shown.output
    assert "Eva Ekonomi <ekonomi@contoso.example> (sv)" in shown.output

    again = runner.invoke(app, [*add, "--domain", "contoso.example"])
    assert again.exit_code != 0


def test_a_customers_name_tenant_and_relationship_change(cli_env: Path) -> None:
    runner = CliRunner()
    add = ["customers", "add", "contoso", "--name", "Contoso AB", "--tenant-id", TENANT]
    assert runner.invoke(app, [*add, "--domain", "contoso.example"]).exit_code == 0
    new_tenant = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    for args in (
        ["rename", "contoso", "--name", "Contoso Group AB"],
        ["change-tenant", "contoso", "--tenant-id", new_tenant, "--domain", "contoso.test"],
        ["change-relationship", "contoso", "--indirect-provider", "Tech Data AB"],
    ):
        changed = runner.invoke(app, ["customers", *args])
        assert changed.exit_code == 0, changed.output
    shown = runner.invoke(app, ["customers", "show", "contoso"])
    assert shown.output.splitlines()[0] == (
        f"contoso: Contoso Group AB, contoso.test, tenant {new_tenant}, "
        "through an indirect reseller (Tech Data AB)"
    )
    both = ["customers", "change-relationship", "contoso", "--direct-bill"]
    assert runner.invoke(app, [*both, "--indirect-provider", "X"]).exit_code != 0
    assert runner.invoke(app, both).exit_code == 0
    assert "direct bill" in runner.invoke(app, ["customers", "show", "contoso"]).output


def test_a_webhook_secret_is_set_from_a_file_and_shown_by_fingerprint(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    add = ["customers", "add", "contoso", "--name", "Contoso AB", "--tenant-id", TENANT]
    secret_file = cli_env / "secret.txt"
    secret_file.write_text("whsec-contoso-0123456789abcdef0123\n")
    set_secret = ["customers", "set-webhook-secret", "contoso", "--secret-file", str(secret_file)]
    assert runner.invoke(app, [*add, "--domain", "contoso.example"]).exit_code == 0
    refused = runner.invoke(app, set_secret)  # no master key: nothing to seal under
    assert refused.exit_code != 0
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    monkeypatch.setenv("CASES_MASTER_KEY", MasterKey.generate().as_text())
    get_settings.cache_clear()
    done = runner.invoke(app, set_secret)
    assert done.exit_code == 0, done.output
    fingerprint = done.output.split()[-1]
    shown = runner.invoke(app, ["customers", "show", "contoso"]).output
    assert f"webhook secret {fingerprint}" in shown
    assert "0123456789abcdef0123" not in done.output + shown
