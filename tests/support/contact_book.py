"""A contact book of fixed recipients, for tests (the customer directory's stand-in)."""

from __future__ import annotations

from collections.abc import Mapping

from cases.application.contact_book import Recipient


class FixedContactBook:
    """Billing and technical contacts by customer id; an unknown customer has none."""

    def __init__(
        self,
        billing: Mapping[str, list[Recipient]],
        technical: Mapping[str, list[Recipient]] | None = None,
    ) -> None:
        self.billing = dict(billing)
        self.technical = dict(technical or {})

    def billing_contacts(self, customer_id: str) -> list[Recipient]:
        return list(self.billing.get(customer_id, []))

    def technical_contacts(self, customer_id: str) -> list[Recipient]:
        return list(self.technical.get(customer_id, []))
