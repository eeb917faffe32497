"""The contact book the outbox reads, answered from the customer directory."""

from __future__ import annotations

from collections.abc import Callable

from cases.application.contact_book import ContactBook, Recipient
from cases.application.customer_directory import CustomerDirectory
from cases.domain.customer_values import CommunicationPreferences, ContactRole
from cases.persistence.personal_data import ERASED

# The fallback book's list that answers for each role.
FALLBACK_LISTS: dict[ContactRole, Callable[[ContactBook, str], list[Recipient]]] = {
    ContactRole.BILLING: lambda book, customer_id: book.billing_contacts(customer_id),
    ContactRole.TECHNICAL: lambda book, customer_id: book.technical_contacts(customer_id),
}


class DirectoryContactBook:
    """`ContactBook` over the directory's aggregates (never behind a read model).

    A contact with no e-mail address, or one erased (its address reads as the
    placeholder), is no recipient. A customer the directory does not hold (a bare
    id recorded before it, ADR 48) is answered by `fallback`, if given.
    """

    def __init__(self, directory: CustomerDirectory, fallback: ContactBook | None = None) -> None:
        self.directory = directory
        self.fallback = fallback

    def billing_contacts(self, customer_id: str) -> list[Recipient]:
        return self._recipients(customer_id, ContactRole.BILLING)

    def technical_contacts(self, customer_id: str) -> list[Recipient]:
        return self._recipients(customer_id, ContactRole.TECHNICAL)

    def preferences(self, customer_id: str) -> CommunicationPreferences:
        customer = self.directory.find(customer_id)
        if customer is not None:
            return customer.preferences
        if self.fallback is not None:
            return self.fallback.preferences(customer_id)
        return CommunicationPreferences()

    def _recipients(self, customer_id: str, role: ContactRole) -> list[Recipient]:
        """The customer's reachable contacts in `role`, the customer loaded once."""
        customer = self.directory.find(customer_id)
        if customer is None:
            if self.fallback is None:
                return []
            return FALLBACK_LISTS[role](self.fallback, customer_id)
        recipients = []
        for person in self.directory.listed_contacts(customer, role):
            email = person.contact.email
            if person.removed or email is None or email == ERASED:
                continue
            recipients.append(Recipient(person.contact.name, email, person.language.value))
        return recipients
