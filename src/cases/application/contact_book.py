from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str
    language: str  # "sv" | "en"


class ContactBook(Protocol):
    def billing_contacts(self, customer_id: str) -> list[Recipient]: ...
    def technical_contacts(self, customer_id: str) -> list[Recipient]: ...
