from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cases.domain.customer_values import CommunicationPreferences


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str
    language: str  # "sv" | "en"


class ContactBook(Protocol):
    def billing_contacts(self, customer_id: str) -> list[Recipient]: ...
    def technical_contacts(self, customer_id: str) -> list[Recipient]: ...

    def preferences(self, customer_id: str) -> CommunicationPreferences:
        """How the customer wants to hear from the partner: the optional notices it
        declines and its channels (the defaults, e-mail and nothing declined, for a
        customer the book does not know)."""
        ...
