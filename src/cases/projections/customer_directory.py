"""The customer directory's read model: customers, and their contacts by role.

Contacts' names, e-mail addresses and phones are personal data (ADR 0044): on the
erasure of a contact the projection overwrites them with the placeholder, which
is also what a rebuild reads from the sealed events by then (ADR 0048).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar
from uuid import UUID

import orjson

from cases.db.database import ProjectionDatabase
from cases.db.shapes import select_where, upsert
from cases.db.statement import identifier, sql
from cases.domain.customer import Customer, CustomerContact
from cases.domain.customer_values import CommunicationPreferences
from cases.domain.erasure import Erasure, SubjectKind
from cases.persistence.personal_data import ERASED
from cases.projections.projection import LIVE, PositionedEvent, Projection, TableNames
from cases.projections.rows import Conditions, as_uuid, row_reader, update_where

CUSTOMER_COLUMNS = (
    "customer_id",
    "aggregate_id",
    "display_name",
    "tenant_id",
    "primary_domain",
    "relationship",
    "indirect_provider",
    "channels",
    "webhook_url",
    "opted_out",
    "registered_at",
    "version",
    "position",
)
CONTACT_COLUMNS = (
    "contact_id",
    "customer_id",
    "role",
    "name",
    "email",
    "phone",
    "language",
    "removed",
    "version",
    "position",
)
PERSONAL = ("name", "email", "phone")

Row = dict[str, Any]

_customer_row = row_reader(
    CUSTOMER_COLUMNS,
    {"aggregate_id": as_uuid, "channels": orjson.loads, "opted_out": orjson.loads},
)
_contact_row = row_reader(CONTACT_COLUMNS, {"contact_id": as_uuid, "removed": bool})


def _preferences(preferences: CommunicationPreferences) -> Row:
    return {
        "channels": orjson.dumps([c.value for c in preferences.channels]).decode(),
        "webhook_url": preferences.webhook_url,
        "opted_out": orjson.dumps([n.value for n in preferences.opted_out]).decode(),
    }


CUSTOMER_CHANGES: dict[type[Any], Callable[[Any], Row]] = {
    Customer.Renamed: lambda e: {"display_name": e.display_name},
    Customer.TenantChanged: lambda e: {
        "tenant_id": e.tenant_id,
        "primary_domain": e.primary_domain,
    },
    Customer.RelationshipChanged: lambda e: {
        "relationship": e.relationship.value,
        "indirect_provider": e.indirect_provider,
    },
    Customer.PreferencesChanged: lambda e: _preferences(e.preferences),
    Customer.WebhookSecretSet: lambda _: {},  # the secret is not read from here
}
"""The columns each change to a registered customer sets."""


class CustomerDirectoryProjection(Projection):
    """Keeps `customers` and `customer_contacts` in step with the directory."""

    name: ClassVar[str] = "customer_directory"
    tables: ClassVar[tuple[str, ...]] = ("customers", "customer_contacts")
    handles: ClassVar[tuple[type[Any], ...]] = (
        Customer.Registered,
        *CUSTOMER_CHANGES,
        CustomerContact.Added,
        CustomerContact.Changed,
        CustomerContact.Removed,
        Erasure.SubjectErased,
    )

    def apply(
        self, db: ProjectionDatabase, events: Sequence[PositionedEvent], tables: TableNames
    ) -> None:
        customers, contacts = tables("customers"), tables("customer_contacts")
        for positioned in events:
            event, position = positioned.event, positioned.position
            version = event.originator_version
            if isinstance(event, Customer.Registered):
                row = {
                    "customer_id": event.customer_id,
                    "aggregate_id": event.originator_id,
                    "display_name": event.display_name,
                    "tenant_id": event.tenant_id,
                    "primary_domain": event.primary_domain,
                    "relationship": event.relationship.value,
                    "indirect_provider": event.indirect_provider,
                    "registered_at": event.meta.occurred_at,
                    "version": version,
                    "position": position,
                    **_preferences(event.preferences),
                }
                _upsert(db, customers, CUSTOMER_COLUMNS, ("customer_id",), row)
            elif type(event) in CUSTOMER_CHANGES:
                changes = {**CUSTOMER_CHANGES[type(event)](event), "version": version}
                _update(
                    db, customers, "aggregate_id", event.originator_id, changes, position=position
                )
            elif isinstance(event, CustomerContact.Added):
                row = {
                    "contact_id": event.originator_id,
                    "customer_id": event.customer_id,
                    "role": event.role.value,
                    "name": event.contact.name,
                    "email": event.contact.email,
                    "phone": event.contact.phone,
                    "language": event.language.value,
                    "removed": False,
                    "version": version,
                    "position": position,
                }
                _upsert(db, contacts, CONTACT_COLUMNS, ("contact_id",), row)
            elif isinstance(event, CustomerContact.Changed):
                changes = {
                    "name": event.contact.name,
                    "email": event.contact.email,
                    "phone": event.contact.phone,
                    "language": event.language.value,
                    "version": version,
                }
                _update(db, contacts, "contact_id", event.originator_id, changes, position=position)
            elif isinstance(event, CustomerContact.Removed):
                changes = {"removed": True, "version": version}
                _update(db, contacts, "contact_id", event.originator_id, changes, position=position)
            elif event.subject_kind is SubjectKind.CUSTOMER_CONTACT:  # an erasure
                changes = dict.fromkeys(PERSONAL, ERASED)
                _update(db, contacts, "contact_id", event.subject_id, changes, position=position)


def _upsert(
    db: ProjectionDatabase, table: str, columns: tuple[str, ...], keys: tuple[str, ...], row: Row
) -> None:
    db.execute(upsert(table, columns, keys), [row[c] for c in columns])


def _update(
    db: ProjectionDatabase, table: str, key: str, value: UUID, changes: Row, *, position: int
) -> None:
    """`changes` to the row whose `key` is `value`, read up to `position`."""
    where = sql("{key} = {}", key=identifier(key))
    update_where(db, table, {**changes, "position": position}, where, [value])


class CustomerDirectoryView:
    """Queries on the directory's tables."""

    def __init__(self, db: ProjectionDatabase, tables: TableNames = LIVE) -> None:
        self.db = db
        self.customers = tables("customers")
        self.contacts = tables("customer_contacts")

    def page(self, *, customer_id: str | None, after: str | None, limit: int) -> list[Row]:
        """Customers in id order after `after` (one customer, if `customer_id`)."""
        where = Conditions()
        where.add_given(sql("customer_id = {}"), customer_id)
        where.add_given(sql("customer_id > {}"), after)
        statement = select_where(
            self.customers, CUSTOMER_COLUMNS, where.all(), sql("customer_id"), limited=True
        )
        rows = self.db.fetchall(statement, [*where.params, limit])
        return [_customer_row(values) for values in rows]

    def get(self, customer_id: str) -> Row | None:
        found = self.page(customer_id=customer_id, after=None, limit=1)
        return found[0] if found else None

    def contacts_of(self, customer_id: str) -> list[Row]:
        """The customer's contacts not removed, by role and then in order added."""
        statement = select_where(
            self.contacts,
            CONTACT_COLUMNS,
            sql("customer_id = {} AND removed = {}"),
            sql("role, position"),
        )
        rows = self.db.fetchall(statement, [customer_id, False])
        return [_contact_row(values) for values in rows]
