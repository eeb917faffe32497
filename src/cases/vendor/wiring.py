"""The vendor clients a process builds from its settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from cases.settings import Settings, SettingsError
from cases.vendor.graph import ServiceHealth
from cases.vendor.http import Credentials, VendorHttp
from cases.vendor.partner_center import PartnerCenter


def credentials(settings: Settings, scope: str) -> Credentials:
    secret = settings.vendor_secret
    if settings.vendor_client_id is None or secret is None:
        raise SettingsError(
            "CASES_VENDOR_CLIENT_ID and CASES_VENDOR_CLIENT_SECRET (or _FILE) are needed "
            "to talk to the vendor"
        )
    return Credentials(settings.vendor_token_url, settings.vendor_client_id, secret, scope)


@contextmanager
def service_health(settings: Settings) -> Iterator[ServiceHealth]:
    """A Graph service-health reader on its own HTTP client, closed afterwards."""
    creds = credentials(settings, settings.graph_scope)
    with httpx.Client(timeout=settings.vendor_http_timeout) as client:
        http = VendorHttp(client, creds, max_wait=settings.vendor_max_retry_wait)
        yield ServiceHealth(http, settings.graph_base_url)


@contextmanager
def partner_center(settings: Settings) -> Iterator[PartnerCenter]:
    """A Partner Center client on its own HTTP client, closed afterwards."""
    creds = credentials(settings, settings.partner_center_scope)
    with httpx.Client(timeout=settings.vendor_http_timeout) as client:
        http = VendorHttp(client, creds, max_wait=settings.vendor_max_retry_wait)
        yield PartnerCenter(http, settings.partner_center_base_url)
