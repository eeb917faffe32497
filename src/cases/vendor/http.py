"""One HTTP conversation with a vendor service: an OAuth 2.0 client-credentials
token, throttling honoured, and every failure turned into one error.

The vendor down, slow, throttling past patience, or answering garbage raises
`VendorUnavailableError`, which delays a sync and never reaches a command.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson
import structlog

logger = structlog.get_logger("cases.vendor")

THROTTLED = frozenset({429, 503})


class VendorUnavailableError(Exception):
    """Raised when the vendor cannot be reached or answers nothing usable."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """An application's client credentials at a token endpoint (never logged)."""

    token_url: str
    client_id: str
    client_secret: str
    scope: str


class VendorHttp:
    """Sends authorised requests to one vendor service, retrying what may be retried."""

    def __init__(
        self,
        client: httpx.Client,
        credentials: Credentials,
        *,
        max_attempts: int = 5,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.credentials = credentials
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.sleep = sleep
        self._token: str | None = None
        self._token_expires = 0.0
        self.requests = 0

    def get_json(self, url: str, params: Mapping[str, str] | None = None) -> Any:
        return self.send("GET", url, params=params)

    def send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        body: object = None,
    ) -> Any:
        """The JSON the vendor answers; a 401 fetches a new token once, a 429 or
        503 waits as its Retry-After says (at most `max_wait`)."""
        refreshed = False
        for _attempt in range(self.max_attempts):
            response = self._request(method, url, params, body)
            if response.status_code == 401 and not refreshed:
                refreshed = True
                self._token = None
                continue
            if response.status_code in THROTTLED:
                wait = retry_after(response.headers.get("Retry-After"), self.max_wait)
                logger.warning(
                    "vendor_throttled", status=response.status_code, wait_seconds=wait, url=url
                )
                self.sleep(wait)
                continue
            if response.status_code >= 400:
                raise VendorUnavailableError(f"{method} {url} answered {response.status_code}")
            return _json(response)
        raise VendorUnavailableError(
            f"{method} {url} still refused after {self.max_attempts} attempts"
        )

    def _request(
        self, method: str, url: str, params: Mapping[str, str] | None, body: object
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._bearer()}", "Accept": "application/json"}
        content = None if body is None else orjson.dumps(body)
        if content is not None:
            headers["Content-Type"] = "application/json"
        self.requests += 1
        try:
            return self.client.request(method, url, params=params, headers=headers, content=content)
        except httpx.HTTPError as e:
            raise VendorUnavailableError(f"{method} {url} failed: {type(e).__name__}") from e

    def _bearer(self) -> str:
        if self._token is None or time.monotonic() >= self._token_expires:
            self._token, lifetime = self._fetch_token()
            # A minute's margin, so a token is never sent as it expires.
            self._token_expires = time.monotonic() + max(lifetime - 60, 0)
        return self._token

    def _fetch_token(self) -> tuple[str, float]:
        c = self.credentials
        form = {
            "grant_type": "client_credentials",
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "scope": c.scope,
        }
        try:
            response = self.client.post(c.token_url, data=form)
        except httpx.HTTPError as e:
            raise VendorUnavailableError(f"token endpoint failed: {type(e).__name__}") from e
        if response.status_code != 200:
            raise VendorUnavailableError(f"token endpoint answered {response.status_code}")
        answer = _json(response)
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise VendorUnavailableError("token endpoint answered no access_token")
        lifetime = answer.get("expires_in", 3600)
        return token, float(lifetime) if isinstance(lifetime, int | float | str) else 3600.0


def retry_after(value: str | None, limit: float) -> float:
    """Seconds a Retry-After header asks to wait (delta-seconds or an HTTP date),
    within [0, `limit`]; one second when absent or unreadable."""
    if value is None:
        return min(1.0, limit)
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            seconds = 1.0
    return max(0.0, min(seconds, limit))


def _json(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise VendorUnavailableError(
            f"{response.request.method} {response.request.url} answered no JSON"
        ) from None
