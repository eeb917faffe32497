"""The customer directory on every store: customers, contacts, the contact book,
and cases and accounts refused for customers it does not hold (ADR 0048)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

import pytest

from cases.application.contact_book import ContactBook, Recipient
from cases.application.directory_contacts import DirectoryContactBook
from cases.bootstrap import Services
from cases.domain import billing_commands as bc
from cases.domain import case_commands as cmd
from cases.domain import customer_commands as cc
from cases.domain import errors
from cases.domain.billing_values import BillingPeriod
from cases.domain.case_values import (
    Contact,
    EscalationCategory,
    EscalationTarget,
)
from cases.domain.customer import Customer
from cases.domain.customer_values import (
    CommunicationPreferences,
    Language,
    NoticeChannel,
    OptionalNotice,
    Relationship,
)
from cases.domain.metadata import Actor, Role
from cases.domain.support_case import SupportCase
from cases.history.event_summaries import summarise
from tests.support.builders import T0, caller, intake, terms
from tests.support.contact_book import FixedContactBook
from tests.support.customers import PROVIDER, billing_contact, register, technical_contact

SALES = caller(Actor("sales-sam", Role.SALES_AGENT))


@pytest.fixture
def directory(services: Services) -> Services:
    services.desk.publish_terms(caller(), terms(), effective_from=T0)
    services.customers.register(SALES, register("contoso"))
    return services


class TestCustomers:
    def test_a_registered_customer_is_found_with_its_details(self, directory: Services) -> None:
        customer = directory.customers.customer("contoso")
        assert (customer.display_name, customer.primary_domain, customer.indirect_provider) == (
            "Contoso AB",
            "contoso.example",
            None,
        )
        assert directory.customers.listing.count() == 1

    def test_a_customer_is_registered_once(self, directory: Services) -> None:
        with pytest.raises(errors.CustomerAlreadyRegisteredError):
            directory.customers.register(SALES, register("contoso"))

    def test_an_indirect_resellers_customer_names_its_provider(self, directory: Services) -> None:
        with pytest.raises(errors.IndirectProviderNotNamedError):
            directory.customers.register(
                SALES, register("fabrikam", indirect=True, indirect_provider=None)
            )
        directory.customers.register(SALES, register("fabrikam", indirect=True))
        assert directory.customers.indirect_provider("fabrikam") == PROVIDER

    def test_preferences_change_and_an_opt_out_is_kept(self, directory: Services) -> None:
        wanted = CommunicationPreferences(
            (NoticeChannel.EMAIL, NoticeChannel.WEBHOOK),
            "https://erp.contoso.example/hooks/cases",
            (OptionalNotice.UPCOMING_PAYMENT_REMINDER,),
        )
        directory.customers.handle(SALES, "contoso", cc.ChangePreferences(wanted))
        kept = directory.customers.customer("contoso").preferences
        assert kept == wanted
        assert kept.declines(OptionalNotice.UPCOMING_PAYMENT_REMINDER)
        book = DirectoryContactBook(directory.customers)
        assert book.preferences("contoso") == wanted  # as the outbox reads them
        assert book.preferences("nobody") == CommunicationPreferences()

    def test_name_tenant_and_relationship_change_and_history_shows_them(
        self, directory: Services
    ) -> None:
        """Each change is its own event; the customer follows, and its history
        says what changed, in order."""
        customers = directory.customers
        customers.handle(SALES, "contoso", cc.RenameCustomer("  Contoso Group AB "))
        new_tenant = "0A1B2C3D-4E5F-4a6b-8c7d-9e0f1a2b3c4d"
        customers.handle(SALES, "contoso", cc.ChangeTenant(new_tenant, "Contoso-Group.example"))
        customers.handle(
            SALES,
            "contoso",
            cc.ChangeRelationship(Relationship.INDIRECT_RESELLER, "Tech Data AB"),
        )
        customer = customers.customer("contoso")
        assert (
            customer.display_name,
            customer.tenant_id,
            customer.primary_domain,
            customer.relationship,
            customers.indirect_provider("contoso"),
        ) == (
            "Contoso Group AB",
            new_tenant.lower(),
            "contoso-group.example",
            Relationship.INDIRECT_RESELLER,
            "Tech Data AB",
        )
        history = directory.audit.history(Customer, customer.id)
        assert [summarise(h.event_type, h.details) for h in history] == [
            "Customer contoso (Contoso AB, contoso.example) registered, direct bill",
            "Renamed Contoso Group AB",
            f"Tenant changed to {new_tenant.lower()}, primary domain contoso-group.example",
            "Now through an indirect reseller (Tech Data AB)",
        ]
        assert {h.meta.actor for h in history[1:]} == {SALES.actor}
        customers.handle(SALES, "contoso", cc.ChangeRelationship(Relationship.DIRECT_BILL))
        assert customers.indirect_provider("contoso") is None

    def test_a_change_that_changes_nothing_or_breaks_a_rule_records_nothing(
        self, directory: Services
    ) -> None:
        customers = directory.customers
        version = customers.customer("contoso").version
        refused: list[tuple[cc.CustomerCommand, type[errors.DomainError]]] = [
            (cc.RenameCustomer("Contoso AB"), errors.CustomerUnchangedError),
            (cc.RenameCustomer("   "), errors.InvalidValueError),
            (
                cc.ChangeTenant("5F1C3A2E-8D4B-4C6A-9E7F-0A1B2C3D4E5F", "contoso.example"),
                errors.CustomerUnchangedError,
            ),
            (cc.ChangeTenant("not-a-guid", "contoso.example"), errors.InvalidValueError),
            (
                cc.ChangeTenant("5f1c3a2e-8d4b-4c6a-9e7f-0a1b2c3d4e5f", "no domain"),
                errors.InvalidValueError,
            ),
            (cc.ChangeRelationship(Relationship.DIRECT_BILL), errors.CustomerUnchangedError),
            (
                cc.ChangeRelationship(Relationship.INDIRECT_RESELLER),
                errors.IndirectProviderNotNamedError,
            ),
            (
                cc.ChangeRelationship(Relationship.DIRECT_BILL, "Tech Data AB"),
                errors.IndirectProviderNotNamedError,
            ),
        ]
        for command, error in refused:
            with pytest.raises(error):
                customers.handle(SALES, "contoso", command)
        assert customers.customer("contoso").version == version
        with pytest.raises(errors.NotFoundError):
            customers.handle(SALES, "nobody", cc.RenameCustomer("Nobody AB"))

    def test_a_stale_version_changes_nothing(self, directory: Services) -> None:
        version = directory.customers.customer("contoso").version
        directory.customers.handle(
            SALES, "contoso", cc.RenameCustomer("Contoso Group AB"), expected_version=version
        )
        with pytest.raises(errors.VersionMismatchError):
            directory.customers.handle(
                SALES, "contoso", cc.RenameCustomer("Contoso Oy"), expected_version=version
            )
        assert directory.customers.customer("contoso").display_name == "Contoso Group AB"

    def test_a_webhook_needs_an_https_address(self) -> None:
        with pytest.raises(errors.InvalidValueError):
            CommunicationPreferences((NoticeChannel.WEBHOOK,))
        with pytest.raises(errors.InvalidValueError):
            CommunicationPreferences((NoticeChannel.WEBHOOK,), "http://plain.example/hook")


class TestContacts:
    def test_the_contact_book_lists_billing_and_technical_contacts(
        self, directory: Services
    ) -> None:
        directory.customers.add_contact(SALES, "contoso", billing_contact())
        directory.customers.add_contact(
            SALES, "contoso", billing_contact("Ann Accounts", "ap@contoso.example", Language.EN)
        )
        directory.customers.add_contact(SALES, "contoso", technical_contact())
        book: ContactBook = DirectoryContactBook(directory.customers)
        assert book.billing_contacts("contoso") == [
            Recipient("Eva Ekonomi", "ekonomi@contoso.example", "sv"),
            Recipient("Ann Accounts", "ap@contoso.example", "en"),
        ]
        assert book.technical_contacts("contoso") == [
            Recipient("Tom Teknik", "it@contoso.example", "en")
        ]
        assert book.billing_contacts("nobody") == []

    def test_a_customer_the_directory_does_not_hold_is_answered_by_the_fallback(
        self, directory: Services
    ) -> None:
        """Each role from the fallback's list of that role; the directory's own
        customers never reach the fallback."""
        fallback = FixedContactBook(
            billing={"legacy": [Recipient("Bo Bill", "bill@legacy.example", "sv")]},
            technical={"legacy": [Recipient("Tea Tech", "tech@legacy.example", "en")]},
        )
        book = DirectoryContactBook(directory.customers, fallback=fallback)
        assert book.billing_contacts("legacy") == [
            Recipient("Bo Bill", "bill@legacy.example", "sv")
        ]
        assert book.technical_contacts("legacy") == [
            Recipient("Tea Tech", "tech@legacy.example", "en")
        ]
        fallback.billing["contoso"] = [Recipient("Not Asked", "no@contoso.example", "sv")]
        assert book.billing_contacts("contoso") == []

    def test_the_contact_book_reads_the_customer_once_per_answer(
        self, directory: Services, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A message's recipients cost one load of the customer and one of each
        listed contact (it was three loads of the customer, and two for its
        preferences: `find` loaded it to see that it exists, then again)."""
        directory.customers.add_contact(SALES, "contoso", billing_contact())
        directory.customers.add_contact(SALES, "contoso", technical_contact())
        runner = directory.customers.runner
        loaded: list[str] = []
        load = runner.load

        def counting(kind: type[Any], aggregate_id: UUID, version: int | None = None) -> Any:
            loaded.append(kind.__name__)
            return load(kind, aggregate_id, version)

        monkeypatch.setattr(runner, "load", counting)
        book = DirectoryContactBook(directory.customers)
        assert [r.email for r in book.billing_contacts("contoso")] == ["ekonomi@contoso.example"]
        assert loaded == ["Customer", "CustomerContact"]
        loaded.clear()
        assert book.preferences("contoso") == CommunicationPreferences()
        assert loaded == ["Customer"]

    def test_a_contact_changes_and_is_removed(self, directory: Services) -> None:
        added = directory.customers.add_contact(SALES, "contoso", billing_contact())
        contact_id = added.aggregate_id
        directory.customers.handle_contact(
            SALES,
            "contoso",
            contact_id,
            cc.ChangeContact(Contact("Eva Ekonomi", "eva@contoso.example"), Language.EN),
        )
        book = DirectoryContactBook(directory.customers)
        assert book.billing_contacts("contoso") == [
            Recipient("Eva Ekonomi", "eva@contoso.example", "en")
        ]
        directory.customers.handle_contact(SALES, "contoso", contact_id, cc.RemoveContact())
        assert book.billing_contacts("contoso") == []
        with pytest.raises(errors.ContactRemovedError):
            directory.customers.handle_contact(SALES, "contoso", contact_id, cc.RemoveContact())

    def test_another_customers_contact_is_not_found(self, directory: Services) -> None:
        directory.customers.register(SALES, register("fabrikam"))
        added = directory.customers.add_contact(SALES, "contoso", billing_contact())
        with pytest.raises(errors.NotFoundError):
            directory.customers.contact("fabrikam", added.aggregate_id)

    def test_a_contact_of_an_unknown_customer_is_refused(self, directory: Services) -> None:
        with pytest.raises(errors.NotFoundError):
            directory.customers.add_contact(SALES, "nobody", billing_contact())


class TestKnownCustomers:
    def test_intake_for_an_unknown_customer_is_refused(self, directory: Services) -> None:
        with pytest.raises(errors.UnknownCustomerError):
            directory.desk.receive_case(caller(), cmd.TakeIn(**intake(customer_id="nobody")))

    def test_an_account_for_an_unknown_customer_is_refused(self, directory: Services) -> None:
        with pytest.raises(errors.UnknownCustomerError):
            directory.billing.open_account(
                caller(Actor("billing-bo", Role.BILLING_ADMIN)),
                bc.OpenAccount("nobody", "SEK", 30, BillingPeriod.MONTHLY),
            )

    def test_an_empty_directory_takes_bare_ids(self, services: Services) -> None:
        """A store from before the directory keeps working as it did."""
        services.desk.publish_terms(caller(), terms(), effective_from=T0)
        services.desk.receive_case(caller(), cmd.TakeIn(**intake(customer_id="legacy")))

    def test_intake_picks_a_contact_from_the_directory(self, directory: Services) -> None:
        added = directory.customers.add_contact(SALES, "contoso", technical_contact())
        asked = replace(cmd.TakeIn(**intake()), contact=None, contact_id=added.aggregate_id)
        case = directory.desk.case(directory.desk.receive_case(caller(), asked).aggregate_id)
        assert case.contact == Contact("Tom Teknik", "it@contoso.example")

    def test_intake_refuses_another_customers_contact(self, directory: Services) -> None:
        directory.customers.register(SALES, register("fabrikam"))
        added = directory.customers.add_contact(SALES, "fabrikam", technical_contact())
        asked = replace(cmd.TakeIn(**intake()), contact=None, contact_id=added.aggregate_id)
        with pytest.raises(errors.ContactNotOfCustomerError):
            directory.desk.receive_case(caller(), asked)


def test_the_indirect_provider_is_named_on_the_escalation(directory: Services) -> None:
    """A how-to question of an indirect reseller's customer goes to its provider."""
    directory.customers.register(SALES, register("fabrikam", indirect=True))
    case_id = directory.desk.receive_case(
        caller(), cmd.TakeIn(**intake(customer_id="fabrikam"))
    ).aggregate_id
    directory.desk.handle(
        caller(),
        case_id,
        cmd.Escalate(
            EscalationTarget.INDIRECT_PROVIDER, EscalationCategory.HOW_TO, None, "How to?"
        ),
    )
    escalated = [
        h
        for h in directory.audit.history(SupportCase, case_id)
        if h.event_type.endswith("Escalated")
    ]
    assert escalated[0].details["provider"] == PROVIDER
