"""The rules the support offering and the collection policy share (`Versions`),
each refusing in its own words: the texts are pinned as they were before the two
shared them (issue 19), since the API and the command line show them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from cases.domain import errors
from cases.domain.collection_policy import CollectionPolicy
from cases.domain.support_offering import SupportOffering
from tests.support.builders import T0, ctx, terms
from tests.unit.domain.billing_scenario import standard_terms

LATER = T0 + timedelta(days=5)


def offering() -> SupportOffering:
    offering = SupportOffering.establish(ctx(T0))
    offering.publish_terms(ctx(T0), terms(), LATER)
    return offering


def policy() -> CollectionPolicy:
    policy = CollectionPolicy.establish(ctx(T0))
    policy.publish(ctx(T0), standard_terms(), LATER)
    return policy


LATE = ctx(T0 + timedelta(days=1))  # published after the moment it names

REFUSALS: list[tuple[Callable[[], object], type[errors.DomainError], str]] = [
    (
        lambda: offering().publish_terms(LATE, terms(), T0),
        errors.RetroactiveTermsError,
        (
            "terms cannot take effect before they are published: cases already "
            "received keep the terms they were received under"
        ),
    ),
    (
        lambda: offering().publish_terms(ctx(T0), terms(), LATER),
        errors.RetroactiveTermsError,
        f"terms version 1 takes effect at {LATER.isoformat()}; new terms must take effect after it",
    ),
    (
        lambda: offering().in_force_at(T0),
        errors.NoTermsInForceError,
        f"no support terms were in force at {T0.isoformat()}",
    ),
    (
        lambda: offering().published_version(2),
        errors.NoTermsInForceError,
        "support terms version 2 was never published",
    ),
    (
        lambda: policy().publish(LATE, standard_terms(), T0),
        errors.RetroactivePolicyError,
        "a collection policy cannot take effect before it is published",
    ),
    (
        lambda: policy().publish(ctx(T0), standard_terms(), LATER),
        errors.RetroactivePolicyError,
        (
            f"collection policy version 1 takes effect at {LATER.isoformat()}; a new "
            "version must take effect after it"
        ),
    ),
    (
        lambda: policy().in_force_at(T0),
        errors.NoCollectionPolicyError,
        f"no collection policy was in force at {T0.isoformat()}",
    ),
    (
        lambda: policy().published_version(2),
        errors.NoCollectionPolicyError,
        "collection policy version 2 was never published",
    ),
]


@pytest.mark.parametrize(("step", "kind", "says"), REFUSALS)
def test_each_refuses_in_its_own_words(
    step: Callable[[], object], kind: type[errors.DomainError], says: str
) -> None:
    with pytest.raises(kind) as refused:
        step()
    assert refused.value.message == says


@pytest.mark.parametrize("make", [offering, policy])
def test_versions_count_up_and_the_latest_by_a_moment_is_in_force(
    make: Callable[[], SupportOffering | CollectionPolicy],
) -> None:
    versions = make()
    assert versions.next_version(ctx(T0), LATER + timedelta(days=1)) == 2
    assert versions.in_force_at(LATER).version == 1
    assert versions.published_version(1).effective_from == LATER
