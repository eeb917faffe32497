"""The customer directory: customers, their contacts, and whether a customer is known.

Registering a customer also appends its entry to an event-sourced listing
(`Directory`), in the same transaction; adding a contact records the contact (a
data subject of its own) and its place on the customer's list together. Cases
and accounts are refused for a customer the directory does not hold once the
directory holds anyone (ADR 0048); a store that never registered a customer,
or one run with `CASES_ALLOW_BARE_CUSTOMER_IDS`, takes bare ids as before.
"""

from __future__ import annotations

from uuid import UUID, uuid4

from cases.application.caller import Caller
from cases.application.command_runner import CommandRunner, Receipt
from cases.application.directory import Directory
from cases.domain import customer_commands as c
from cases.domain.case_values import Contact
from cases.domain.customer import (
    CONTACT_DECISIONS,
    CUSTOMER_DECISIONS,
    Customer,
    CustomerContact,
    customer_aggregate_id,
)
from cases.domain.customer_values import ContactRole
from cases.domain.errors import (
    ContactNotOfCustomerError,
    CustomerAlreadyRegisteredError,
    NotFoundError,
    UnknownCustomerError,
)
from cases.domain.metadata import CommandContext


class CustomerDirectory:
    """Registers customers and their contacts; tells who is known."""

    def __init__(self, runner: CommandRunner, *, allow_bare_ids: bool = False) -> None:
        self.runner = runner
        self.allow_bare_ids = allow_bare_ids
        self.listing = Directory(runner.log, "customer-directory")

    # Customers -------------------------------------------------------------

    def register(self, caller: Caller, command: c.RegisterCustomer) -> Receipt:
        """Enter the customer and list it, in one transaction."""
        return self.listing.create_listed(
            self.runner,
            Customer,
            caller,
            start=lambda ctx: Customer.register(ctx, command),
            key=lambda customer: customer.customer_id,
            taken=CustomerAlreadyRegisteredError(
                f"the directory already holds customer {command.customer_id}"
            ),
        )

    def customer(self, customer_id: str) -> Customer:
        try:
            return self.runner.load(Customer, customer_aggregate_id(customer_id))
        except NotFoundError:
            raise NotFoundError(f"the directory holds no customer {customer_id}") from None

    def find(self, customer_id: str) -> Customer | None:
        try:
            return self.runner.load(Customer, customer_aggregate_id(customer_id))
        except NotFoundError:
            return None

    def check_known(self, customer_id: str) -> None:
        """Refuse a customer the directory does not hold, unless bare ids are
        allowed: by the setting, or because no customer was ever registered."""
        if self.allow_bare_ids or self.listing.count() == 0:
            return
        if not self.runner.exists(Customer, customer_aggregate_id(customer_id)):
            raise UnknownCustomerError(
                f"the directory holds no customer {customer_id}: register it first "
                "(cases customers add)"
            )

    def handle(
        self,
        caller: Caller,
        customer_id: str,
        command: c.CustomerCommand,
        *,
        expected_version: int | None = None,
    ) -> Receipt:
        """Rename the customer, change its tenant, relationship or preferences."""
        self.customer(customer_id)
        decision = CUSTOMER_DECISIONS[type(command)]
        _, receipt = self.runner.change(
            Customer,
            customer_aggregate_id(customer_id),
            caller,
            lambda customer, ctx: decision(customer, ctx, command),
            expected_version,
        )
        return receipt

    # Contacts ----------------------------------------------------------------

    def add_contact(self, caller: Caller, customer_id: str, command: c.AddContact) -> Receipt:
        """Record the contact and list it on its customer, in one transaction."""
        self.customer(customer_id)
        contact_id = uuid4()

        def listed(contact: CustomerContact, ctx: CommandContext) -> list[Customer.Event]:
            customer = self.runner.load(Customer, customer_aggregate_id(customer_id))
            customer.list_contact(ctx, contact.id, contact.role)
            return [e for e in customer.collect_events() if isinstance(e, Customer.Event)]

        return self.runner.create(
            CustomerContact,
            caller,
            lambda ctx: CustomerContact.add(
                ctx, command, contact_id=contact_id, customer_id=customer_id
            ),
            listed,
        )

    def contact(self, customer_id: str, contact_id: UUID) -> CustomerContact:
        """The customer's contact (removed ones too); another customer's is not found."""
        missing = NotFoundError(f"customer {customer_id} has no contact {contact_id}")
        try:
            contact = self.runner.load(CustomerContact, contact_id)
        except NotFoundError:
            raise missing from None
        if contact.customer_id != customer_id:
            raise missing
        return contact

    def handle_contact(
        self,
        caller: Caller,
        customer_id: str,
        contact_id: UUID,
        command: c.ContactCommand,
        *,
        expected_version: int | None = None,
    ) -> Receipt:
        """Change a contact, or remove it (from its customer's list too)."""
        self.contact(customer_id, contact_id)
        if isinstance(command, c.RemoveContact):

            def remove(customer: Customer, contact: CustomerContact, ctx: CommandContext) -> None:
                contact.remove(ctx, command)
                customer.unlist_contact(ctx, contact.id)

            _, _, receipt = self.runner.change_both(
                (Customer, customer_aggregate_id(customer_id)),
                (CustomerContact, contact_id),
                caller,
                remove,
            )
            return receipt
        decision = CONTACT_DECISIONS[type(command)]
        _, receipt = self.runner.change(
            CustomerContact,
            contact_id,
            caller,
            lambda contact, ctx: decision(contact, ctx, command),
            expected_version,
        )
        return receipt

    def contacts(self, customer_id: str, role: ContactRole) -> list[CustomerContact]:
        """The customer's listed contacts in `role` (none for an unknown customer)."""
        customer = self.find(customer_id)
        return [] if customer is None else self.listed_contacts(customer, role)

    def listed_contacts(self, customer: Customer, role: ContactRole) -> list[CustomerContact]:
        """The listed contacts in `role` of a customer already loaded."""
        return [self.runner.load(CustomerContact, cid) for cid in customer.contact_ids(role)]

    def picked_contact(self, customer_id: str, contact_id: UUID) -> Contact:
        """The details of a listed contact of the customer, as intake records them."""
        try:
            contact = self.contact(customer_id, contact_id)
        except NotFoundError:
            contact = None
        if contact is None or contact.removed:
            raise ContactNotOfCustomerError(
                f"contact {contact_id} is not a listed contact of customer {customer_id}"
            )
        return contact.contact

    def indirect_provider(self, customer_id: str) -> str | None:
        """The indirect provider the directory names for the customer, if any."""
        customer = self.find(customer_id)
        return None if customer is None else customer.indirect_provider
