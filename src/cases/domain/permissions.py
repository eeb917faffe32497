"""What each role may do (from the vendor's delegated-admin role guidance)."""

from __future__ import annotations

from enum import StrEnum

from cases.domain.case_values import CaseCategory
from cases.domain.metadata import Role


class Permission(StrEnum):
    OPEN_CASES = "open_cases"
    READ_CASES = "read_cases"
    WORK_CASES = "work_cases"
    READ_ACCOUNTS = "read_accounts"
    MANAGE_BILLING = "manage_billing"
    MANAGE_SUBSCRIPTIONS = "manage_subscriptions"
    RUN_COLLECTION = "run_collection"
    MANAGE_ACCESS = "manage_access"  # suspend and reinstate by hand
    HOLD_COLLECTION = "hold_collection"  # a payment promise
    READ_CUSTOMERS = "read_customers"  # a customer: its own record only
    MANAGE_CUSTOMERS = "manage_customers"  # the directory: customers and contacts
    READ_TERMS = "read_terms"
    PUBLISH_TERMS = "publish_terms"
    PUBLISH_COLLECTION_POLICY = "publish_collection_policy"
    READ_HISTORY = "read_history"
    READ_REPORTS = "read_reports"
    MANAGE_PRINCIPALS = "manage_principals"
    # Find, export and erase a data subject's personal data (ADR 0044).
    MANAGE_PERSONAL_DATA = "manage_personal_data"
    # See the outbox, its dead letters, and queue a dead letter again (ADR 50).
    OPERATE_OUTBOX = "operate_outbox"
    # Date an act further back than the backdating allowance (ADR 32): only the
    # system role, e.g. an import of history; no principal is given it.
    RECORD_LATE_FACTS = "record_late_facts"


P = Permission

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.HELPDESK_AGENT: frozenset(
        {
            P.OPEN_CASES,
            P.READ_CASES,
            P.WORK_CASES,
            P.READ_ACCOUNTS,
            P.READ_CUSTOMERS,
            P.READ_TERMS,
            P.READ_HISTORY,
        }
    ),
    Role.BILLING_ADMIN: frozenset(
        {
            P.READ_CASES,
            P.WORK_CASES,  # billing cases only: CASES_WORKED
            P.READ_ACCOUNTS,
            P.READ_CUSTOMERS,
            P.MANAGE_CUSTOMERS,  # billing contacts
            P.MANAGE_BILLING,
            P.MANAGE_SUBSCRIPTIONS,
            P.RUN_COLLECTION,
            P.MANAGE_ACCESS,
            P.HOLD_COLLECTION,
            P.READ_TERMS,
            P.PUBLISH_COLLECTION_POLICY,
            P.READ_HISTORY,
        }
    ),
    Role.SALES_AGENT: frozenset(
        {
            P.OPEN_CASES,
            P.READ_CASES,
            P.WORK_CASES,  # purchase and subscription cases only: CASES_WORKED
            P.READ_ACCOUNTS,
            P.READ_CUSTOMERS,
            P.MANAGE_CUSTOMERS,  # "customers and subscription changes"
            P.MANAGE_SUBSCRIPTIONS,
            P.READ_TERMS,
        }
    ),
    Role.USER_MANAGEMENT_ADMIN: frozenset(
        {P.MANAGE_PRINCIPALS, P.MANAGE_PERSONAL_DATA, P.READ_TERMS, P.PUBLISH_TERMS}
    ),
    Role.AUDITOR: frozenset(
        {
            P.READ_CASES,
            P.READ_ACCOUNTS,
            P.READ_CUSTOMERS,
            P.READ_TERMS,
            P.READ_HISTORY,
            P.READ_REPORTS,
        }
    ),
    Role.CUSTOMER: frozenset(
        {P.OPEN_CASES, P.READ_CASES, P.READ_ACCOUNTS, P.READ_CUSTOMERS, P.READ_TERMS}
    ),
    Role.OPERATOR: frozenset({P.OPERATE_OUTBOX, P.READ_TERMS}),
    Role.SYSTEM: frozenset(Permission),
}


CASES_WORKED: dict[Role, frozenset[CaseCategory]] = {
    # "Billing admins work billing cases; sales agents work purchase and
    # subscription cases; helpdesk agents work all" (DOMAIN.md). A purchase is
    # a commercial case.
    Role.BILLING_ADMIN: frozenset({CaseCategory.BILLING}),
    Role.SALES_AGENT: frozenset({CaseCategory.SUBSCRIPTION, CaseCategory.COMMERCIAL}),
}
"""The categories of case a role with `WORK_CASES` is limited to (absent: all)."""


def allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def works_category(role: Role, category: CaseCategory) -> bool:
    """Whether `role` may work a case of `category` (given it may work cases)."""
    limited = CASES_WORKED.get(role)
    return limited is None or category in limited
