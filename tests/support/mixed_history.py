"""A support history and a billing history on one timeline, recorded in bulk.

The support desk's cases (`SupportHistory`) and the billing accounts' lives
(`BillingHistory` on `BulkBooks`) share one `BulkWriter`: before the billing
history records at a moment, the support history records every step that
comes before it, so the log holds both in time order, as a partner's busy
service would record them. For the catch-up benchmark and the tests that
compare catch-ups over every projection.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from cases.clock import ManualClock
from tests.support.billing_history import BillingHistory, BulkBooks
from tests.support.history import BulkWriter, SupportHistory


class MixedHistory:
    """`support` and a billing history of `accounts` accounts, from the same start."""

    def __init__(self, writer: BulkWriter, support: SupportHistory, *, accounts: int) -> None:
        self.writer = writer
        self.support = support
        clock = ManualClock(support.start)
        self.billing = BillingHistory(
            BulkBooks(writer, clock),
            clock,
            seed=2,
            accounts=accounts,
            start=support.start,
            second_policy_after=timedelta(days=365),
        )
        self.billing.before = lambda moment: support.record_until(writer, moment)
        support.record_until(writer, support.start)  # the support offering first

    def record(self, events: int, progress: Callable[[int], object] | None = None) -> int:
        """Record whole days until the log holds at least `events` events (of any
        aggregate); return how many it holds."""
        while self.writer.recorded < events:
            self.billing.record_days(1)
            if progress is not None:
                progress(self.writer.recorded)
        self.writer.flush()
        return self.writer.recorded
