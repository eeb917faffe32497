"""A directory contact is a data subject of its own: erasing them leaves the
customer and its other contacts, and their details read `erased` (ADR 0048)."""

from __future__ import annotations

from cases.application.contact_book import Recipient
from cases.application.directory_contacts import DirectoryContactBook
from cases.bootstrap import Services
from cases.domain.customer import CustomerContact
from cases.domain.erasure import SubjectKind
from cases.domain.metadata import Actor, Role
from cases.persistence.personal_data import ERASED
from cases.settings import Settings
from tests.support.builders import caller
from tests.support.customers import billing_contact, register
from tests.support.plaintext import tables_holding

ADMIN = caller(Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN))
SALES = caller(Actor("sales-sam", Role.SALES_AGENT))


def test_an_erased_contact_reads_erased_and_leaves_the_others(
    sealed: Services, sealed_settings: Settings
) -> None:
    sealed.customers.register(SALES, register("contoso"))
    eva = sealed.customers.add_contact(SALES, "contoso", billing_contact()).aggregate_id
    sealed.customers.add_contact(
        SALES, "contoso", billing_contact("Ann Accounts", "ap@contoso.example")
    )
    [found] = sealed.privacy.find(email="EKONOMI@contoso.example")
    assert (found.subject_id, found.kind) == (eva, SubjectKind.CUSTOMER_CONTACT)

    erased = sealed.privacy.erase(ADMIN, eva, "Article 17 request 2026-201")

    assert erased.kind is SubjectKind.CUSTOMER_CONTACT
    url = sealed_settings.effective_database_url
    assert tables_holding(url, sealed.log, ["Eva Ekonomi", "ekonomi@contoso.example"]) == {}
    contact = sealed.customers.contact("contoso", eva)
    assert (contact.contact.name, contact.contact.email, contact.contact.phone) == (
        ERASED,
        ERASED,
        ERASED,
    )
    history = sealed.audit.history(CustomerContact, eva)
    assert history[0].details["contact"].name == ERASED
    book = DirectoryContactBook(sealed.customers)
    assert book.billing_contacts("contoso") == [
        Recipient("Ann Accounts", "ap@contoso.example", "sv")
    ]
    assert sealed.customers.customer("contoso").display_name == "Contoso AB"
    assert sealed.privacy.export(eva).erased
