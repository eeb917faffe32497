"""Microsoft Graph's service-health issues (`serviceHealthIssue`), read page by page.

`GET {base}/admin/serviceAnnouncement/issues` filtered to the issues modified at
or after a watermark and ordered by `lastModifiedDateTime`, so a sync that
stops anywhere can start again from the last modification it recorded. Pages
follow `@odata.nextLink` as given.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cases.domain.advisory import AdvisoryFacts, AdvisoryPost
from cases.domain.case_values import AdvisoryClassification
from cases.domain.errors import DomainError
from cases.vendor.http import VendorHttp, VendorUnavailableError
from cases.vendor.shapes import MalformedItemError, canonical, moment, optional_moment, text

ISSUES_PATH = "/admin/serviceAnnouncement/issues"

STATUSES = (
    "investigating",
    "serviceDegradation",
    "serviceInterruption",
    "restoringService",
    "extendedRecovery",
    "investigationSuspended",
    "serviceRestored",
    "falsePositive",
    "postIncidentReviewPublished",
    "resolved",
    "mitigated",
    "confirmed",
    "reported",
    "serviceOperational",
    "verifyingService",
)
CLASSIFICATIONS = tuple(c.value for c in AdvisoryClassification)


@dataclass(frozen=True, slots=True)
class IssuePage:
    """One page of issues as sent: each item parsed, or the reason it was not."""

    items: tuple[AdvisoryFacts | MalformedItemError, ...]
    next_link: str | None


class ServiceHealth:
    """Reads the tenant's service-health issues from Graph."""

    def __init__(self, http: VendorHttp, base_url: str, page_size: int = 100) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size

    def pages(self, modified_since: datetime | None) -> Iterator[IssuePage]:
        """Every issue modified at or after `modified_since` (all: None), oldest
        modification first, a page at a time."""
        params = {"$orderby": "lastModifiedDateTime asc", "$top": str(self.page_size)}
        if modified_since is not None:
            stamp = modified_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            params["$filter"] = f"lastModifiedDateTime ge {stamp}"
        url: str | None = self.base_url + ISSUES_PATH
        query: Mapping[str, str] | None = params
        while url is not None:
            answer = self.http.get_json(url, query)
            if not isinstance(answer, dict) or not isinstance(answer.get("value"), list):
                raise VendorUnavailableError("service health answered no list of issues")
            link = answer.get("@odata.nextLink")
            next_link = link if isinstance(link, str) and link else None
            yield IssuePage(tuple(_parsed(item) for item in answer["value"]), next_link)
            url, query = next_link, None


def _parsed(item: object) -> AdvisoryFacts | MalformedItemError:
    try:
        return issue_facts(item)
    except MalformedItemError as e:
        return e


def issue_facts(item: object) -> AdvisoryFacts:
    """The facts a `serviceHealthIssue` states; unknown fields are ignored."""
    if not isinstance(item, dict):
        raise MalformedItemError("an issue is not an object")
    classification = canonical(item.get("classification"), CLASSIFICATIONS, "classification")
    if classification not in CLASSIFICATIONS:
        raise MalformedItemError(f"classification {classification!r} is not known")
    resolved = item.get("isResolved")
    if not isinstance(resolved, bool):
        raise MalformedItemError("isResolved is not true or false")
    vendor_id = text(item, "id") or ""
    try:
        return AdvisoryFacts(
            vendor_id=vendor_id,
            classification=AdvisoryClassification(classification),
            title=text(item, "title") or "",
            service=text(item, "service") or "",
            feature=text(item, "feature", required=False),
            feature_group=text(item, "featureGroup", required=False),
            impact_description=text(item, "impactDescription", required=False) or "",
            origin=_origin(item.get("origin")),
            status=canonical(item.get("status"), STATUSES, "status"),
            is_resolved=resolved,
            started_at=moment(item, "startDateTime"),
            ended_at=optional_moment(item, "endDateTime"),
            last_modified_at=moment(item, "lastModifiedDateTime"),
            posts=tuple(_post(p) for p in _list(item.get("posts"), "posts")),
        )
    except DomainError as e:  # the domain's own checks
        raise MalformedItemError(str(e)) from None


def _origin(value: object) -> str | None:
    return (
        None
        if value is None
        else canonical(value, ("microsoft", "thirdParty", "customer"), "origin")
    )


def _list(value: object, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedItemError(f"{field} is not a list")
    return value


def _post(post: object) -> AdvisoryPost:
    if not isinstance(post, dict):
        raise MalformedItemError("a post is not an object")
    description = post.get("description")
    content = description.get("content") if isinstance(description, dict) else None
    return AdvisoryPost(
        created_at=moment(post, "createdDateTime"),
        post_type=canonical(
            post.get("postType") or "regular", ("regular", "quick", "strategic"), "postType"
        ),
        text=content if isinstance(content, str) else "",
    )
