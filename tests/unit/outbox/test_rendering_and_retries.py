"""The outbox's pure parts: templates per language, stable ids, backoff bounds, and
an outcome recorded once per message on its aggregate."""

from __future__ import annotations

import random
from datetime import date, timedelta
from uuid import uuid4

import pytest
from jinja2 import UndefinedError

from cases.domain.billing_values import InvoiceDue, InvoicePeriod
from cases.domain.deliveries import Delivery, DeliveryHistory, DeliveryOutcome
from cases.domain.money import Money
from cases.outbox.messages import message_id
from cases.outbox.rendering import render
from cases.outbox.worker import LONGEST_WAIT, Retries

MARCH = InvoicePeriod(date(2026, 3, 1), date(2026, 3, 31))


def reminder(language: str) -> tuple[str, str]:
    rendered = render(
        "reminder",
        language,
        kind="final_warning",
        recipient_name="Eva",
        partner="Partner AB",
        invoice_number="INV-1",
        due_on=date(2026, 4, 1),
        amount_due=Money.of("100.00", "SEK"),
        overdue_total=Money.of("150.00", "SEK"),
        period=MARCH,
        overdue_invoices=(
            InvoiceDue(
                "INV-0",
                InvoicePeriod(date(2026, 2, 1), date(2026, 2, 28)),
                date(2026, 3, 1),
                Money.of("50.00", "SEK"),
            ),
            InvoiceDue("INV-1", MARCH, date(2026, 4, 1), Money.of("100.00", "SEK")),
        ),
        policy_text="Days are counted from the due date.",
    )
    return rendered.subject, rendered.body


class TestTemplates:
    def test_a_final_warning_lists_every_overdue_invoice_in_swedish(self) -> None:
        """The subject names the notice and invoice; the body the period, each
        overdue invoice with its period, due date and amount, the total and the
        policy's own text."""
        subject, body = reminder("sv")
        assert subject == "Sista varning: åtkomsten kan stängas av, faktura INV-1"
        assert "Faktureringsperiod: 2026-03-01 till 2026-03-31." in body
        assert "- INV-0 för 2026-02-01 till 2026-02-28, förföll 2026-03-01: 50.00 SEK" in body
        assert "Totalt förfallet: 150.00 SEK" in body
        assert body.rstrip().endswith("Partner AB")

    def test_an_unknown_language_falls_back_to_english(self) -> None:
        """A language with no templates gets the English ones."""
        assert reminder("de") == reminder("en")

    def test_a_missing_value_is_an_error_not_a_blank(self) -> None:
        """StrictUndefined: a template never sends a notice with a hole in it."""
        with pytest.raises(UndefinedError):
            render("case_communication", "en", recipient_name="Karin", partner="P", title="T")


class TestIdsAndRetries:
    def test_a_message_id_depends_on_the_event_and_recipient_only(self) -> None:
        """Stable across derivations; the address's case does not matter."""
        assert message_id("a:3", "X@example.com") == message_id("a:3", "x@example.com")
        assert message_id("a:3", "x@example.com") != message_id("a:4", "x@example.com")

    @pytest.mark.parametrize("attempts", [1, 2, 5, 12, 40])
    def test_the_wait_doubles_with_jitter_and_is_bounded(self, attempts: int) -> None:
        """Between half and all of first * 2^(attempts-1), never over an hour."""
        retries = Retries(period=timedelta(hours=24), first=timedelta(seconds=30))
        full = min(timedelta(seconds=30) * 2 ** (attempts - 1), LONGEST_WAIT)
        waits = [retries.wait(attempts, random.Random(seed)) for seed in range(50)]  # noqa: S311
        assert all(full / 2 <= w <= full for w in waits)
        assert len(set(waits)) > 1


class TestDeliveryHistory:
    def test_each_outcome_of_a_message_is_kept_once(self) -> None:
        """Delivered after deferred is new; delivered again is not."""
        history = DeliveryHistory()
        first = uuid4()

        def delivery(outcome: DeliveryOutcome) -> Delivery:
            return Delivery(first, "overdue_reminder", "email", "a@b.example", outcome, 1, "")

        history.recorded(delivery(DeliveryOutcome.DEFERRED))
        assert not history.has_recorded(delivery(DeliveryOutcome.DELIVERED))
        history.recorded(delivery(DeliveryOutcome.DELIVERED))
        assert history.has_recorded(delivery(DeliveryOutcome.DELIVERED))
