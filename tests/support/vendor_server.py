"""A local HTTP server playing the vendor from fixtures in its documented shapes.

    with VendorServer() as vendor:
        vendor.issues = [issue("EX1", ...)]
        settings = Settings(..., **vendor.settings())

It serves an OAuth 2.0 token endpoint (client credentials), Microsoft Graph's
service-health issues (filtered by `lastModifiedDateTime ge`, ordered, paged by
`@odata.nextLink`) and Partner Center service requests, and can be told to
throttle (429/503 with Retry-After), to expire every token it gave (401), or to
answer garbage. Real sockets, real HTTP: nothing of the client is mocked.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from uuid import uuid4

ISSUES = "/v1.0/admin/serviceAnnouncement/issues"
SERVICE_REQUESTS = "/v1/servicerequests"
NO_DATE = "0001-01-01T00:00:00"
CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret"  # noqa: S105 - the fake vendor's own fixture


def graph_time(moment: datetime) -> str:
    """A moment as Graph writes it: UTC with a Z, seven fraction digits."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def issue(
    vendor_id: str,
    modified: datetime,
    *,
    status: str = "serviceDegradation",
    classification: str = "incident",
    service: str = "Exchange Online",
    resolved: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """A `serviceHealthIssue` as Graph sends it (`extra` adds or overrides fields)."""
    body: dict[str, Any] = {
        "id": vendor_id,
        "title": f"Users can't reach {service} ({vendor_id})",
        "service": service,
        "feature": "E-Mail and calendar access",
        "featureGroup": "E-Mail and calendar access",
        "impactDescription": "Users may be unable to send or receive mail.",
        "classification": classification,
        "origin": "microsoft",
        "status": status,
        "isResolved": resolved,
        "startDateTime": "2026-03-01T07:00:00Z",
        "endDateTime": "2026-03-02T07:00:00Z" if resolved else None,
        "lastModifiedDateTime": graph_time(modified),
        "posts": [
            {
                "createdDateTime": graph_time(modified),
                "postType": "regular",
                "description": {"contentType": "html", "content": f"Status: {status.casefold()}"},
            }
        ],
    }
    body.update(extra)
    return body


class VendorServer:
    """The fake vendor; its attributes are the fixtures and the faults to play."""

    def __init__(self, page_size: int = 3) -> None:
        self.page_size = page_size
        self.issues: list[dict[str, Any]] = []
        self.throttle: list[tuple[int, str]] = []  # answers to give first: (status, Retry-After)
        self.garbage = 0  # requests to answer with a body that is not JSON
        self.refuse_from: int | None = None  # data requests from this one on: 503
        self.delay = 0.0  # seconds to wait before each data answer
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.requests: list[str] = []  # path?query of every data request
        self.service_requests: dict[str, dict[str, Any]] = {}
        self.created: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def settings(self) -> dict[str, Any]:
        """The `Settings` fields that point a process at this vendor."""
        return {
            "vendor_token_url": f"{self.url}/token",
            "vendor_client_id": CLIENT_ID,
            "vendor_client_secret": CLIENT_SECRET,
            "graph_base_url": f"{self.url}/v1.0",
            "partner_center_base_url": f"{self.url}/v1",
            "vendor_max_retry_wait": 0.05,
        }

    def environment(self) -> dict[str, str]:
        return {f"CASES_{k.upper()}": str(v) for k, v in self.settings().items()}

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def __enter__(self) -> VendorServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(5)

    # Answers ------------------------------------------------------------

    def answer(self, method: str, target: str, headers: Any, body: bytes) -> tuple[int, Any, str]:
        """(status, JSON body or raw text, Retry-After) for one request."""
        parts = urlsplit(target)
        if parts.path == "/token":
            return self._token(body)
        refused = self._fault(target) or self._unauthorised(headers)
        if refused is not None:
            return refused
        if parts.path == ISSUES and method == "GET":
            return 200, self._issues(parse_qs(parts.query)), ""
        return self.answer_service_request(method, parts.path, body)

    def _fault(self, target: str) -> tuple[int, Any, str] | None:
        """The fault to play on this data request, if any."""
        with self._lock:
            self.requests.append(target)
            if self.refuse_from is not None and len(self.requests) > self.refuse_from:
                return 503, {"error": {"code": "ServiceUnavailable"}}, "0"
            if self.throttle:
                status, wait = self.throttle.pop(0)
                return status, {"error": {"code": "TooManyRequests"}}, wait
            if self.garbage:
                self.garbage -= 1
                return 200, "<html>Service Unavailable</html>", ""
        time.sleep(self.delay)
        return None

    def _unauthorised(self, headers: Any) -> tuple[int, Any, str] | None:
        auth = headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:] in self.tokens:
            return None
        return 401, {"error": {"code": "InvalidAuthenticationToken"}}, ""

    def answer_service_request(self, method: str, path: str, body: bytes) -> tuple[int, Any, str]:
        """Partner Center: open a request (POST .../servicerequests/{locale}), or
        list them (GET .../servicerequests?offset=N), a page at a time."""
        if method == "POST" and path.startswith(SERVICE_REQUESTS + "/"):
            return self._open_request(json.loads(body))
        if method == "GET" and path == SERVICE_REQUESTS:
            return 200, self._request_page(0), ""
        if method == "GET" and path.startswith(SERVICE_REQUESTS + "/page/"):
            return 200, self._request_page(int(path.rsplit("/", 1)[1])), ""
        return 404, {"code": 404, "description": f"no {path}"}, ""

    def _open_request(self, body: dict[str, Any]) -> tuple[int, Any, str]:
        title = body.get("Title")
        if not isinstance(title, str) or not 0 < len(title) <= 255:
            return 400, {"code": 400, "description": "Title must be 1 to 255 characters"}, ""
        self.created.append(body)
        request_id = f"26030200{len(self.created):08d}"
        now = graph_time(datetime.now(UTC))
        self.service_requests[request_id] = {
            "id": request_id,
            "title": title,
            "description": body.get("Description"),
            "severity": body.get("Severity"),
            "supportTopicId": body.get("SupportTopicId"),
            "primaryContact": body.get("PrimaryContact"),
            "status": "open",
            "createdDate": now,
            "lastModifiedDate": now,
            "lastClosedDate": NO_DATE,
            "notes": [
                {"createdByName": "Partner", "createdDate": now, "text": n["Text"]}
                for n in body.get("Notes", [])
            ],
            "countryCode": "SE",
            "attributes": {"objectType": "ServiceRequest"},
        }
        return 201, self.service_requests[request_id], ""

    def _request_page(self, offset: int) -> dict[str, Any]:
        items = list(self.service_requests.values())
        page = items[offset : offset + self.page_size]
        answer: dict[str, Any] = {
            "totalCount": len(items),
            "items": page,
            "attributes": {"objectType": "Collection"},
        }
        if offset + self.page_size < len(items):
            uri = f"{self.url}{SERVICE_REQUESTS}/page/{offset + self.page_size}"
            answer["links"] = {"next": {"uri": uri, "method": "GET", "headers": []}}
        return answer

    def vendor_note(self, request_id: str, text: str, by: str = "Microsoft Support") -> None:
        """The vendor writes a note on a request."""
        now = graph_time(datetime.now(UTC))
        request = self.service_requests[request_id]
        request["notes"].append({"createdByName": by, "createdDate": now, "text": text})
        request["lastModifiedDate"] = now

    def _token(self, body: bytes) -> tuple[int, Any, str]:
        form = parse_qs(body.decode())
        self.token_requests += 1
        if form.get("client_id") != [CLIENT_ID] or form.get("client_secret") != [CLIENT_SECRET]:
            return 401, {"error": "invalid_client"}, ""
        if form.get("grant_type") != ["client_credentials"]:
            return 400, {"error": "unsupported_grant_type"}, ""
        token = uuid4().hex
        self.tokens.add(token)
        return 200, {"token_type": "Bearer", "expires_in": 3599, "access_token": token}, ""

    def _issues(self, query: dict[str, list[str]]) -> dict[str, Any]:
        with self._lock:
            items = sorted(self.issues, key=_modified)
        since = query.get("$filter", [""])[0].removeprefix("lastModifiedDateTime ge ")
        if since:
            items = [i for i in items if _modified(i) >= _parse(since)]
        skip = int(query.get("$skiptoken", ["0"])[0])
        top = min(int(query.get("$top", [str(self.page_size)])[0]), self.page_size)
        page = items[skip : skip + top]
        answer: dict[str, Any] = {"@odata.context": "fixture", "value": page}
        if skip + top < len(items):
            rest = {k: v[0] for k, v in query.items() if k != "$skiptoken"}
            rest["$skiptoken"] = str(skip + top)
            answer["@odata.nextLink"] = f"{self.url}{ISSUES}?{urlencode(rest)}"
        return answer


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value))


def _modified(item: dict[str, Any]) -> datetime:
    """An issue's modification moment; a malformed one sorts first."""
    try:
        return _parse(str(item["lastModifiedDateTime"]))
    except (KeyError, ValueError):
        return datetime.min.replace(tzinfo=UTC)


def _handler(vendor: VendorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, answer, retry_after = vendor.answer(self.command, self.path, self.headers, body)
            data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if retry_after:
                self.send_header("Retry-After", retry_after)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve  # noqa: N815 - http.server's names

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def vendor_server(page_size: int = 3) -> Iterator[VendorServer]:
    with VendorServer(page_size) as vendor:
        yield vendor
