"""The billing office on every store: in-memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from typer.testing import CliRunner

from cases.application.caller import Caller
from cases.application.collection_run import run_collection
from cases.bootstrap import Services, bootstrap
from cases.cli.collection import collection_app
from cases.clock import ManualClock, SystemClock
from cases.domain import billing_commands as bcmd
from cases.domain import case_commands as cmd
from cases.domain import errors
from cases.domain.billing_account import BillingAccount
from cases.domain.billing_values import BillingPeriod, InvoiceLine, InvoicePeriod
from cases.domain.case_values import CaseCategory
from cases.domain.collection_policy import (
    CollectionPolicy,
    CollectionStage,
    CollectionTerms,
    StageAction,
)
from cases.domain.metadata import Actor, Role, Source
from cases.domain.money import Money, UnitPrice
from cases.settings import Settings, get_settings
from tests.support.builders import T0, intake, terms

BEA = Actor("billing-bea", Role.BILLING_ADMIN)
RUN = Actor("collection-run", Role.SYSTEM)
DUE = date(2026, 4, 1)  # net 30 from 2 March


def billing() -> Caller:
    return Caller.new(BEA, Source.API)


def scheduler() -> Caller:
    return Caller.new(RUN, Source.SCHEDULER)


def eur(amount: str | int) -> Money:
    return Money.of(amount, "EUR")


def after_due(days: int) -> datetime:
    return datetime.combine(DUE + timedelta(days=days), datetime.min.time(), UTC).replace(hour=6)


def policy_terms() -> CollectionTerms:
    return CollectionTerms(
        stages=(
            CollectionStage(-7, StageAction.UPCOMING_PAYMENT_REMINDER),
            CollectionStage(1, StageAction.OVERDUE_REMINDER),
            CollectionStage(14, StageAction.FINAL_WARNING),
            CollectionStage(30, StageAction.SUSPEND_ACCESS),
        )
    )


def open_invoiced_account(services: Services, customer: str = "contoso") -> UUID:
    """An account with one subscription and a 1 000 EUR invoice due 1 April."""
    office = services.billing
    account_id = office.open_account(
        billing(),
        bcmd.OpenAccount(
            customer_id=customer, currency="EUR", net_days=30, billing_period=BillingPeriod.MONTHLY
        ),
    ).aggregate_id
    office.handle(
        billing(),
        account_id,
        bcmd.AddSubscription(subscription_id="m365", product="Microsoft 365", quantity=25),
    )
    office.handle(
        billing(),
        account_id,
        bcmd.IssueInvoice(
            number="INV-2026-03",
            period=InvoicePeriod(date(2026, 3, 1), date(2026, 3, 31)),
            lines=(
                InvoiceLine("Microsoft 365 E3, 25 seats", Decimal(25), UnitPrice.of(40, "EUR")),
            ),
            issued_on=date(2026, 3, 2),
        ),
    )
    return account_id


@pytest.fixture
def with_policy(services: Services) -> Services:
    services.billing.publish_collection_policy(billing(), policy_terms())
    return services


class TestAccounts:
    def test_opens_an_account_and_lists_it(self, services: Services) -> None:
        """An opened account can be loaded, found by customer, and is listed."""
        account_id = open_invoiced_account(services)
        account = services.billing.account(account_id)
        assert account.balance == eur(1000)
        assert services.billing.account(BillingAccount.id_for("contoso")).id == account_id
        assert list(services.billing.directory.ids()) == [account_id]
        assert services.billing.account_count() == 1

    def test_refuses_a_second_account_for_the_same_customer(self, services: Services) -> None:
        """Refuses a second account for the same customer."""
        open_invoiced_account(services)
        with pytest.raises(errors.CustomerAlreadyHasAccountError):
            services.billing.open_account(
                billing(),
                bcmd.OpenAccount(
                    customer_id="contoso",
                    currency="SEK",
                    net_days=10,
                    billing_period=BillingPeriod.ANNUAL,
                ),
            )
        assert services.billing.account_count() == 1

    def test_lists_accounts_in_the_order_opened_across_pages(self, services: Services) -> None:
        """Lists accounts in the order opened across pages."""
        services.billing.directory.page_size = 2
        ids = [open_invoiced_account(services, f"customer-{n}") for n in range(5)]
        assert list(services.billing.directory.ids()) == ids

    def test_the_directory_is_not_mistaken_for_an_account(self, services: Services) -> None:
        """Loading the directory's id finds no account instead of failing oddly."""
        open_invoiced_account(services)
        with pytest.raises(errors.NotFoundError):
            services.billing.account(services.billing.directory.id)

    def test_a_refused_command_records_nothing(self, services: Services) -> None:
        """A refused command records nothing."""
        account_id = open_invoiced_account(services)
        version = services.billing.account(account_id).version
        with pytest.raises(errors.CurrencyMismatchError):
            services.billing.handle(
                billing(),
                account_id,
                bcmd.ReceivePayment(
                    reference="B-1", amount=Money.of(100, "SEK"), received_on=date(2026, 3, 2)
                ),
            )
        assert services.billing.account(account_id).version == version

    def test_a_stale_expected_version_is_refused(self, services: Services) -> None:
        """A stale expected version is refused."""
        account_id = open_invoiced_account(services)
        with pytest.raises(errors.VersionMismatchError):
            services.billing.handle(
                billing(),
                account_id,
                bcmd.RecordPrepayment("m365", date(2026, 12, 31)),
                expected_version=1,
            )


class TestCollectionJourney:
    def test_reminds_suspends_and_reinstates_on_the_payment(
        self, with_policy: Services, clock: ManualClock
    ) -> None:
        """Reminders at -7, +1 and +14, suspension at +30, a partial payment that
        changes nothing, and the settling payment that reinstates at once."""
        office = with_policy.billing
        account_id = open_invoiced_account(with_policy)
        recorded: list[list[str]] = []
        for days in (-7, 1, 14, 30):
            clock.set(after_due(days))
            evaluation = office.evaluate(scheduler(), account_id, after_due(days))
            recorded.append([type(e).__name__ for e in evaluation.events])
        assert recorded == [
            ["StageEntered", "ReminderSent"],
            ["StageEntered", "ReminderSent"],
            ["StageEntered", "ReminderSent"],
            ["StageEntered", "AccessSuspended"],
        ]
        clock.set(after_due(31))
        office.handle(
            billing(),
            account_id,
            bcmd.ReceivePayment(reference="B-1", amount=eur(400), received_on=date(2026, 5, 2)),
        )
        assert office.account(account_id).subscriptions["m365"].is_suspended
        office.handle(
            billing(),
            account_id,
            bcmd.ReceivePayment(reference="B-2", amount=eur(600), received_on=date(2026, 5, 2)),
        )
        account = office.account(account_id)
        assert not account.subscriptions["m365"].is_suspended
        assert account.balance == eur(0)
        last = with_policy.audit.history(BillingAccount, account_id)[-2:]
        assert [h.event_type for h in last] == [
            "BillingAccount.PaymentReceived",
            "BillingAccount.AccessReinstated",
        ]
        assert last[0].meta.correlation_id == last[1].meta.correlation_id

    def test_evaluating_again_at_the_same_moment_writes_nothing(
        self, with_policy: Services, clock: ManualClock
    ) -> None:
        """Evaluating again at the same moment writes nothing."""
        account_id = open_invoiced_account(with_policy)
        clock.set(after_due(20))
        first = with_policy.billing.evaluate(scheduler(), account_id, after_due(20))
        version = with_policy.billing.account(account_id).version
        second = with_policy.billing.evaluate(scheduler(), account_id, after_due(20))
        assert first.stages_entered == (-7, 1, 14)
        assert first.reminders == (StageAction.FINAL_WARNING,)
        assert not second.did_something
        assert with_policy.billing.account(account_id).version == version

    def test_refuses_to_evaluate_at_a_moment_still_to_come(self, with_policy: Services) -> None:
        """Refuses to evaluate at a moment still to come."""
        account_id = open_invoiced_account(with_policy)
        with pytest.raises(errors.EvaluationInFutureError):
            with_policy.billing.evaluate(scheduler(), account_id, after_due(1))

    def test_evaluation_needs_a_policy(self, services: Services, clock: ManualClock) -> None:
        """Evaluation needs a policy."""
        account_id = open_invoiced_account(services)
        clock.set(after_due(1))
        with pytest.raises(errors.NoCollectionPolicyError):
            services.billing.evaluate(scheduler(), account_id, after_due(1))

    def test_records_the_policy_version_and_the_moment_evaluated(
        self, with_policy: Services, clock: ManualClock
    ) -> None:
        """The second version governs runs after it took effect; occurred_at is
        the moment evaluated, recorded_at the moment the run wrote it."""
        office = with_policy.billing
        clock.set(after_due(0))
        office.publish_collection_policy(billing(), policy_terms(), after_due(5))
        account_id = open_invoiced_account(with_policy)
        clock.set(after_due(40))
        evaluation = office.evaluate(scheduler(), account_id, after_due(10))
        [entered, *_] = evaluation.events
        assert isinstance(entered, BillingAccount.StageEntered)
        assert entered.policy_version == 2
        assert entered.meta.occurred_at == after_due(10)
        assert entered.timestamp == after_due(40)
        assert (
            office.collection_policy()
            .published_version(2)
            .customer_text.startswith("7 days before")
        )


class TestCollectionRun:
    def test_runs_over_every_account_and_says_what_it_did(
        self, with_policy: Services, clock: ManualClock
    ) -> None:
        """The run evaluates every account, reports those it acted on and progress,
        and a second run at the same moment does nothing."""
        office = with_policy.billing
        late = open_invoiced_account(with_policy, "contoso")
        settled = open_invoiced_account(with_policy, "fabrikam")
        office.handle(
            billing(),
            settled,
            bcmd.ReceivePayment(reference="B-1", amount=eur(1000), received_on=date(2026, 3, 2)),
        )
        clock.set(after_due(30))
        progress: list[tuple[int, int]] = []
        summary = run_collection(
            office, scheduler(), after_due(30), lambda done, total: progress.append((done, total))
        )
        assert summary.evaluated == 2
        assert [e.account_id for e in summary.acted_on] == [late]
        assert (summary.stages_entered, summary.reminders, summary.suspensions) == (4, 1, 1)
        assert summary.failures == ()
        assert progress == [(1, 2), (2, 2)]
        again = run_collection(office, scheduler(), after_due(30))
        assert again.acted_on == ()
        assert again.evaluated == 2


class TestHistory:
    def test_full_history_in_order_with_metadata(
        self, with_policy: Services, clock: ManualClock
    ) -> None:
        """Full history in order with metadata."""
        account_id = open_invoiced_account(with_policy)
        clock.set(after_due(1))
        with_policy.billing.evaluate(scheduler(), account_id, after_due(1))
        history = with_policy.audit.history(BillingAccount, account_id)
        assert [h.event_type.split(".")[1] for h in history] == [
            "Opened",
            "SubscriptionAdded",
            "InvoiceIssued",
            "StageEntered",
            "StageEntered",
            "ReminderSent",
        ]
        assert [h.version for h in history] == list(range(1, 7))
        assert history[0].meta.actor == BEA
        assert history[-1].meta.actor == RUN
        assert history[-1].meta.source is Source.SCHEDULER
        assert history[2].details["total"] == eur(1000)

    def test_state_at_a_version_and_as_of_a_moment(
        self, with_policy: Services, clock: ManualClock
    ) -> None:
        """Past states survive snapshots (taken every 5 events here)."""
        office = with_policy.billing
        account_id = open_invoiced_account(with_policy)
        paid_at: list[datetime] = []
        for n in range(8):
            clock.advance(timedelta(hours=1))
            paid_at.append(clock.now())
            office.handle(
                billing(),
                account_id,
                bcmd.ReceivePayment(
                    reference=f"B-{n}", amount=eur(100), received_on=clock.now().date()
                ),
            )
        assert office.account(account_id).balance == eur(200)
        at_v5 = with_policy.audit.at_version(BillingAccount, account_id, 5)
        assert at_v5.balance == eur(800)
        as_of = with_policy.audit.as_of(BillingAccount, account_id, paid_at[5])
        assert as_of.balance == eur(400)
        with pytest.raises(errors.NotFoundError):
            with_policy.audit.at_version(BillingAccount, account_id, 99)

    def test_policy_history_shows_each_version(self, with_policy: Services) -> None:
        """Policy history shows each version."""
        history = with_policy.audit.history(CollectionPolicy, CollectionPolicy.policy_id())
        assert [h.event_type for h in history] == [
            "CollectionPolicy.Established",
            "CollectionPolicy.Published",
        ]
        assert "suspend access to all your subscriptions" in history[1].details["customer_text"]


class TestBillingQuestions:
    def billing_case(self, services: Services, customer: str = "contoso") -> UUID:
        services.desk.publish_terms(billing(), terms(), effective_from=T0)
        return services.desk.receive_case(
            billing(),
            cmd.TakeIn(received_at=T0, **intake(CaseCategory.BILLING, customer_id=customer)),
        ).aggregate_id

    def test_links_a_billing_case_and_the_account_history_shows_it(
        self, services: Services
    ) -> None:
        """Links a billing case and the account history shows it."""
        account_id = open_invoiced_account(services)
        case_id = self.billing_case(services)
        case_receipt, account_receipt = services.billing.link_billing_case(
            billing(), case_id, account_id
        )
        assert services.desk.case(case_id).billing_account_id == account_id
        assert services.billing.account(account_id).linked_cases == (case_id,)
        last = services.audit.history(BillingAccount, account_id)[-1]
        assert last.event_type == "BillingAccount.BillingCaseLinked"
        assert last.details["case_id"] == case_id
        assert last.version == account_receipt.version
        assert case_receipt.aggregate_id == case_id

    def test_refuses_to_link_another_customers_case_and_records_nothing(
        self, services: Services
    ) -> None:
        """Refuses to link another customer's case; neither side records anything."""
        account_id = open_invoiced_account(services)
        case_id = self.billing_case(services, customer="fabrikam")
        case_version = services.desk.case(case_id).version
        with pytest.raises(errors.CustomerMismatchError):
            services.billing.link_billing_case(billing(), case_id, account_id)
        assert services.desk.case(case_id).version == case_version
        assert services.billing.account(account_id).linked_cases == ()

    def test_refuses_to_link_a_technical_case(self, services: Services) -> None:
        """Refuses to link a technical case."""
        account_id = open_invoiced_account(services)
        services.desk.publish_terms(billing(), terms(), effective_from=T0)
        case_id = services.desk.receive_case(
            billing(), cmd.TakeIn(received_at=T0, **intake())
        ).aggregate_id
        with pytest.raises(errors.NotABillingCaseError):
            services.billing.link_billing_case(billing(), case_id, account_id)
        assert services.billing.account(account_id).linked_cases == ()


class TestCollectionCommand:
    """`cases collection run` on a SQLite file, dated from today's real clock."""

    @pytest.fixture
    def store(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
        url = f"sqlite:///{tmp_path / 'cli.db'}"
        monkeypatch.setenv("CASES_DATABASE_URL", url)
        get_settings.cache_clear()
        now = SystemClock().now()
        services = bootstrap(Settings(database_url=url), ManualClock(now - timedelta(days=60)))
        try:
            yield services
        finally:
            services.close()
            get_settings.cache_clear()

    def test_prints_what_it_did_per_account_and_a_summary(self, store: Services) -> None:
        """Prints what it did per account and a summary."""
        office = store.billing
        office.publish_collection_policy(billing(), policy_terms())
        account_id = office.open_account(
            billing(),
            bcmd.OpenAccount(
                customer_id="contoso",
                currency="EUR",
                net_days=10,
                billing_period=BillingPeriod.MONTHLY,
            ),
        ).aggregate_id
        office.handle(
            billing(),
            account_id,
            bcmd.AddSubscription(subscription_id="m365", product="Microsoft 365", quantity=5),
        )
        issued = store.clock.now().date()
        office.handle(
            billing(),
            account_id,
            bcmd.IssueInvoice(
                number="INV-1",
                period=InvoicePeriod(issued, issued),
                lines=(InvoiceLine("Microsoft 365", Decimal(5), UnitPrice.of(20, "EUR")),),
                issued_on=issued,
            ),
        )
        as_of = datetime.combine(issued + timedelta(days=10 + 14), datetime.min.time(), UTC)
        cli = CliRunner()

        first = cli.invoke(collection_app, ["run", "--as-of", as_of.isoformat()])
        again = cli.invoke(collection_app, ["run", "--as-of", as_of.isoformat()])
        bad = cli.invoke(collection_app, ["run", "--as-of", "2026-05-01T06:00"])

        assert first.exit_code == 0, first.output
        assert f"contoso              {account_id}  stages -7 +1 +14; sent final warning" in (
            first.output
        )
        assert "1 accounts evaluated, 1 acted on; 3 stages entered, 1 reminders" in first.output
        assert again.exit_code == 0, again.output
        assert "1 accounts evaluated, 0 acted on" in again.output
        assert "contoso" not in again.output
        assert bad.exit_code == 2
        assert "UTC offset" in bad.output
