"""Partner Center service requests: opened for an escalation, read back for sync.

`POST {base}/servicerequests/{locale}` opens one (`ServiceRequest`: title of at
most 255 characters, description, severity, support topic, primary contact,
notes); `GET {base}/servicerequests` lists them, following `links.next`. Field
names are read without case (the service answers camelCase, documents PascalCase)
and so are enum values; dates of 0001-01-01T00:00:00 mean none.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cases.domain.vendor_request import VendorRequestDraft
from cases.vendor.http import VendorHttp, VendorUnavailableError
from cases.vendor.shapes import MalformedItemError, canonical, optional_moment

STATUSES = ("none", "open", "closed", "attention_needed")


@dataclass(frozen=True, slots=True)
class ServiceRequestState:
    """A service request as the vendor shows it now."""

    request_id: str
    status: str
    last_modified_at: datetime | None
    notes: tuple[tuple[datetime | None, str], ...]


class PartnerCenter:
    """Opens and reads the partner's service requests."""

    def __init__(self, http: VendorHttp, base_url: str, locale: str = "en-US") -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.locale = locale

    def open(self, draft: VendorRequestDraft) -> ServiceRequestState:
        """Open the request; the vendor's answer, with its id."""
        first, _, last = draft.contact.name.partition(" ")
        body: dict[str, Any] = {
            "Title": draft.title,
            "Description": draft.description,
            "Severity": draft.severity.value.capitalize(),
            "SupportTopicId": draft.support_topic_id,
            "PrimaryContact": {
                "FirstName": first,
                "LastName": last or first,
                "Email": draft.contact.email,
                "PhoneNumber": draft.contact.phone,
            },
            "Organization": {"Name": draft.customer_id},
        }
        if draft.notes is not None:
            body["Notes"] = [{"Text": draft.notes}]
        answer = self.http.send("POST", f"{self.base_url}/servicerequests/{self.locale}", body=body)
        try:
            return request_state(answer)
        except MalformedItemError as e:
            raise VendorUnavailableError(f"the opened request came back malformed: {e}") from e

    def requests(self) -> Iterator[ServiceRequestState | MalformedItemError]:
        """Every service request of the partner, a page at a time."""
        url: str | None = f"{self.base_url}/servicerequests"
        while url is not None:
            answer = self.http.get_json(url)
            items = field(answer, "items") if isinstance(answer, dict) else None
            if not isinstance(items, list):
                raise VendorUnavailableError("Partner Center answered no list of requests")
            for item in items:
                try:
                    yield request_state(item)
                except MalformedItemError as e:
                    yield e
            url = _next_link(answer)


def field(item: Mapping[str, Any], name: str) -> Any:
    """The field `name` of `item`, whatever the case of its key."""
    if name in item:
        return item[name]
    folded = name.casefold()
    return next((v for k, v in item.items() if k.casefold() == folded), None)


def request_state(item: object) -> ServiceRequestState:
    if not isinstance(item, dict):
        raise MalformedItemError("a service request is not an object")
    request_id = field(item, "id")
    if not isinstance(request_id, str) or not request_id.strip():
        raise MalformedItemError("id is missing")
    notes = field(item, "notes") or []
    if not isinstance(notes, list):
        raise MalformedItemError("notes is not a list")
    return ServiceRequestState(
        request_id=request_id.strip(),
        status=canonical(field(item, "status"), STATUSES, "status"),
        last_modified_at=optional_moment(_lower_keys(item), "lastmodifieddate"),
        notes=tuple(_note(n) for n in notes),
    )


def _note(note: object) -> tuple[datetime | None, str]:
    if not isinstance(note, dict):
        raise MalformedItemError("a note is not an object")
    text = field(note, "text")
    by = field(note, "createdByName")
    if not isinstance(text, str):
        raise MalformedItemError("a note has no text")
    written = optional_moment(_lower_keys(note), "createddate")
    return written, f"{by}: {text}" if isinstance(by, str) and by.strip() else text


def _lower_keys(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k.casefold(): v for k, v in item.items()}


def _next_link(answer: Mapping[str, Any]) -> str | None:
    links = field(answer, "links")
    following = field(links, "next") if isinstance(links, dict) else None
    uri = field(following, "uri") if isinstance(following, dict) else None
    return uri if isinstance(uri, str) and uri else None
