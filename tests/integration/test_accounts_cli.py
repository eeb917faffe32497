"""`cases accounts` on a real SQLite file: suspend, reinstate, hold, change-quantity,
cancel; refusals exit with 1 and name their rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from cases.application.caller import Caller
from cases.cli.main import app
from cases.cli.serve import BOOTSTRAP
from cases.cli.services import open_services
from cases.domain import billing_commands as c
from cases.domain.billing_account import BillingAccount
from cases.domain.billing_values import BillingPeriod
from cases.domain.metadata import Source

TENANT = "5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f"
SUB = "sub-bp-40"


def contoso_with_a_subscription(runner: CliRunner) -> None:
    add = ["customers", "add", "contoso", "--name", "Contoso AB", "--tenant-id", TENANT]
    assert runner.invoke(app, [*add, "--domain", "contoso.example"]).exit_code == 0
    caller = Caller.new(BOOTSTRAP, Source.CLI)
    with open_services() as services:
        opened = services.billing.open_account(
            caller, c.OpenAccount("contoso", "EUR", 30, BillingPeriod.MONTHLY)
        )
        services.billing.handle(
            caller,
            opened.aggregate_id,
            c.AddSubscription(SUB, "Microsoft 365 Business Premium", 40),
        )


def account() -> BillingAccount:
    with open_services() as services:
        return services.billing.account(BillingAccount.id_for("contoso"))


def test_the_hand_commands_change_the_account(cli_env: Path) -> None:
    runner = CliRunner()
    contoso_with_a_subscription(runner)
    why = ["--reason", "Asked by the customer"]
    steps = (
        (["suspend", "contoso", SUB, *why], f"{SUB} suspended"),
        (["reinstate", "contoso", SUB, *why], f"{SUB} reinstated"),
        (["hold", "contoso", "--until", "2099-01-31", *why], "held through 2099-01-31"),
        (["change-quantity", "contoso", SUB, "45", *why], "quantity of 45"),
        (["cancel", "contoso", SUB, "--effective-on", "2099-02-01", *why], "from 2099-02-01"),
    )
    for args, said in steps:
        done = runner.invoke(app, ["accounts", *args])
        assert done.exit_code == 0, done.output
        assert said in done.output
    held = account()
    subscription = held.subscriptions[SUB]
    assert (subscription.quantity, subscription.cancelled_on) == (45, date(2099, 2, 1))
    assert held.held_until == date(2099, 1, 31)


def test_refusals_exit_with_one_and_name_their_rule(cli_env: Path) -> None:
    runner = CliRunner()
    contoso_with_a_subscription(runner)
    why = ["--reason", "x"]
    gone = (datetime.now(UTC).date() - timedelta(days=2)).isoformat()
    for args, rule in (
        (["change-quantity", "contoso", SUB, "40", *why], "same-quantity"),
        (["change-quantity", "contoso", SUB, "0", *why], "invalid-value"),
        (["reinstate", "contoso", SUB, *why], "access-not-suspended"),
        (["cancel", "contoso", SUB, "--effective-on", gone, *why], "cancellation-in-past"),
        (["suspend", "nobody", SUB, *why], "not-found"),
    ):
        refused = runner.invoke(app, ["accounts", *args])
        assert refused.exit_code == 1, refused.output
        assert f"refused ({rule})" in refused.output
    bad_day = runner.invoke(app, ["accounts", "hold", "contoso", "--until", "soon", *why])
    assert bad_day.exit_code == 2
