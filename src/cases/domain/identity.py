"""Ids that follow from names, so a record is found again from its name alone."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5


def derived_id(*names: object) -> UUID:
    """The id named ``cases:<name>:<name>…``: a `uuid5` in the URL namespace.

    Stored aggregates and messages carry ids made this way: never change it.
    """
    return uuid5(NAMESPACE_URL, ":".join(("cases", *(str(name) for name in names))))
