"""Encode/decode throughput: OrjsonTranscoder vs eventsourcing's JSONTranscoder.

Run: .venv/bin/python benchmarks/transcoder.py [N_EVENTS] [REPEATS]

Each event state is what the library's Mapper hands a transcoder: the event's
``vars()`` less originator id and version. About 15 fields: UUIDs, aware
datetimes, a date, Decimal amounts, StrEnum/IntEnum values, a nested metadata
dataclass (actor with role, correlation id, source), a tuple of three
invoice-line dataclasses and a 500-character description.

The library side gets hand-written transcodings for the dataclasses (they
rebuild their enum and tuple fields on decode) and for dates. Its `json`
encoder writes top-level StrEnum/IntEnum values as plain str/int and tuples
as lists without asking any transcoding, so it does less work and those
values come back with their types lost: the ratios favour the library.
"""

from __future__ import annotations

import gc
import random
import statistics
import string
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import IntEnum, StrEnum
from functools import partial
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import (
    DatetimeAsISO as LibDatetimeAsISO,
)
from eventsourcing.persistence import (
    DecimalAsStr as LibDecimalAsStr,
)
from eventsourcing.persistence import (
    JSONTranscoder,
    Transcoder,
    Transcoding,
)
from eventsourcing.persistence import (
    UUIDAsHex as LibUUIDAsHex,
)

from cases.persistence.transcoder import (
    DataclassAsDict,
    EnumAsValue,
    OrjsonTranscoder,
    default_transcoder,
)

if TYPE_CHECKING:
    from collections.abc import Callable


class Role(StrEnum):
    HELPDESK_AGENT = "helpdesk_agent"
    BILLING_ADMIN = "billing_admin"
    SYSTEM = "system"


class Source(StrEnum):
    API = "api"
    CLI = "cli"
    SCHEDULER = "scheduler"


class Status(StrEnum):
    OPEN = "open"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"


class Severity(IntEnum):
    SEV1 = 1
    SEV2 = 2
    SEV3 = 3


@dataclass(frozen=True, slots=True)
class Actor:
    principal_id: str
    role: Role


@dataclass(frozen=True, slots=True)
class EventMetadata:
    actor: Actor
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None
    source: Source


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    sku: str
    description: str
    quantity: int
    unit_price: Decimal


# --- the library side: hand-written transcodings -----------------------------


class LibDateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class LibActorAsDict(Transcoding):
    type = Actor
    name = "actor"

    def encode(self, obj: Actor) -> dict[str, Any]:
        return {"principal_id": obj.principal_id, "role": obj.role}

    def decode(self, data: dict[str, Any]) -> Actor:
        return Actor(data["principal_id"], Role(data["role"]))


class LibMetadataAsDict(Transcoding):
    type = EventMetadata
    name = "event_metadata"

    def encode(self, obj: EventMetadata) -> dict[str, Any]:
        return {
            "actor": obj.actor,
            "occurred_at": obj.occurred_at,
            "correlation_id": obj.correlation_id,
            "causation_id": obj.causation_id,
            "source": obj.source,
        }

    def decode(self, data: dict[str, Any]) -> EventMetadata:
        return EventMetadata(
            actor=data["actor"],
            occurred_at=data["occurred_at"],
            correlation_id=data["correlation_id"],
            causation_id=data["causation_id"],
            source=Source(data["source"]),
        )


class LibInvoiceLineAsDict(Transcoding):
    type = InvoiceLine
    name = "invoice_line"

    def encode(self, obj: InvoiceLine) -> dict[str, Any]:
        return {
            "sku": obj.sku,
            "description": obj.description,
            "quantity": obj.quantity,
            "unit_price": obj.unit_price,
        }

    def decode(self, data: dict[str, Any]) -> InvoiceLine:
        return InvoiceLine(**data)


def library_transcoder() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    for transcoding in (
        LibUUIDAsHex(),
        LibDecimalAsStr(),
        LibDatetimeAsISO(),
        LibDateAsISO(),
        LibActorAsDict(),
        LibMetadataAsDict(),
        LibInvoiceLineAsDict(),
    ):
        transcoder.register(transcoding)
    return transcoder


def our_transcoder() -> OrjsonTranscoder:
    return default_transcoder(
        EnumAsValue(Role, "role"),
        EnumAsValue(Source, "source"),
        EnumAsValue(Status, "case_status"),
        EnumAsValue(Severity, "severity"),
        DataclassAsDict(Actor, "actor"),
        DataclassAsDict(EventMetadata, "event_metadata"),
        DataclassAsDict(InvoiceLine, "invoice_line"),
    )


# --- data ------------------------------------------------------------------------


def make_states(count: int, rng: random.Random) -> list[dict[str, Any]]:
    zones = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    words = ["".join(rng.choices(string.ascii_lowercase, k=7)) for _ in range(200)]

    def uuid() -> UUID:
        return UUID(int=rng.getrandbits(128), version=4)

    def money() -> Decimal:
        return Decimal(rng.randrange(1, 10_000_000)).scaleb(-2)

    def moment() -> datetime:
        at = start + timedelta(seconds=rng.randrange(30_000_000))
        return at.astimezone(rng.choice(zones))

    states = []
    for _ in range(count):
        description = " ".join(rng.choices(words, k=70))[:500]
        states.append(
            {
                "timestamp": moment(),
                "case_id": uuid(),
                "customer_tenant_id": uuid(),
                "partner_id": uuid(),
                "subscription_id": uuid(),
                "status": rng.choice(list(Status)),
                "severity": rng.choice(list(Severity)),
                "opened_at": moment(),
                "due_on": date(2024, 1, 1) + timedelta(days=rng.randrange(400)),
                "amount": money(),
                "tax": money(),
                "currency": "EUR",
                "description": description,
                "lines": tuple(
                    InvoiceLine(
                        sku=f"SKU-{rng.randrange(10_000):05d}",
                        description=" ".join(rng.choices(words, k=4)),
                        quantity=rng.randrange(1, 500),
                        unit_price=money(),
                    )
                    for _ in range(3)
                ),
                "metadata": EventMetadata(
                    actor=Actor(f"user-{rng.randrange(1000)}", rng.choice(list(Role))),
                    occurred_at=moment(),
                    correlation_id=str(uuid()),
                    causation_id=rng.choice([None, str(uuid())]),
                    source=rng.choice(list(Source)),
                ),
            }
        )
    return states


# --- measuring -------------------------------------------------------------------


def encode_all(encode: Callable[[Any], bytes], states: list[dict[str, Any]]) -> None:
    for state in states:
        encode(state)


def decode_all(decode: Callable[[bytes], Any], encoded: list[bytes]) -> None:
    # Results are dropped, as a caller that folds events into an aggregate
    # would: keeping 20 000 decoded trees alive would mostly time the GC.
    for data in encoded:
        decode(data)


def seconds(run: Callable[[], None]) -> float:
    gc.collect()
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def check_exact(transcoder: Transcoder, states: list[dict[str, Any]]) -> bool:
    for state in states:
        copy = transcoder.decode(transcoder.encode(state))
        if copy != state or any(type(copy[key]) is not type(value) for key, value in state.items()):
            return False
    return True


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    states = make_states(count, random.Random(4))
    transcoders: dict[str, Transcoder] = {
        "OrjsonTranscoder": our_transcoder(),
        "JSONTranscoder": library_transcoder(),
    }
    encoded = {
        label: [transcoder.encode(state) for state in states]
        for label, transcoder in transcoders.items()
    }
    timings: dict[tuple[str, str], list[float]] = {}
    for _ in range(repeats):  # interleaved, so drift hits both alike
        for label, transcoder in transcoders.items():
            timings.setdefault((label, "encode"), []).append(
                seconds(partial(encode_all, transcoder.encode, states))
            )
            timings.setdefault((label, "decode"), []).append(
                seconds(partial(decode_all, transcoder.decode, encoded[label]))
            )
    results: dict[str, dict[str, float]] = {
        label: {
            "encode": count / statistics.median(timings[label, "encode"]),
            "decode": count / statistics.median(timings[label, "decode"]),
            "bytes": statistics.mean(len(data) for data in encoded[label]),
            "exact": float(check_exact(transcoder, states[:200])),
        }
        for label, transcoder in transcoders.items()
    }

    print(f"python {sys.version.split()[0]}, {count} events, median of {repeats} runs")
    header = f"{'transcoder':<18}{'encode ev/s':>14}{'decode ev/s':>14}"
    print(header + f"{'bytes/event':>13}{'exact types':>13}")
    for label, row in results.items():
        print(
            f"{label:<18}{row['encode']:>14,.0f}{row['decode']:>14,.0f}"
            f"{row['bytes']:>13,.0f}{'yes' if row['exact'] else 'no':>13}"
        )
    ours, library = results["OrjsonTranscoder"], results["JSONTranscoder"]
    print(
        f"{'ratio ours/lib':<18}{ours['encode'] / library['encode']:>13.2f}x"
        f"{ours['decode'] / library['decode']:>13.2f}x"
        f"{ours['bytes'] / library['bytes']:>12.2f}x"
    )


if __name__ == "__main__":
    main()
