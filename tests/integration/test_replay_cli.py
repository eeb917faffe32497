"""`cases replay case|account` on a real SQLite file: readable lines, the changes
each event made, cut-offs, and one-line refusals."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from typer.testing import CliRunner, Result

from cases.application.caller import Caller
from cases.bootstrap import bootstrap
from cases.cli.main import app
from cases.clock import ManualClock
from cases.domain import billing_commands as bcmd
from cases.domain import case_commands as cmd
from cases.domain.billing_values import BillingPeriod, InvoiceLine, InvoicePeriod
from cases.domain.collection_policy import CollectionStage, CollectionTerms, StageAction
from cases.domain.metadata import Actor, Role, Source
from cases.domain.money import Money, UnitPrice
from cases.domain.support_case import SupportCase
from cases.settings import get_settings
from tests.support.builders import T0, caller, intake, is_clock_fact, terms, vendor_round_trip

BEA = Caller.new(Actor("billing-bea", Role.BILLING_ADMIN), Source.CLI)
RUN = Caller.new(Actor("collection-run", Role.SYSTEM), Source.SCHEDULER)
DUE = date(2026, 4, 1)


@dataclass
class Recorded:
    case_id: UUID
    account_id: UUID
    case_recorded: list[datetime]  # when each command on the case was recorded
    case_reached: list[int]  # the case's version after each command (its receipt's)
    own_versions: list[int]  # the versions of the case's own events (not clock facts)

    @property
    def latest(self) -> int:
        return self.case_reached[-1]

    @property
    def escalated(self) -> int:
        """The version of the `Escalated` event (the case's third own event)."""
        return self.own_versions[2]


def eur(amount: int) -> Money:
    return Money.of(amount, "EUR")


def at_six(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC).replace(hour=6)


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorded]:
    """On a SQLite file: a case escalated, handed back, resolved, closed and
    reopened (eight commands ten minutes apart, each recording one event of the
    case and the clock facts it brings); an account invoiced, suspended, paid in
    part and then in full."""
    monkeypatch.setenv("CASES_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CASES_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    clock = ManualClock(T0)
    services = bootstrap(get_settings(), clock)
    try:
        desk, who = services.desk, caller()
        desk.publish_terms(who, terms(), effective_from=T0)
        times = []
        clock.advance(timedelta(minutes=10))
        times.append(clock.now())
        received = desk.receive_case(who, cmd.TakeIn(received_at=clock.now(), **intake()))
        case_id, reached = received.aggregate_id, [received.version]
        for command in vendor_round_trip():
            clock.advance(timedelta(minutes=10))
            times.append(clock.now())
            reached.append(desk.handle(who, case_id, command).version)
        own_versions = [
            h.version
            for h in services.audit.history(SupportCase, case_id)
            if not is_clock_fact(h.event_type)
        ]

        office = services.billing
        office.publish_collection_policy(
            BEA,
            CollectionTerms(
                stages=(
                    CollectionStage(14, StageAction.FINAL_WARNING),
                    CollectionStage(30, StageAction.SUSPEND_ACCESS),
                )
            ),
        )
        account_id = office.open_account(
            BEA,
            bcmd.OpenAccount(
                customer_id="contoso",
                currency="EUR",
                net_days=30,
                billing_period=BillingPeriod.MONTHLY,
            ),
        ).aggregate_id
        office.handle(
            BEA,
            account_id,
            bcmd.AddSubscription(subscription_id="m365", product="Microsoft 365", quantity=25),
        )
        office.handle(
            BEA,
            account_id,
            bcmd.IssueInvoice(
                number="F-2001",
                period=InvoicePeriod(date(2026, 3, 1), date(2026, 3, 31)),
                lines=(
                    InvoiceLine("Microsoft 365 E3, 25 seats", Decimal(25), UnitPrice.of(40, "EUR")),
                ),
                issued_on=date(2026, 3, 2),
            ),
        )
        clock.set(at_six(DUE + timedelta(days=30)))
        office.evaluate(RUN, account_id, clock.now())
        for reference, amount in (("B-1", 400), ("B-2", 600)):
            office.handle(
                BEA,
                account_id,
                bcmd.ReceivePayment(reference=reference, amount=eur(amount), received_on=DUE),
            )
    finally:
        services.close()
    yield Recorded(case_id, account_id, times, reached, own_versions)
    get_settings.cache_clear()


def replay(*args: str) -> Result:
    return CliRunner().invoke(app, ["replay", *args])


def words(output: str) -> str:
    """The output with runs of spaces (alignment) made single."""
    return "\n".join(" ".join(line.split()) for line in output.splitlines())


def test_a_case_replay_shows_each_event_its_metadata_and_its_changes(
    recorded: Recorded,
) -> None:
    """Every version appears with moments, actor, source, correlation, summary and
    the changes under it; the final state closes the output."""
    result = replay("case", str(recorded.case_id))
    assert result.exit_code == 0, result.output
    out = words(result.output)
    latest = recorded.latest
    assert f"Replay of support case {recorded.case_id}: versions 1 to {latest} of {latest}" in out
    assert [int(v) for v in re.findall(r"^v(\d+) ", out, re.MULTILINE)] == list(
        range(1, latest + 1)
    )
    assert (
        f"v{recorded.escalated} Escalated: Escalation 1 to the vendor through advanced support"
        in out
    )
    assert "ServiceClockStarted: Started the vendor clock 1 at 2026-03-02 08:30 UTC" in out
    escalated = recorded.case_recorded[2].isoformat()
    assert f"occurred and recorded {escalated}" in out
    assert "by agent-anna (helpdesk agent) via api; correlation " in out
    assert 'escalations[1].vendor_reference: - -> "2611080040012345"' in out
    assert "escalations[1].vehicle: - -> advanced_support_for_partners" in out
    assert "resolution.code: fixed_by_vendor -> -" in out
    assert "status: closed -> in_progress" in out
    assert "reopen_count: 0 -> 1" in out
    assert "_pending_events" not in out
    assert "_modified_on" not in out
    assert out.splitlines()[-5] == f"State at version {latest}:"
    assert "status in_progress" in out.splitlines()[-1]


def test_an_account_replay_shows_money_and_access(recorded: Recorded) -> None:
    """Money reads with its currency, keyed by invoice number; access moves by
    subscription; the final state gives the balance and each invoice."""
    result = replay("account", str(recorded.account_id))
    assert result.exit_code == 0, result.output
    out = words(result.output)
    assert "invoices[F-2001].total: - -> 1000.00 EUR" in out
    assert "invoices[F-2001].due_on: - -> 2026-04-01" in out
    assert "subscriptions[m365].access: active -> suspended" in out
    assert "invoices[F-2001].settled: 0.00 EUR -> 400.00 EUR" in out
    assert "invoices[F-2001].settled: 400.00 EUR -> 1000.00 EUR" in out
    assert "subscriptions[m365].access: suspended -> active" in out
    assert "v5 ReminderSent: Sent final warning for invoice F-2001" in out
    assert "changed nothing in the state" in out
    assert "balance 0.00 EUR: charged 1000.00 EUR, paid 1000.00 EUR" in out
    assert "invoice F-2001: 1000.00 EUR; due 2026-04-01, outstanding 0.00 EUR" in out
    assert "subscription m365: Microsoft 365 x25, active" in out


def test_version_and_as_of_stop_the_replay(recorded: Recorded) -> None:
    """`--version` of the escalation stops after it; `--as-of` a second before the
    sixth command stops after the last version the fifth recorded."""
    latest, escalated = recorded.latest, recorded.escalated
    result = replay("case", str(recorded.case_id), "--version", str(escalated))
    assert result.exit_code == 0, result.output
    out = words(result.output)
    assert f"versions 1 to {escalated} of {latest} (up to version {escalated})" in out
    assert f"\nv{escalated} Escalated: " in out
    assert f"\nv{escalated + 1} " not in out
    assert "status escalated" in out.splitlines()[-1]
    moment = (recorded.case_recorded[5] - timedelta(seconds=1)).isoformat()
    result = replay("case", str(recorded.case_id), "--as-of", moment)
    assert result.exit_code == 0, result.output
    out = words(result.output)
    fifth = recorded.case_reached[4]
    assert f"versions 1 to {fifth} of {latest} (as recorded at {moment})" in out
    assert f"\nv{fifth} " in out
    assert f"\nv{fifth + 1} " not in out


def test_a_moment_without_an_offset_is_utc(recorded: Recorded) -> None:
    """`--as-of` without an offset is read as UTC."""
    naive = recorded.case_recorded[1].replace(tzinfo=None).isoformat()
    result = replay("case", str(recorded.case_id), "--as-of", naive)
    assert result.exit_code == 0, result.output
    assert f"versions 1 to {recorded.case_reached[1]} of {recorded.latest}" in result.output


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        (["case", "00000000-0000-0000-0000-000000000000"], "no support case has the id"),
        (["case", "{account}"], "no support case has the id"),
        (["account", "{case}"], "no billing account has the id"),
        (
            ["case", "{case}", "--version", "{after_latest}"],
            "version {after_latest} does not exist",
        ),
        (["case", "{case}", "--as-of", "2026-03-01T00:00:00+00:00"], "was not yet recorded"),
    ],
)
def test_unknown_ids_versions_and_moments_are_one_line_refusals(
    recorded: Recorded, args: list[str], refusal: str
) -> None:
    """Each refusal is one line naming the rule, with exit status 1."""
    names = {
        "case": recorded.case_id,
        "account": recorded.account_id,
        "after_latest": recorded.latest + 1,
    }
    result = replay(*(a.format(**names) for a in args))
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith("refused (not-found): ")
    assert refusal.format(**names) in line


def test_a_moment_that_is_not_iso_is_a_usage_error(recorded: Recorded) -> None:
    """An unreadable `--as-of` is a usage error (exit 2) naming the option."""
    result = replay("case", str(recorded.case_id), "--as-of", "yesterday")
    assert result.exit_code == 2
    assert "--as-of" in result.output
