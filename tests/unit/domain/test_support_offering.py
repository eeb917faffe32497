"""The versioned support offering and the values of its terms."""

from __future__ import annotations

from dataclasses import replace
from datetime import time, timedelta

import pytest

from cases.domain import errors
from cases.domain.support_offering import SupportOffering
from cases.domain.support_terms import (
    EscalationVehicle,
    ServiceHours,
    ServiceSpan,
    SupportArrangement,
    SupportModel,
)
from tests.support.builders import T0, ctx, terms


def offering_with_versions(*days: int) -> SupportOffering:
    offering = SupportOffering.establish(ctx(T0))
    for day in days:
        offering.publish_terms(ctx(T0), terms(), T0 + timedelta(days=day))
    return offering


class TestPublishing:
    def test_versions_count_up_from_one(self) -> None:
        offering = offering_with_versions(0, 10, 20)
        assert [p.version for p in offering.published] == [1, 2, 3]

    def test_the_terms_in_force_are_the_latest_to_take_effect(self) -> None:
        offering = offering_with_versions(0, 10)
        assert offering.in_force_at(T0 + timedelta(days=9)).version == 1
        assert offering.in_force_at(T0 + timedelta(days=10)).version == 2

    def test_nothing_is_in_force_before_the_first_version(self) -> None:
        offering = offering_with_versions(1)
        with pytest.raises(errors.NoTermsInForceError):
            offering.in_force_at(T0)

    def test_refuses_terms_taking_effect_before_publication(self) -> None:
        """Retroactive terms would change what old cases were promised."""
        offering = offering_with_versions()
        with pytest.raises(errors.RetroactiveTermsError):
            offering.publish_terms(ctx(T0), terms(), T0 - timedelta(seconds=1))
        assert offering.published == ()

    def test_refuses_terms_taking_effect_before_the_current_ones(self) -> None:
        offering = offering_with_versions(5)
        with pytest.raises(errors.RetroactiveTermsError):
            offering.publish_terms(ctx(T0), terms(), T0 + timedelta(days=4))
        assert len(offering.published) == 1

    def test_a_published_version_can_be_looked_up(self) -> None:
        offering = offering_with_versions(0, 3)
        assert offering.published_version(2).effective_from == T0 + timedelta(days=3)
        with pytest.raises(errors.NoTermsInForceError):
            offering.published_version(3)


class TestTermsValues:
    def test_commercial_support_is_never_listed_as_bought(self) -> None:
        """Commercial support is open to every partner; only technical vehicles
        are held."""
        t = terms(held=(EscalationVehicle.COMMERCIAL_SUPPORT,))
        assert t.held_vehicles == ()
        assert t.holds(EscalationVehicle.COMMERCIAL_SUPPORT)
        assert not t.holds(EscalationVehicle.PARTNER_CLOUD_SUPPORT)

    def test_every_severity_needs_exactly_one_target(self) -> None:
        with pytest.raises(errors.InvalidValueError, match="one target per severity"):
            replace(terms(), targets=terms().targets[:2])

    def test_resold_support_names_its_provider(self) -> None:
        with pytest.raises(errors.InvalidValueError, match="name the company"):
            SupportArrangement(SupportModel.RESOLD)

    @pytest.mark.parametrize(("start", "end"), [(time(12), time(8)), (time(9), time(9))])
    def test_a_span_ends_after_it_starts(self, start: time, end: time) -> None:
        with pytest.raises(errors.InvalidValueError, match="ends before it starts"):
            ServiceSpan(0, start, end)

    def test_spans_of_a_day_do_not_overlap(self) -> None:
        with pytest.raises(errors.InvalidValueError, match="overlap"):
            ServiceHours(
                "Europe/Stockholm",
                (ServiceSpan(0, time(8), time(12)), ServiceSpan(0, time(11), time(15))),
            )

    def test_an_unknown_time_zone_is_refused(self) -> None:
        with pytest.raises(errors.InvalidValueError, match="time zone"):
            ServiceHours("Mars/Olympus", (ServiceSpan(0, time(8), time(12)),))
