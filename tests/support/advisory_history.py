"""A few imported advisories for a recorded history, as the import records them."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from cases.application.advisory_sync import import_caller
from cases.bootstrap import Services
from cases.domain.advisory import Advisory
from cases.vendor.graph import issue_facts
from tests.support.vendor_server import issue


def import_advisories(services: Services, count: int = 5) -> None:
    """`count` advisories, every other one revised and resolved."""
    now = services.clock.now()
    ctx = import_caller().context(now)
    for n in range(count):
        facts = issue_facts(issue(f"EX{300_000 + n}", now - timedelta(hours=n + 1)))
        advisory = Advisory.import_first(ctx, facts)
        if n % 2:
            resolved = replace(
                facts, status="serviceRestored", is_resolved=True, last_modified_at=now
            )
            advisory.import_version(ctx, resolved)
        services.runner.record_together(advisory)
