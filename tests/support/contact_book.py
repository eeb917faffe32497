"""A contact book of fixed recipients, for tests (the customer directory's stand-in)."""

from __future__ import annotations

from collections.abc import Mapping

from cases.application.contact_book import Recipient
from cases.domain.customer_values import CommunicationPreferences


class FixedContactBook:
    """Billing and technical contacts and preferences by customer id; an unknown
    customer has no contacts and the default preferences."""

    def __init__(
        self,
        billing: Mapping[str, list[Recipient]],
        technical: Mapping[str, list[Recipient]] | None = None,
        preferences: Mapping[str, CommunicationPreferences] | None = None,
    ) -> None:
        self.billing = dict(billing)
        self.technical = dict(technical or {})
        self.chosen = dict(preferences or {})

    def billing_contacts(self, customer_id: str) -> list[Recipient]:
        return list(self.billing.get(customer_id, []))

    def technical_contacts(self, customer_id: str) -> list[Recipient]:
        return list(self.technical.get(customer_id, []))

    def preferences(self, customer_id: str) -> CommunicationPreferences:
        return self.chosen.get(customer_id, CommunicationPreferences())
