"""`GET /problems/{rule}`: what each problem type means."""

from __future__ import annotations

from pydantic import BaseModel

from cases.api.errors import explain_rule
from cases.api.routing import Router
from cases.domain.errors import NotFoundError

router = Router(prefix="/problems", tags=["problems"])

API_RULES = {
    "unauthenticated": "Raised when no valid bearer token came with the request.",
    "forbidden": "Raised when the principal's role may not do what it asked.",
    "invalid-request": "Raised when the request's fields are missing, unknown or malformed.",
    "invalid-if-match": 'Raised when If-Match is not an ETag such as "7".',
    "invalid-cursor": "Raised when a list cursor was not one the API gave out.",
    "cursor-mismatch": "Raised when a list cursor comes back with other filters, sort or order.",
    "invalid-idempotency-key": "Raised when an Idempotency-Key is empty or too long.",
    "idempotency-key-reused": "Raised when an Idempotency-Key comes back with another request.",
    "idempotency-key-in-flight": "Raised when a retry arrives while the first is still running.",
    "position-not-recorded": "Raised when min_position is past the end of the log.",
    "projection-behind": "Raised when the read models did not reach a position in time.",
    "store-unavailable": "Raised when the database cannot be reached; nothing was recorded.",
    "schema-behind": "Raised when the database lacks migrations this version needs.",
    "date-out-of-range": "Raised when a day or moment lies outside the years 1900 to 2999.",
    "internal-error": "Raised when the server failed unexpectedly; quote the request id.",
    "store-busy": "Raised when a statement waited too long for a lock or ran too long; "
    "it was cancelled and nothing was recorded.",
    "projections-behind": "Raised by /ready when a read model lags the log beyond the bound.",
    "projections-stopped": "Raised by /ready when no runner keeps a read model up to date.",
    "outcome-unknown": "Raised when the database went away while a command committed: "
    "whether it was recorded is unknown; a retry with the same Idempotency-Key finds out.",
    "invalid-authorization": "Raised when a request carries more than one Authorization header.",
    "vendor-unavailable": "Raised when the vendor could not be reached or answered nothing "
    "usable; nothing was recorded (a request the vendor did open is logged with its id).",
    "vendor-not-configured": "Raised when the vendor's client credentials are not set.",
    "customer-chosen-case-id": "Raised when a customer principal names the id of a new case: "
    "only staff may (whether an id is taken would tell of other customers' cases).",
    "message-not-dead-lettered": "Raised when an outbox message that is not dead-lettered "
    "is to be retried: only failed and bounced messages are queued again.",
}


class ProblemType(BaseModel):
    type: str
    rule: str
    explanation: str


@router.get("/{rule}")
def explain_problem(rule: str) -> ProblemType:
    """What a problem `type` means."""
    explanation = API_RULES.get(rule) or explain_rule(rule)
    if explanation is None:
        raise NotFoundError(f"no problem type is called {rule!r}")
    return ProblemType(type=f"/problems/{rule}", rule=rule, explanation=explanation)
