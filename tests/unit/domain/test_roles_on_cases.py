"""Roles on cases (issue 16 part 5): billing admins work billing cases, sales
agents purchase and subscription cases; an indirect provider takes any problem."""

from __future__ import annotations

import pytest

from cases.domain import case_commands as cmd
from cases.domain import errors
from cases.domain.case_values import (
    CaseCategory,
    EscalationCategory,
    EscalationPaths,
    EscalationTarget,
)
from cases.domain.metadata import Actor, Role
from cases.domain.support_case import SupportCase
from cases.domain.support_terms import PartnerKind
from tests.support.builders import ctx
from tests.unit.domain.case_scenario import at, given, health_checked, received, then_refused

BILLING_ADMIN = Actor("billing-bo", Role.BILLING_ADMIN)
SALES_AGENT = Actor("sales-sam", Role.SALES_AGENT)

INDIRECT = EscalationPaths(
    PartnerKind.INDIRECT_RESELLER, (), indirect_provider="Nordic Distribution AB"
)


def note_by(actor: Actor) -> object:
    def step(case: SupportCase) -> None:
        case.add_note(ctx(at(3), actor=actor), cmd.AddNote("Looked at the invoice"))

    return step


class TestWhoWorksWhichCase:
    @pytest.mark.parametrize(
        ("actor", "category"),
        [
            (BILLING_ADMIN, CaseCategory.BILLING),
            (SALES_AGENT, CaseCategory.SUBSCRIPTION),
            (SALES_AGENT, CaseCategory.COMMERCIAL),
        ],
    )
    def test_a_role_works_the_cases_of_its_categories(
        self, actor: Actor, category: CaseCategory
    ) -> None:
        """A billing admin notes on a billing case; a sales agent on a purchase."""
        case = given(received(category))
        case.add_note(ctx(at(3), actor=actor), cmd.AddNote("Looked at it"))
        assert case.note_count == 1

    @pytest.mark.parametrize(
        ("actor", "category"),
        [
            (BILLING_ADMIN, CaseCategory.TECHNICAL),
            (BILLING_ADMIN, CaseCategory.SUBSCRIPTION),
            (SALES_AGENT, CaseCategory.BILLING),
            (SALES_AGENT, CaseCategory.TECHNICAL),
        ],
    )
    def test_refuses_a_case_outside_the_roles_categories(
        self, actor: Actor, category: CaseCategory
    ) -> None:
        """Every act is refused, the reopening too, with a rule of its own."""
        case = given(received(category))
        then_refused(
            case,
            lambda c: c.add_note(ctx(at(3), actor=actor), cmd.AddNote("x")),
            errors.CategoryNotWorkedByRoleError,
        )
        then_refused(
            case,
            lambda c: c.reopen(ctx(at(3), actor=actor), cmd.Reopen("again")),
            errors.CategoryNotWorkedByRoleError,
        )

    def test_a_helpdesk_agent_works_every_category(self) -> None:
        for category in CaseCategory:
            case = given(received(category))
            case.add_note(ctx(at(3)), cmd.AddNote("Looked at it"))


class TestIndirectProvider:
    @pytest.mark.parametrize(
        "category",
        [
            EscalationCategory.HOW_TO,
            EscalationCategory.CONFIGURATION,
            EscalationCategory.DOCUMENTED_ISSUE,
        ],
    )
    def test_takes_any_kind_of_problem_and_is_named(self, category: EscalationCategory) -> None:
        """A how-to question goes to the provider, named on the escalation."""
        case = given(received())
        case.escalate(
            ctx(at(5)),
            cmd.Escalate(EscalationTarget.INDIRECT_PROVIDER, category, None, "Customer asks how"),
            INDIRECT,
        )
        escalated = [e for e in case.pending_events if isinstance(e, SupportCase.Escalated)]
        assert [(e.target, e.category, e.provider) for e in escalated] == [
            (EscalationTarget.INDIRECT_PROVIDER, category, "Nordic Distribution AB")
        ]
        assert case.escalations[0].provider == "Nordic Distribution AB"

    def test_the_vendor_still_takes_only_its_categories(self) -> None:
        def to_provider(case: SupportCase) -> None:
            case.escalate(
                ctx(at(5)),
                cmd.Escalate(
                    EscalationTarget.INDIRECT_PROVIDER, EscalationCategory.HOW_TO, None, "How?"
                ),
                INDIRECT,
            )
            case.record_hand_back(ctx(at(6)), cmd.RecordHandBack("Provider: not a defect"))

        case = given(received(), health_checked, to_provider)
        then_refused(
            case,
            lambda c: c.escalate(
                ctx(at(7)),
                cmd.Escalate(EscalationTarget.VENDOR, EscalationCategory.HOW_TO, None, "How?"),
                INDIRECT,
            ),
            errors.EscalationCategoryNotAcceptedError,
        )

    def test_a_direct_bill_partner_still_has_no_provider(self) -> None:
        case = given(received(), health_checked)
        direct = EscalationPaths(PartnerKind.DIRECT_BILL, ())
        then_refused(
            case,
            lambda c: c.escalate(
                ctx(at(5)),
                cmd.Escalate(
                    EscalationTarget.INDIRECT_PROVIDER, EscalationCategory.HOW_TO, None, "How?"
                ),
                direct,
            ),
            errors.NoIndirectProviderError,
        )
