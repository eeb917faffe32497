"""Domain errors: one class per broken rule.

Each error has a stable `rule` slug (the API turns it into the problem
`type`) and a message saying what was refused and why. A command that raises
one of these has recorded nothing.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """Raised when a command breaks a business rule; nothing is recorded."""

    rule: ClassVar[str] = "domain-rule"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidMetadataError(DomainError):
    """Raised when the audit metadata of a command is incomplete or inconsistent."""

    rule = "invalid-metadata"


class InvalidValueError(DomainError):
    """Raised when a value object is built from a value the domain does not accept."""

    rule = "invalid-value"


class NotFoundError(DomainError):
    """Raised when a case, account or offering does not exist (or is not visible)."""

    rule = "not-found"


class AlreadyExistsError(DomainError):
    """Raised when creating an aggregate under an id that is already taken."""

    rule = "already-exists"


class ConcurrentChangeError(DomainError):
    """Raised when another command changed the aggregate first; retry on fresh state."""

    rule = "concurrent-change"


class VersionMismatchError(DomainError):
    """Raised when a command expected a version the aggregate no longer has."""

    rule = "version-mismatch"


class CurrencyMismatchError(DomainError):
    """Raised when amounts in different currencies are combined."""

    rule = "currency-mismatch"


# Support offering ---------------------------------------------------------


class NoTermsInForceError(DomainError):
    """Raised when no published support terms were in force at the given moment."""

    rule = "no-terms-in-force"


class RetroactiveTermsError(DomainError):
    """Raised when new terms would take effect before they are published or before
    the terms already in force."""

    rule = "retroactive-terms"


# Support case -------------------------------------------------------------


class CaseClosedError(DomainError):
    """Raised when a closed case is asked to change in any way but reopening."""

    rule = "case-closed"


class CaseResolvedError(DomainError):
    """Raised when a resolved case is asked for work that needs it reopened first."""

    rule = "case-resolved"


class CaseNotResolvedError(DomainError):
    """Raised when closing or reopening a case that has not been resolved."""

    rule = "case-not-resolved"


class ReopenWindowExpiredError(DomainError):
    """Raised when a closed case is reopened after the window its terms allow."""

    rule = "reopen-window-expired"


class ServiceHealthNotCheckedError(DomainError):
    """Raised when diagnosing, escalating or resolving a technical case before the
    vendor's service health was checked."""

    rule = "service-health-not-checked"


class OccurredBeforeReceiptError(DomainError):
    """Raised when something is said to have happened to a case before it was
    received."""

    rule = "occurred-before-receipt"


class ReceivedInFutureError(DomainError):
    """Raised when a request is said to have been received after it was recorded."""

    rule = "received-in-future"


class EscalationCategoryNotAcceptedError(DomainError):
    """Raised when escalating a kind of problem the vendor does not take."""

    rule = "escalation-category-not-accepted"


class VehicleNotHeldError(DomainError):
    """Raised when escalating through a technical support vehicle the partner does
    not hold."""

    rule = "vehicle-not-held"


class VehicleDoesNotFitCategoryError(DomainError):
    """Raised when a commercial problem goes to a technical vehicle or the reverse."""

    rule = "vehicle-does-not-fit-category"


class ProblemIsDocumentedError(DomainError):
    """Raised when escalating as undocumented a problem that matched a vendor
    advisory."""

    rule = "problem-is-documented"


class IndirectProviderFirstError(DomainError):
    """Raised when an indirect reseller escalates to the vendor before its indirect
    provider."""

    rule = "indirect-provider-first"


class NoIndirectProviderError(DomainError):
    """Raised when a direct-bill partner escalates to an indirect provider it does
    not have."""

    rule = "no-indirect-provider"


class CategoryNotWorkedByRoleError(DomainError):
    """Raised when a role works a case outside its categories (a billing admin a
    non-billing case, a sales agent a case that is not a purchase or subscription)."""

    rule = "category-not-worked-by-role"


class EscalationAlreadyOpenError(DomainError):
    """Raised when escalating a case whose previous escalation is not handed back."""

    rule = "escalation-already-open"


class NoOpenEscalationError(DomainError):
    """Raised when recording vendor news on a case with no open escalation."""

    rule = "no-open-escalation"


class VendorReferenceAlreadyRecordedError(DomainError):
    """Raised when an escalation already has the vendor's reference."""

    rule = "vendor-reference-already-recorded"


class EscalationStillOpenError(DomainError):
    """Raised when resolving a case whose escalation the vendor has not handed back."""

    rule = "escalation-still-open"


class CaseAlreadyResolvedError(DomainError):
    """Raised when resolving a case that is already resolved."""

    rule = "case-already-resolved"


class AlreadyAssignedError(DomainError):
    """Raised when assigning a case to the agent it is already assigned to."""

    rule = "already-assigned"


class SeverityUnchangedError(DomainError):
    """Raised when changing a case's severity to the one it already has."""

    rule = "severity-unchanged"


class AlreadyWaitingOnCustomerError(DomainError):
    """Raised when a case already waiting on the customer is set waiting again."""

    rule = "already-waiting-on-customer"


class NotWaitingOnCustomerError(DomainError):
    """Raised when ending a wait on the customer that is not under way."""

    rule = "not-waiting-on-customer"


class NotABillingCaseError(DomainError):
    """Raised when linking a billing account to a case that is not about billing."""

    rule = "not-a-billing-case"


class AlreadyLinkedError(DomainError):
    """Raised when a case is already linked to that billing account."""

    rule = "already-linked"


# When facts happened (ADR 32) ---------------------------------------------


class OccurredBeforePreviousStepError(DomainError):
    """Raised when an act on a case is dated before the step it follows (the
    latest act that set the case's course)."""

    rule = "occurred-before-previous-step"


class BackdatedBeyondAllowanceError(DomainError):
    """Raised when an act is dated further back than the allowance for logging late,
    by a role that may not record late facts."""

    rule = "backdated-beyond-allowance"


class CustomerCannotDateActsError(DomainError):
    """Raised when a customer says when its act happened: a customer's acts happen
    when they are recorded."""

    rule = "customer-cannot-date-acts"


class DatedBeforeAccountHistoryError(DomainError):
    """Raised when an invoice or a payment is dated more than a year before its
    billing account was opened (further back than the history it carries over)."""

    rule = "dated-before-account-history"


class InvoiceInFutureError(DomainError):
    """Raised when an invoice is said to be issued on a day that has not come."""

    rule = "invoice-in-future"


# Principals ---------------------------------------------------------------


class PrincipalRevokedError(DomainError):
    """Raised when revoking a principal that is already revoked."""

    rule = "principal-revoked"


class RoleBindingError(DomainError):
    """Raised when a customer principal has no customer, or a staff one has one."""

    rule = "role-binding"


# Billing account ----------------------------------------------------------


class CustomerAlreadyHasAccountError(DomainError):
    """Raised when opening a billing account for a customer who already has one."""

    rule = "customer-already-has-account"


class NonPositiveAmountError(DomainError):
    """Raised when an invoice, payment, credit note or write-off is not above zero."""

    rule = "amount-not-positive"


class UnknownInvoiceError(DomainError):
    """Raised when a command names an invoice the account never issued."""

    rule = "unknown-invoice"


class DuplicateInvoiceNumberError(DomainError):
    """Raised when issuing an invoice under a number the account already used."""

    rule = "duplicate-invoice-number"


class DueBeforeIssueError(DomainError):
    """Raised when an invoice would fall due before the day it is issued."""

    rule = "due-before-issue"


class DuplicatePaymentError(DomainError):
    """Raised when a payment's reference was already received on the account."""

    rule = "duplicate-payment"


class PaymentInFutureError(DomainError):
    """Raised when a payment is said to be received on a day that has not come."""

    rule = "payment-in-future"


class DuplicateCreditNoteError(DomainError):
    """Raised when issuing a credit note under a number the account already used."""

    rule = "duplicate-credit-note"


class CreditExceedsInvoiceError(DomainError):
    """Raised when a credit note would take off more than is left of its invoice."""

    rule = "credit-exceeds-invoice"


class WriteOffExceedsOutstandingError(DomainError):
    """Raised when writing off more than an invoice still has outstanding."""

    rule = "write-off-exceeds-outstanding"


class InvoiceSettledError(DomainError):
    """Raised when disputing or writing off an invoice that has nothing outstanding."""

    rule = "invoice-settled"


class DisputeAlreadyOpenError(DomainError):
    """Raised when disputing an invoice whose dispute is still open."""

    rule = "dispute-already-open"


class NoOpenDisputeError(DomainError):
    """Raised when closing a dispute on an invoice that has none open."""

    rule = "no-open-dispute"


class UnknownSubscriptionError(DomainError):
    """Raised when a command names a subscription the account does not have."""

    rule = "unknown-subscription"


class DuplicateSubscriptionError(DomainError):
    """Raised when adding a subscription id the account already has."""

    rule = "duplicate-subscription"


class AccessAlreadySuspendedError(DomainError):
    """Raised when a subscription to suspend by hand is suspended already."""

    rule = "access-already-suspended"


class AccessNotSuspendedError(DomainError):
    """Raised when a subscription to reinstate by hand is not suspended."""

    rule = "access-not-suspended"


class SameQuantityError(DomainError):
    """Raised when a subscription's quantity would change to what it already is."""

    rule = "same-quantity"


class SubscriptionSuspendedError(DomainError):
    """Raised when changing the quantity of a suspended subscription."""

    rule = "subscription-suspended"


class SubscriptionCancelledError(DomainError):
    """Raised when changing, suspending, reinstating or cancelling a cancelled subscription."""

    rule = "subscription-cancelled"


class NothingToInvoiceError(DomainError):
    """Raised when every subscription priced for a period is cancelled before it starts."""

    rule = "nothing-to-invoice"


class CancellationInPastError(DomainError):
    """Raised when a cancellation would take effect before the day it is recorded."""

    rule = "cancellation-in-past"


class HoldInPastError(DomainError):
    """Raised when a collection hold would end before the day it is recorded."""

    rule = "hold-in-past"


class PrepaymentNotLaterError(DomainError):
    """Raised when a prepayment would not extend a subscription's paid-through day."""

    rule = "prepayment-not-later"


class CaseAlreadyLinkedToAccountError(DomainError):
    """Raised when the account already shows a link to that support case."""

    rule = "case-already-linked-to-account"


class CustomerMismatchError(DomainError):
    """Raised when linking a support case to another customer's billing account."""

    rule = "customer-mismatch"


class EvaluationInFutureError(DomainError):
    """Raised when collection is asked to evaluate an account at a moment not yet
    come."""

    rule = "evaluation-in-future"


# Collection policy -----------------------------------------------------------


class NoCollectionPolicyError(DomainError):
    """Raised when no collection policy version was in force at the given moment."""

    rule = "no-collection-policy"


class RetroactivePolicyError(DomainError):
    """Raised when a collection policy version would take effect before it is
    published or before the version already in force."""

    rule = "retroactive-policy"


class EmptyCollectionPolicyError(DomainError):
    """Raised when a collection policy version has no stages."""

    rule = "empty-collection-policy"


class StagesOutOfOrderError(DomainError):
    """Raised when a policy's stages are not in strictly increasing order of days."""

    rule = "stages-out-of-order"


class StageTimingError(DomainError):
    """Raised when a reminder of an upcoming payment comes after the due date, or
    any other stage on or before it."""

    rule = "stage-timing"


class SuspensionWithoutWarningError(DomainError):
    """Raised when a policy suspends access without a final warning before it."""

    rule = "suspension-without-warning"


class UnknownSubjectError(NotFoundError):
    """Raised when no personal data was ever stored for a subject id (ADR 0044)."""

    rule = "unknown-subject"


class RecordedBeforeSealingError(DomainError):
    """Raised when erasing a subject whose personal data was all recorded before a
    master key was set: it is stored as it is, with no key to throw away (ADR 0056)."""

    rule = "recorded-before-sealing"


class PersonalDataNotSealedError(DomainError):
    """Raised when erasing while no master key is set: personal data is stored as it
    is and cannot be erased by throwing a key away (ADR 0044)."""

    rule = "personal-data-not-sealed"


class AdvisoryNotImportedError(NotFoundError):
    """Raised when a service-health check names an advisory the import has not
    recorded (run `cases advisories sync`, or describe the advisory instead)."""

    rule = "advisory-not-imported"


class AdvisoryNamedTwiceError(InvalidValueError):
    """Raised when a service-health check both names an imported advisory and
    describes one: it matches one advisory, named one way."""

    rule = "advisory-named-twice"


class NotEscalatedToVendorError(DomainError):
    """Raised when opening a vendor support request for an escalation that went
    to the indirect provider."""

    rule = "not-escalated-to-vendor"


# Customer directory ---------------------------------------------------------


class UnknownCustomerError(DomainError):
    """Raised when a case or account names a customer the directory does not hold."""

    rule = "unknown-customer"


class CustomerAlreadyRegisteredError(DomainError):
    """Raised when registering a customer id the directory already holds."""

    rule = "customer-already-registered"


class IndirectProviderNotNamedError(DomainError):
    """Raised when an indirect reseller's customer names no indirect provider, or a
    direct-bill customer names one."""

    rule = "indirect-provider-not-named"


class PreferencesUnchangedError(DomainError):
    """Raised when changing a customer's preferences to what they already are."""

    rule = "preferences-unchanged"


class CustomerUnchangedError(DomainError):
    """Raised when changing a customer's name, tenant or relationship to what it already is."""

    rule = "customer-unchanged"


class WebhookSecretNotSealableError(DomainError):
    """Raised when a customer's webhook secret is set on a store with no master key
    to seal it under."""

    rule = "webhook-secret-not-sealable"


class ContactUnchangedError(DomainError):
    """Raised when changing a contact to the details it already has."""

    rule = "contact-unchanged"


class ContactRemovedError(DomainError):
    """Raised when changing or removing a contact already removed."""

    rule = "contact-removed"


class ContactNotOfCustomerError(DomainError):
    """Raised when intake picks a directory contact of another customer, or one removed."""

    rule = "contact-not-of-customer"
