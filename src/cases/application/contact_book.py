"""Who messages about a customer go to: the outbox asks a contact book.

The customer directory answers it (`cases.application.directory_contacts`);
the outbox depends on this protocol only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Recipient:
    """A person a message is addressed to, in the language they read."""

    name: str
    email: str
    language: str  # "sv" | "en"


class ContactBook(Protocol):
    """The customer's billing and technical contacts, as recipients."""

    def billing_contacts(self, customer_id: str) -> list[Recipient]: ...

    def technical_contacts(self, customer_id: str) -> list[Recipient]: ...
