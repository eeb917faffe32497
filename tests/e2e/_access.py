"""Who may call what: the expected route-by-role table, and the operations of the
service's own OpenAPI document to hold it against.

A new route fails the completeness test until it is added to EXPECTED, so every
operation's roles are decided on purpose, not inherited by accident.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

HELPDESK = "helpdesk_agent"
BILLING = "billing_admin"
SALES = "sales_agent"
USERS = "user_management_admin"
AUDITOR = "auditor"
CUSTOMER = "customer"
OPERATOR = "operator"
ROLES = (HELPDESK, BILLING, SALES, USERS, AUDITOR, CUSTOMER, OPERATOR)

PUBLIC = None  # no token needed
EVERYONE = frozenset(ROLES)
OPENS_CASES = frozenset({HELPDESK, SALES, CUSTOMER})
READS_CASES = frozenset({HELPDESK, BILLING, SALES, AUDITOR, CUSTOMER})
READS_HISTORY = frozenset({HELPDESK, BILLING, AUDITOR})
# billing admins and sales agents pass the role check; the case's category is
# judged on the case (409 category-not-worked-by-role)
WORKS_CASES = frozenset({HELPDESK, BILLING, SALES})
MANAGES_PRINCIPALS = frozenset({USERS})
READS_ACCOUNTS = frozenset({HELPDESK, BILLING, SALES, AUDITOR, CUSTOMER})
MANAGES_BILLING = frozenset({BILLING})
MANAGES_SUBSCRIPTIONS = frozenset({BILLING, SALES})
RUNS_COLLECTION = frozenset({BILLING})
READS_TERMS = EVERYONE
PUBLISHES_TERMS = frozenset({USERS})
PUBLISHES_COLLECTION_POLICY = frozenset({BILLING})
READS_REPORTS = frozenset({AUDITOR})
MANAGES_PERSONAL_DATA = frozenset({USERS})
READS_CUSTOMERS = frozenset({HELPDESK, BILLING, SALES, AUDITOR, CUSTOMER})
MANAGES_CUSTOMERS = frozenset({BILLING, SALES})
OPERATES_OUTBOX = frozenset({OPERATOR})

EXPECTED: dict[str, frozenset[str] | None] = {
    # health and problems
    "health": PUBLIC,
    "ready": PUBLIC,
    "explain_problem": PUBLIC,
    # principals
    "who_am_i": EVERYONE,
    "create_principal": MANAGES_PRINCIPALS,
    "list_principals": MANAGES_PRINCIPALS,
    "get_principal": MANAGES_PRINCIPALS,
    "revoke_principal": MANAGES_PRINCIPALS,
    # support cases
    "receive_case": OPENS_CASES,
    "list_cases": READS_CASES,
    "get_case": READS_CASES,
    "get_case_state": READS_HISTORY,
    "get_case_history": READS_HISTORY,
    "check_service_health": WORKS_CASES,
    "list_case_advisories": WORKS_CASES,
    "open_vendor_request": WORKS_CASES,
    "record_diagnosis": WORKS_CASES,
    "record_communication": WORKS_CASES,
    "wait_on_customer": WORKS_CASES,
    "stop_waiting_on_customer": WORKS_CASES,
    "assign_case": WORKS_CASES,
    "change_severity": WORKS_CASES,
    "escalate_case": WORKS_CASES,
    "record_vendor_reference": WORKS_CASES,
    "record_vendor_update": WORKS_CASES,
    "record_hand_back": WORKS_CASES,
    "resolve_case": WORKS_CASES,
    "close_case": WORKS_CASES,
    "reopen_case": WORKS_CASES,
    "add_note": WORKS_CASES,
    "link_billing_account": WORKS_CASES,
    # the customer directory (ADR 48): a customer reads its own record only
    "register_customer": MANAGES_CUSTOMERS,
    "list_customers": READS_CUSTOMERS,
    "get_customer": READS_CUSTOMERS,
    "rename_customer": MANAGES_CUSTOMERS,
    "change_tenant": MANAGES_CUSTOMERS,
    "change_relationship": MANAGES_CUSTOMERS,
    "change_preferences": MANAGES_CUSTOMERS,
    "set_webhook_secret": MANAGES_CUSTOMERS,
    "add_contact": MANAGES_CUSTOMERS,
    "change_contact": MANAGES_CUSTOMERS,
    "remove_contact": MANAGES_CUSTOMERS,
    # billing accounts, receivables and collection
    "open_account": MANAGES_BILLING,
    "list_accounts": READS_ACCOUNTS,
    "get_account": READS_ACCOUNTS,
    "list_account_invoices": READS_ACCOUNTS,
    "get_account_state": READS_HISTORY,
    "get_account_history": READS_HISTORY,
    "add_subscription": MANAGES_SUBSCRIPTIONS,
    "change_subscription_quantity": MANAGES_SUBSCRIPTIONS,
    "cancel_subscription": MANAGES_SUBSCRIPTIONS,
    "record_prepayment": MANAGES_BILLING,
    "issue_invoice": MANAGES_BILLING,
    "invoice_subscriptions": MANAGES_BILLING,
    "receive_payment": MANAGES_BILLING,
    "issue_credit_note": MANAGES_BILLING,
    "write_off": MANAGES_BILLING,
    "open_dispute": MANAGES_BILLING,
    "close_dispute": MANAGES_BILLING,
    "suspend_access": MANAGES_BILLING,  # manage_access: billing admins only (ADR 47)
    "reinstate_access": MANAGES_BILLING,
    "hold_collection": MANAGES_BILLING,  # hold_collection: billing admins only
    "evaluate_account": RUNS_COLLECTION,
    "run_collection": RUNS_COLLECTION,
    # a customer passes the role check but is answered 404: no such report for it
    "get_receivables_aging": READS_ACCOUNTS,
    # compliance reports: over every customer, so never a customer's (403)
    "get_compliance_report": READS_REPORTS,
    # registers (case timeline, escalation register)
    "get_case_timeline": READS_HISTORY,
    "list_escalations": READS_HISTORY,
    "count_escalations": READS_HISTORY,
    # auditor replay
    "replay_case": READS_HISTORY,
    "replay_account": READS_HISTORY,
    # the audit log: checkpoints and proofs (ADR 43), for whoever reads histories
    "latest_checkpoint": READS_HISTORY,
    "checkpoint_at_size": READS_HISTORY,
    "inclusion_proof": READS_HISTORY,
    "consistency_proof": READS_HISTORY,
    "case_history_proofs": READS_HISTORY,
    "account_history_proofs": READS_HISTORY,
    # personal data: find, export, erase a data subject (ADR 44)
    "find_subjects": MANAGES_PERSONAL_DATA,
    "export_subject": MANAGES_PERSONAL_DATA,
    "erase_subject": MANAGES_PERSONAL_DATA,
    # the support offering and the collection policy
    "get_terms_in_force": READS_TERMS,
    "get_terms_version": READS_TERMS,
    "publish_terms": PUBLISHES_TERMS,
    "get_collection_policy": READS_TERMS,
    "get_collection_policy_version": READS_TERMS,
    "publish_collection_policy": PUBLISHES_COLLECTION_POLICY,
    # the outbox: its states, messages and dead letters (ADR 50)
    "get_outbox_status": OPERATES_OUTBOX,
    "list_outbox_messages": OPERATES_OUTBOX,
    "retry_outbox_message": OPERATES_OUTBOX,
}


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of the OpenAPI document."""

    operation_id: str
    method: str
    path: str
    path_params: tuple[str, ...]

    def url(self, **known: str) -> str:
        """The path with its parameters filled: known ones, else a fresh UUID."""
        values = {name: known.get(name, str(uuid4())) for name in self.path_params}
        return self.path.format(**values)


def operations(openapi: dict[str, Any]) -> list[Operation]:
    """Every operation of the document, in its order."""
    found = []
    for path, item in openapi["paths"].items():
        for method, spec in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            params = tuple(p["name"] for p in spec.get("parameters", []) if p.get("in") == "path")
            found.append(Operation(spec["operationId"], method.upper(), path, params))
    return found


def allowed_roles(operation_id: str) -> frozenset[str] | None:
    """The roles that may call the operation (None: anyone, without a token)."""
    return EXPECTED[operation_id]
