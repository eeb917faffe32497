"""The outbox follower: which recorded events become which messages, to whom.

It is a projection (ADR 12): run by a `ProjectionRunner` under the tracking
name `outbox`, its messages are queued in the transaction that moves its
position, so each event's messages are queued exactly once whatever stops the
runner. The command that recorded the event never waits on it, and a mail
server that is down delays only delivery (`cases.outbox.worker`).

- A notice (`ReminderSent`: upcoming payment, overdue reminder, final warning),
  a suspension and a reinstatement: to the account's billing contacts, each in
  their language, with the policy's own text and every overdue invoice.
- An outbound communication on a case: to the case's contact.
- A service-level breach, and a linked vendor incident resolved (the case can
  be taken up again): to the assigned agent if the agent id is an address,
  else to the configured queue address.
- With an outbox webhook configured, every one of them once more, as JSON.

A customer's communication preferences (from the contact book) decide what it
is sent of the notices and replies addressed to it: an optional notice it
declined (an upcoming-payment reminder, a case update) reaches none of its
contacts, a mandatory one (overdue reminder, final warning, suspension,
reinstatement) always goes; by e-mail to its contacts if its channels name
e-mail, and as JSON to its own webhook if they name the webhook.

An erased contact's messages are blanked; those not yet sent are never sent.

The follower reads every event of a case, not only those that ask for messages
(ADR 93). It keeps a copy of the cases it derived from and brings each forward
by the case's events as they pass: a reply needs no read of the log. The events
come decoded already, shared with the runner's other followers. A customer's
preferences are read once per batch, and a batch's messages queued in one
statement.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

import orjson

from cases.application.contact_book import ContactBook, Recipient
from cases.clock import Clock, SystemClock
from cases.db.database import ProjectionDatabase
from cases.domain.billing_account import BillingAccount
from cases.domain.case_values import Direction
from cases.domain.collection_policy import CollectionPolicy
from cases.domain.customer_values import CommunicationPreferences, NoticeChannel, OptionalNotice
from cases.domain.erasure import Erasure
from cases.domain.support_case import SupportCase
from cases.outbox.messages import WEBHOOK_RECIPIENT, Channel, NewMessage, event_id, message_id
from cases.outbox.rendering import Rendered, render
from cases.outbox.store import OutboxStore
from cases.persistence.event_log import EventLog, replay
from cases.persistence.personal_data import ERASED
from cases.projections.erasures import without_erasures
from cases.projections.projection import PositionedEvent, Projection, TableNames, events_of
from cases.settings import Settings

OUTBOX = "outbox"  # the follower's tracking and leadership name
KEPT_CASES = 1000  # the cases whose copies the follower keeps, the least recent dropped

E = BillingAccount
CASE_EVENTS = events_of(SupportCase)

# The message kinds a customer may decline, and as which optional notice.
OPTIONAL_NOTICES: dict[str, OptionalNotice] = {
    "upcoming_payment_reminder": OptionalNotice.UPCOMING_PAYMENT_REMINDER,
    "case_communication": OptionalNotice.CASE_UPDATES,
}


class SettingsContactBook:
    """The contact book until the customer directory lands: every customer's
    billing notices go to the one configured mailbox (`CASES_OUTBOX_BILLING_MAILBOX`)."""

    def __init__(self, settings: Settings) -> None:
        self.mailbox = settings.outbox_billing_mailbox
        self.language = settings.outbox_language

    def billing_contacts(self, customer_id: str) -> list[Recipient]:
        if self.mailbox is None:
            return []
        return [Recipient(f"{customer_id} billing", self.mailbox, self.language)]

    def technical_contacts(self, customer_id: str) -> list[Recipient]:  # noqa: ARG002
        return []

    def preferences(self, customer_id: str) -> CommunicationPreferences:  # noqa: ARG002
        return CommunicationPreferences()


class OutboxProjection(Projection):
    """Derives messages from events and queues them (see the module docstring)."""

    name: ClassVar[str] = OUTBOX
    tables: ClassVar[tuple[str, ...]] = ("outbox_messages",)
    # Every case event, not only those that ask for messages: the cases kept are
    # brought forward by the batch's own events, already read and decoded for the
    # process's other followers, instead of a read of the log per reply (issue 20).
    handles: ClassVar[tuple[type[Any], ...]] = (
        E.ReminderSent,
        E.AccessSuspended,
        E.AccessReinstated,
        *CASE_EVENTS,
        Erasure.SubjectErased,
    )

    def __init__(
        self,
        log: EventLog,
        settings: Settings,
        contacts: ContactBook | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.log = log
        self.settings = settings
        self.contacts: ContactBook = contacts or SettingsContactBook(settings)
        self.clock = clock or SystemClock()
        self._customers: dict[UUID, str] = {}
        self._policy_texts: dict[int, str] = {}
        self._prepared: dict[int, list[NewMessage]] = {}
        # The cases last derived from, kept to be brought forward (issue 20): their
        # personal fields as read then, so an erasure seen drops them all.
        self._cases: OrderedDict[UUID, SupportCase] = OrderedDict()
        # The customers' preferences read while deriving one batch (ADR 60: read
        # when the batch is derived, not as of its events), each customer's once.
        self._preferences: dict[str, CommunicationPreferences] = {}
        if log.subject_keys is not None:
            log.subject_keys.erasure_listeners.append(self._cases.clear)

    def prepare(self, events: Sequence[PositionedEvent]) -> None:
        """Derive the batch's messages before its transaction: deriving reads the
        log (an account's customer, a case's contact) and renders templates, which
        must not hold the store's write lock (on SQLite, the whole file's)."""
        self._preferences.clear()
        self._prepared = {p.position: self.messages_for(p.event) for p in events}

    def apply(
        self,
        db: ProjectionDatabase,
        events: Sequence[PositionedEvent],
        tables: TableNames,  # noqa: ARG002 - never rebuilt into shadows: always the live table
    ) -> None:
        others, erased = without_erasures(events)
        store = OutboxStore(db)
        queued: list[tuple[int, list[NewMessage]]] = []
        for positioned in others:
            prepared = self._prepared.pop(positioned.position, None)
            messages = self.messages_for(positioned.event) if prepared is None else prepared
            queued.append((positioned.position, messages))
        store.enqueue(queued, self.clock.now())
        store.erase_subjects(erased)
        self._preferences.clear()

    # Derivation -------------------------------------------------------------------

    def messages_for(self, event: Any) -> list[NewMessage]:
        """The messages one event asks for (none, for an inbound communication, a
        note and the like). A case's event first brings its copy forward."""
        if isinstance(event, SupportCase.Event):
            self._follow(event)
        if isinstance(event, E.ReminderSent | E.AccessSuspended | E.AccessReinstated):
            return self._billing(event)
        if isinstance(event, SupportCase.CommunicationRecorded):
            return self._communication(event)
        if isinstance(event, SupportCase.ServiceClockBreached):
            return self._breach(event)
        if isinstance(event, SupportCase.LinkedIncidentResolved):
            return self._incident_resolved(event)
        if isinstance(event, Erasure.SubjectErased):
            self._cases.clear()  # later events read the placeholders: so must the copies
        return []

    def _billing(self, event: Any) -> list[NewMessage]:
        customer_id = self._customer_of(event.originator_id, event.originator_version)
        recipients = self.contacts.billing_contacts(customer_id)
        if isinstance(event, E.ReminderSent):
            kind = event.kind.value
            context = {
                "kind": kind,
                "invoice_number": event.invoice_number,
                "due_on": event.due_on,
                "amount_due": event.amount_due,
                "overdue_total": event.overdue_total,
                "period": event.period,
                "overdue_invoices": event.overdue_invoices,
                "policy_text": self._policy_text(event.policy_version),
            }
            template = "reminder"
        else:
            suspended = isinstance(event, E.AccessSuspended)
            kind = "access_suspended" if suspended else "access_reinstated"
            context = {
                "suspended": suspended,
                "product": event.product,
                "subscription_id": event.subscription_id,
                "invoice_number": getattr(event, "invoice_number", ""),
            }
            template = "access"
        return self._to_each(
            event,
            aggregate_kind="account",
            subject_id=None,
            kind=kind,
            template=template,
            context=context,
            recipients=recipients,
            preferences=self._preferences_of(customer_id),
        )

    def _communication(self, event: SupportCase.CommunicationRecorded) -> list[NewMessage]:
        if event.direction is not Direction.OUTBOUND:
            return []
        case = self._case_at(event.originator_id, event.originator_version)
        contact = case.contact
        recipients = (
            [Recipient(contact.name, contact.email, self.settings.outbox_language)]
            if contact.email is not None and contact.email != ERASED
            else []
        )
        context = {"title": case.title, "summary": event.summary}
        return self._to_each(
            event,
            aggregate_kind="case",
            subject_id=case.id,
            kind="case_communication",
            template="case_communication",
            context=context,
            recipients=recipients,
            preferences=self._preferences_of(case.customer_id),
        )

    def _breach(self, event: SupportCase.ServiceClockBreached) -> list[NewMessage]:
        case = self._case_at(event.originator_id, event.originator_version)
        context = {
            "clock": event.clock.value.replace("_", " "),
            "case_id": case.id,
            "severity": case.severity.value,
            "product": case.product,
            "target": event.target,
            "at": event.at.isoformat(),
            "assignee": case.assignee,
        }
        return self._to_the_agent(event, case, "breach_alert", context)

    def _incident_resolved(self, event: SupportCase.LinkedIncidentResolved) -> list[NewMessage]:
        case = self._case_at(event.originator_id, event.originator_version)
        advisory = case.matched_advisory
        context = {
            "case_id": case.id,
            "severity": case.severity.value,
            "product": case.product,
            "vendor_id": event.vendor_id,
            "advisory_title": "" if advisory is None else advisory.title,
            "status": event.status,
            "at": event.meta.occurred_at.isoformat(),
            "assignee": case.assignee,
        }
        return self._to_the_agent(event, case, "incident_resolved", context)

    def _to_the_agent(
        self, event: Any, case: SupportCase, kind: str, context: dict[str, Any]
    ) -> list[NewMessage]:
        """An alert for the case's assigned agent if the agent id is an address,
        else for the configured queue address (none: the webhook's only)."""
        address = (
            case.assignee
            if case.assignee is not None and "@" in case.assignee
            else self.settings.outbox_queue_address
        )
        language = self.settings.outbox_language
        recipients = (
            [Recipient(case.assignee or "support queue", address, language)] if address else []
        )
        return self._to_each(
            event,
            aggregate_kind="case",
            subject_id=None,
            kind=kind,
            template=kind,
            context=context,
            recipients=recipients,
        )

    def _to_each(
        self,
        event: Any,
        *,
        aggregate_kind: str,
        subject_id: UUID | None,
        kind: str,
        template: str,
        context: dict[str, Any],
        recipients: list[Recipient],
        preferences: CommunicationPreferences | None = None,
    ) -> list[NewMessage]:
        """One e-mail per recipient (in their language), one message to the
        customer's webhook, and one to the outbox webhook — as the customer's
        `preferences` (if the message is addressed to a customer) allow."""
        eid = event_id(event.originator_id, event.originator_version)
        partner = self.settings.outbox_sender_name
        hooks: list[str] = []
        if preferences is not None:
            notice = OPTIONAL_NOTICES.get(kind)
            if notice is not None and preferences.declines(notice):
                recipients = []
            elif preferences.webhook_url is not None and (
                NoticeChannel.WEBHOOK in preferences.channels
            ):
                hooks.append(preferences.webhook_url)
            if NoticeChannel.EMAIL not in preferences.channels:
                recipients = []
        if self.settings.outbox_webhook_url is not None:
            hooks.append(WEBHOOK_RECIPIENT)

        def message(
            channel: Channel, recipient: str, language: str, text: Rendered, body: str
        ) -> NewMessage:
            return NewMessage(
                message_id=message_id(eid, recipient),
                event_id=eid,
                aggregate_kind=aggregate_kind,
                aggregate_id=event.originator_id,
                subject_id=subject_id,
                kind=kind,
                channel=channel,
                recipient=recipient,
                language=language,
                subject=text.subject,
                body=body,
            )

        messages = []
        for person in recipients:
            text = render(
                template, person.language, recipient_name=person.name, partner=partner, **context
            )
            messages.append(message(Channel.EMAIL, person.email, person.language, text, text.body))
        for hook in hooks:
            language = self.settings.outbox_language
            text = render(template, language, recipient_name=partner, partner=partner, **context)
            payload = {
                "message_id": str(message_id(eid, hook)),
                "event_id": eid,
                "kind": kind,
                aggregate_kind: str(event.originator_id),
                "occurred_at": _moment(event.meta.occurred_at),
                "subject": text.subject,
                "text": text.body,
            }
            body = orjson.dumps(payload).decode()
            messages.append(message(Channel.WEBHOOK, hook, language, text, body))
        return messages

    # What the events do not say ---------------------------------------------------

    def _customer_of(self, account_id: UUID, version: int) -> str:
        if account_id not in self._customers:
            account: BillingAccount = self.log.repository.get(
                account_id, version=version, projector_func=replay
            )
            self._customers[account_id] = account.customer_id
        return self._customers[account_id]

    def _policy_text(self, version: int) -> str:
        if version not in self._policy_texts:
            policy: CollectionPolicy = self.log.repository.get(
                CollectionPolicy.policy_id(), projector_func=replay
            )
            for published in policy.published:
                self._policy_texts[published.version] = published.customer_text
        return self._policy_texts.get(version, "")

    def _preferences_of(self, customer_id: str) -> CommunicationPreferences:
        """The customer's preferences, read once for the batch being derived."""
        preferences = self._preferences.get(customer_id)
        if preferences is None:
            preferences = self._preferences[customer_id] = self.contacts.preferences(customer_id)
        return preferences

    def _follow(self, event: Any) -> None:
        """Bring the case's kept copy forward by its next event; a copy that is not
        one version behind it (the batch retried after its copies moved on) goes."""
        case = self._cases.get(event.originator_id)
        if case is None:
            return
        if case.version + 1 == event.originator_version:
            self._cases[event.originator_id] = replay(case, (event,))
        else:
            del self._cases[event.originator_id]

    def _case_at(self, case_id: UUID, version: int) -> SupportCase:
        """The case at `version`: the copy kept and brought forward by every event
        of the case since (`_follow`), else loaded and kept from now on."""
        case = self._cases.pop(case_id, None)
        if case is None or case.version != version:
            case = self.log.repository.get(case_id, version=version, projector_func=replay)
        self._cases[case_id] = case
        while len(self._cases) > KEPT_CASES:
            self._cases.popitem(last=False)
        return case


def _moment(moment: datetime) -> str:
    return moment.isoformat()
