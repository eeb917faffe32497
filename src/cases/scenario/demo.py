"""The demo's whole story: two months of billing, then a fortnight of support."""

from __future__ import annotations

from dataclasses import dataclass

from cases.bootstrap import Services
from cases.clock import ManualClock
from cases.scenario.billing import BillingResult, BillingScenario
from cases.scenario.customers import register_customers
from cases.scenario.support import ScenarioResult, SupportScenario


@dataclass
class DemoStory:
    billing: BillingResult
    support: ScenarioResult


def run_demo(services: Services, clock: ManualClock, vendor_name: str) -> DemoStory:
    """Register the customers, then run both scenarios; on a store that has run
    them before, under new customer ids."""
    earlier_runs = services.billing.account_count() // 4
    suffix = f"-{earlier_runs + 1}" if earlier_runs else ""
    register_customers(services, suffix)
    billing = BillingScenario(services, clock, suffix).run()
    support = SupportScenario(services, clock, vendor_name, suffix).run()
    BillingScenario(services, clock, suffix).link_billing_case(
        billing.accounts["northwind"], support.cases["northwind-invoice"]
    )
    return DemoStory(billing, support)
