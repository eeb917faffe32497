"""Derived ids: stored aggregates are found again by them, so they never change."""

from __future__ import annotations

from uuid import UUID

from cases.domain.billing_account import BillingAccount
from cases.domain.collection_policy import CollectionPolicy
from cases.domain.customer import customer_aggregate_id
from cases.domain.identity import derived_id


def test_an_id_follows_from_its_names_as_it_always_has() -> None:
    """The formula stored ids were made with: uuid5 of `cases:<names>` (URL namespace)."""
    assert derived_id("customer", "contoso") == UUID("47fef662-6646-507f-90e7-3fe7127fe7be")
    assert derived_id("collection-policy") == UUID("ce5d6344-82ef-5f56-9531-eb218b121b38")


def test_the_aggregates_derive_their_ids_through_it() -> None:
    """A customer's record and its billing account are told apart by kind."""
    assert customer_aggregate_id("contoso") == derived_id("customer", "contoso")
    assert BillingAccount.id_for("contoso") == derived_id("billing-account", "contoso")
    assert CollectionPolicy.policy_id() == derived_id("collection-policy")
    assert customer_aggregate_id("contoso") != BillingAccount.id_for("contoso")
