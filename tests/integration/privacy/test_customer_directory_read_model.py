"""The customer directory's read model on SQLite and PostgreSQL: what the
directory holds, an erased contact's details overwritten, and a rebuild after
the erasure giving the same tables (ADR 0044, ADR 0048)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cases.bootstrap import Services
from cases.db.database import ProjectionDatabase, open_projection_db
from cases.domain import customer_commands as cc
from cases.domain.case_values import Contact
from cases.domain.customer_values import Language
from cases.domain.metadata import Actor, Role
from cases.followers.rebuild import rebuild
from cases.followers.runner import ProjectionRunner
from cases.persistence.personal_data import ERASED
from cases.projections.customer_directory import (
    CustomerDirectoryProjection,
    CustomerDirectoryView,
)
from cases.settings import Settings
from tests.support.builders import caller
from tests.support.customers import billing_contact, register, technical_contact
from tests.support.projection_tables import projection_rows

SALES = caller(Actor("sales-sam", Role.SALES_AGENT))
ADMIN = caller(Actor("admin-ulla", Role.USER_MANAGEMENT_ADMIN))


@pytest.fixture
def db(sealed_settings: Settings) -> Iterator[ProjectionDatabase]:
    if sealed_settings.effective_database_url.startswith("memory"):
        pytest.skip("read models live in SQLite or PostgreSQL")
    db = open_projection_db(sealed_settings)
    try:
        yield db
    finally:
        db.close()


def catch_up(services: Services, db: ProjectionDatabase) -> None:
    ProjectionRunner(services.log, CustomerDirectoryProjection(), db, batch_size=3).catch_up()


def test_the_read_model_shows_the_directory_and_forgets_an_erased_contact(
    sealed: Services, db: ProjectionDatabase
) -> None:
    sealed.customers.register(SALES, register("contoso"))
    sealed.customers.register(SALES, register("fabrikam", indirect=True))
    eva = sealed.customers.add_contact(SALES, "contoso", billing_contact()).aggregate_id
    tom = sealed.customers.add_contact(SALES, "contoso", technical_contact()).aggregate_id
    sealed.customers.handle_contact(
        SALES,
        "contoso",
        tom,
        cc.ChangeContact(Contact("Tom Teknik", "tom@contoso.example"), Language.SV),
    )
    gone = sealed.customers.add_contact(
        SALES, "contoso", billing_contact("Old Owner", "old@contoso.example")
    ).aggregate_id
    sealed.customers.handle_contact(SALES, "contoso", gone, cc.RemoveContact())
    catch_up(sealed, db)

    view = CustomerDirectoryView(db)
    assert [c["customer_id"] for c in view.page(customer_id=None, after=None, limit=10)] == [
        "contoso",
        "fabrikam",
    ]
    fabrikam = view.get("fabrikam")
    assert fabrikam is not None
    assert (fabrikam["relationship"], fabrikam["channels"]) == ("indirect_reseller", ["email"])
    contacts = view.contacts_of("contoso")
    assert [(c["contact_id"], c["role"], c["email"], c["language"]) for c in contacts] == [
        (eva, "billing", "ekonomi@contoso.example", "sv"),
        (tom, "technical", "tom@contoso.example", "sv"),
    ]

    sealed.privacy.erase(ADMIN, eva, "Article 17 request 2026-202")
    catch_up(sealed, db)
    erased = view.contacts_of("contoso")[0]
    assert (erased["name"], erased["email"], erased["phone"]) == (ERASED, ERASED, ERASED)

    live = projection_rows(db, CustomerDirectoryProjection())
    rebuild(sealed.log, CustomerDirectoryProjection(), db, batch_size=4)
    assert projection_rows(db, CustomerDirectoryProjection()) == live
