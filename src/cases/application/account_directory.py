"""Every billing account, listed without a projection.

Opening an account also appends an `AccountListed` event to one
event-sourced log (eventsourcing's `EventSourcedLog`) in the same
`save()`, so the account and its entry are recorded atomically: there is
never an account the collection run cannot find, nor an entry without its
account. The log's versions are contiguous (the store's unique key refuses a
second writer of the same version), so its last version is also the count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import EventSourcedLog
from eventsourcing.domain import DomainEvent

from cases.domain.billing_account import BillingAccount
from cases.persistence.event_log import EventLog

DIRECTORY_ID = uuid5(NAMESPACE_URL, "cases:billing-account-directory")


@dataclass(frozen=True)
class AccountListed(DomainEvent):
    """An account was opened; its place in the directory is the event's version."""

    account_id: UUID
    customer_id: str

    def mutate(self, aggregate: None) -> None:
        """The directory is not an aggregate: loading its id finds nothing."""
        return aggregate


class AccountDirectory:
    """Appends to and pages through the log of opened accounts."""

    def __init__(self, log: EventLog, page_size: int = 1000) -> None:
        self._entries = EventSourcedLog(log.events, DIRECTORY_ID, AccountListed)
        self.page_size = page_size

    def listing(self, account: BillingAccount, recorded_at: datetime) -> AccountListed:
        """The entry to save with `account`: the next version of the log."""
        return AccountListed(
            originator_id=DIRECTORY_ID,
            originator_version=self.count() + 1,
            timestamp=recorded_at,
            account_id=account.id,
            customer_id=account.customer_id,
        )

    def count(self) -> int:
        last = self._entries.get_last()
        return 0 if last is None else last.originator_version

    def account_ids(self) -> Iterator[UUID]:
        """Every account's id, in the order opened, a page at a time."""
        after: int | None = None
        while True:
            page = list(self._entries.get(gt=after, limit=self.page_size))
            yield from (entry.account_id for entry in page)
            if len(page) < self.page_size:
                return
            after = page[-1].originator_version
