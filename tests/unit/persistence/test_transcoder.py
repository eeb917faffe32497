"""The orjson transcoder: the library's whole transcoder suite, then ours."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum, IntEnum, StrEnum
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import (
    JSONTranscoder,
    Mapper,
    Transcoder,
    Transcoding,
    TranscodingNotRegisteredError,
)
from eventsourcing.popo import POPOFactory
from eventsourcing.tests.persistence import (
    CustomType1AsDict,
    CustomType2AsDict,
    Mydict,
    MyInt,
    MyList,
    MyStr,
    TranscoderTestCase,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from cases.persistence.transcoder import (
    DataclassAsDict,
    DatetimeAsISO,
    EnumAsValue,
    OrjsonTranscoder,
    TupleAsList,
    default_transcoder,
)

# --- the library's suite ----------------------------------------------------


class MydictAsDict(Transcoding):
    type = Mydict
    name = "mydict"

    def encode(self, obj: Mydict[str, Any]) -> dict[str, Any]:
        return dict(obj)

    def decode(self, data: dict[str, Any]) -> Mydict[str, Any]:
        return Mydict(data)


class MyListAsList(Transcoding):
    type = MyList
    name = "mylist"

    def encode(self, obj: MyList[Any]) -> list[Any]:
        return list(obj)

    def decode(self, data: list[Any]) -> MyList[Any]:
        return MyList(data)


class MyStrAsStr(Transcoding):
    type = MyStr
    name = "mystr"

    def encode(self, obj: MyStr) -> str:
        return str(obj)

    def decode(self, data: str) -> MyStr:
        return MyStr(data)


class MyIntAsInt(Transcoding):
    type = MyInt
    name = "myint"

    def encode(self, obj: MyInt) -> int:
        return int(obj)

    def decode(self, data: int) -> MyInt:
        return MyInt(data)


class TestOrjsonTranscoder(TranscoderTestCase):
    def construct_transcoder(self) -> Transcoder:
        return default_transcoder(
            CustomType1AsDict(),
            CustomType2AsDict(),
            MydictAsDict(),
            MyListAsList(),
            MyStrAsStr(),
            MyIntAsInt(),
        )


# --- our types ----------------------------------------------------------------


class Priority(StrEnum):
    LOW = "low"
    HIGH = "high"


class Severity(IntEnum):
    SEV1 = 1
    SEV2 = 2


class Channel(Enum):
    EMAIL = ("email", 1)
    PHONE = ("phone", 2)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class InvoiceLine:
    price: Money
    priorities: tuple[Priority, ...]
    severity: Severity
    note: str | None
    computed: int = field(init=False, default=0)


TRANSCODINGS: tuple[Transcoding, ...] = (
    EnumAsValue(Priority, "priority"),
    EnumAsValue(Severity, "severity"),
    EnumAsValue(Channel, "channel"),
    DataclassAsDict(Money, "money"),
    DataclassAsDict(InvoiceLine, "invoice_line"),
)


@pytest.fixture
def transcoder() -> OrjsonTranscoder:
    return default_transcoder(*TRANSCODINGS)


def assert_same(actual: Any, expected: Any) -> None:
    """Equal, and of the same type all the way down (1 == True, () == [] no)."""
    assert type(actual) is type(expected), (actual, expected)
    if isinstance(expected, dict):
        assert list(actual) == list(expected)
        for key in expected:
            assert_same(actual[key], expected[key])
    elif isinstance(expected, list | tuple):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected, strict=True):
            assert_same(a, e)
    elif isinstance(expected, Decimal):
        assert actual.as_tuple() == expected.as_tuple()
    elif isinstance(expected, datetime):
        assert actual == expected
        assert actual.utcoffset() == expected.utcoffset()
    else:
        assert actual == expected


def round_trip(transcoder: Transcoder, obj: Any) -> Any:
    copy = transcoder.decode(transcoder.encode(obj))
    assert_same(copy, obj)
    return copy


# --- our tests ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        Decimal("1.10"),
        Decimal("-42.5"),
        Decimal("0.00"),
        Decimal("-0"),
        Decimal("1E+3"),
        Decimal("123456789012345678901234567890.123456789012345678901234567890"),
    ],
)
def test_decimal_keeps_digits_and_exponent(transcoder: OrjsonTranscoder, value: Decimal) -> None:
    data = transcoder.encode(value)
    assert data == b'{"_type_":"decimal_str","_data_":"%s"}' % str(value).encode()
    round_trip(transcoder, value)


def test_aware_datetime_keeps_its_offset(transcoder: OrjsonTranscoder) -> None:
    moment = datetime(
        2024, 3, 31, 23, 59, 58, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))
    )
    data = transcoder.encode(moment)
    assert data == (b'{"_type_":"datetime_iso","_data_":"2024-03-31T23:59:58.123456+05:30"}')
    round_trip(transcoder, moment)


def test_the_same_instant_at_another_offset_is_not_taken_for_the_last_encoded(
    transcoder: OrjsonTranscoder,
) -> None:
    """The encoder remembers the last datetime object it wrote (a command's events
    carry one moment several times): an equal datetime at another offset, or the
    same object again after another, must each come out as themselves."""
    utc = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    paris = datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    assert utc == paris
    texts = [transcoder.encode({"at": m}) for m in (utc, utc, paris, utc)]
    assert texts == [
        b'{"at":{"_type_":"datetime_iso","_data_":"2026-03-02T08:00:00+00:00"}}',
        b'{"at":{"_type_":"datetime_iso","_data_":"2026-03-02T08:00:00+00:00"}}',
        b'{"at":{"_type_":"datetime_iso","_data_":"2026-03-02T09:00:00+01:00"}}',
        b'{"at":{"_type_":"datetime_iso","_data_":"2026-03-02T08:00:00+00:00"}}',
    ]
    with pytest.raises(ValueError, match="naive datetime"):  # still checked after a hit
        transcoder.encode({"at": datetime(2026, 3, 2, 8, 0)})  # noqa: DTZ001


def test_zoneinfo_datetime_decodes_with_the_same_offset(
    transcoder: OrjsonTranscoder,
) -> None:
    moment = datetime(2024, 7, 1, 9, 0, tzinfo=ZoneInfo("Europe/London"))
    copy = transcoder.decode(transcoder.encode(moment))
    assert copy == moment
    assert copy.utcoffset() == timedelta(hours=1)


def test_naive_datetime_is_refused(transcoder: OrjsonTranscoder) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        transcoder.encode({"at": datetime(2024, 1, 1, 12, 0)})  # noqa: DTZ001


def test_sub_second_utc_offset_is_refused(transcoder: OrjsonTranscoder) -> None:
    odd = timezone(timedelta(microseconds=1))
    with pytest.raises(ValueError, match="fraction of a second"):
        transcoder.encode(datetime(2000, 1, 1, tzinfo=odd))
    # Whole-second offsets (old local mean times) are fine.
    round_trip(transcoder, datetime(1900, 1, 1, tzinfo=timezone(timedelta(0, 1172))))


def test_date(transcoder: OrjsonTranscoder) -> None:
    assert transcoder.encode(date(2024, 2, 29)) == (b'{"_type_":"date_iso","_data_":"2024-02-29"}')
    round_trip(transcoder, date(2024, 2, 29))


def test_enums_by_value(transcoder: OrjsonTranscoder) -> None:
    assert transcoder.encode(Priority.HIGH) == (b'{"_type_":"priority","_data_":"high"}')
    assert transcoder.encode(Severity.SEV2) == b'{"_type_":"severity","_data_":2}'
    assert transcoder.decode(transcoder.encode(Priority.HIGH)) is Priority.HIGH
    assert transcoder.decode(transcoder.encode(Severity.SEV2)) is Severity.SEV2
    assert transcoder.decode(transcoder.encode(Channel.PHONE)) is Channel.PHONE


def test_unregistered_enum_is_refused_not_flattened() -> None:
    transcoder = OrjsonTranscoder()
    with pytest.raises(TranscodingNotRegisteredError, match="Priority"):
        transcoder.encode({"p": Priority.LOW})


def test_tuples_nested_in_dicts_in_lists(transcoder: OrjsonTranscoder) -> None:
    round_trip(
        transcoder,
        [{"a": (1, "x", (2, ())), "b": [(None, True)]}, (), [()], ({"c": (3,)},)],
    )


def test_dataclass_value_object(transcoder: OrjsonTranscoder) -> None:
    line = InvoiceLine(
        price=Money(Decimal("19.90"), "EUR"),
        priorities=(Priority.HIGH, Priority.LOW),
        severity=Severity.SEV1,
        note=None,
    )
    data = transcoder.encode(line)
    assert data == (
        b'{"_type_":"invoice_line","_data_":{'
        b'"price":{"_type_":"money","_data_":{"amount":'
        b'{"_type_":"decimal_str","_data_":"19.90"},"currency":"EUR"}},'
        b'"priorities":{"_type_":"tuple_as_list","_data_":['
        b'{"_type_":"priority","_data_":"high"},'
        b'{"_type_":"priority","_data_":"low"}]},'
        b'"severity":{"_type_":"severity","_data_":1},"note":null}}'
    )
    copy = transcoder.decode(data)
    assert copy == line
    assert type(copy.price.amount) is Decimal
    assert str(copy.price.amount) == "19.90"
    assert type(copy.priorities) is tuple
    assert copy.priorities[0] is Priority.HIGH
    assert copy.severity is Severity.SEV1
    assert copy.note is None


def test_frozenset_is_sorted_and_round_trips(transcoder: OrjsonTranscoder) -> None:
    assert transcoder.encode(frozenset({3, 1, 2})) == (
        b'{"_type_":"frozenset_as_list","_data_":[1,2,3]}'
    )
    round_trip(transcoder, frozenset({3, 1, 2}))
    mixed = frozenset({1, "a", (2, "b"), None})
    assert transcoder.decode(transcoder.encode(mixed)) == mixed
    assert transcoder.encode(mixed) == transcoder.encode(frozenset(reversed([*mixed])))


def test_dict_keys_stay_strings(transcoder: OrjsonTranscoder) -> None:
    copy = round_trip(transcoder, {"1": "one", "": 0, "ключ": "значення"})
    assert all(type(key) is str for key in copy)


@pytest.mark.parametrize("key", [1, None, Priority.LOW, UUID(int=1)])
def test_non_str_dict_keys_are_refused(transcoder: OrjsonTranscoder, key: Any) -> None:
    with pytest.raises(TypeError, match="dict keys must be str"):
        transcoder.encode({"outer": {key: 1}})


def test_dict_that_looks_transcoded_is_refused(transcoder: OrjsonTranscoder) -> None:
    with pytest.raises(ValueError, match="_type_"):
        transcoder.encode({"_type_": "uuid_hex", "_data_": "00"})


def test_integers_beyond_64_bits(transcoder: OrjsonTranscoder) -> None:
    big = [2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**40]
    data = transcoder.encode(big)
    assert data.startswith(b'[18446744073709551615,{"_type_":"int_big","_data_":')
    round_trip(transcoder, big)
    round_trip(transcoder, frozenset({1, "a", 2**70}))


def test_non_finite_floats_are_refused(transcoder: OrjsonTranscoder) -> None:
    round_trip(transcoder, [0.1, -0.0, 1e300])
    for value in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="non-finite"):
            transcoder.encode({"x": value})


def test_encoding_is_deterministic(transcoder: OrjsonTranscoder) -> None:
    obj = {
        "id": UUID("b2723fe2-c01a-40d2-875e-a3aac6a09ff5"),
        "tags": frozenset({"b", "a", "c"}),
        "amount": Decimal("1.10"),
    }
    assert transcoder.encode(obj) == transcoder.encode(dict(obj))
    assert transcoder.encode(obj) == default_transcoder(*TRANSCODINGS).encode(obj)


def test_readable_by_and_reads_the_library_json_transcoder() -> None:
    library = JSONTranscoder()
    ours = OrjsonTranscoder()
    for transcoding in ours.types.values():
        if transcoding.name in {"uuid_hex", "decimal_str", "datetime_iso"}:
            library.register(transcoding)
    obj = {
        "id": uuid4(),
        "amount": Decimal("-3.50"),
        "at": datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
        "text": "🐈 哈哈",
        "items": [1, 2.5, None, True],
    }
    assert library.decode(ours.encode(obj)) == obj
    assert library.encode(obj) == ours.encode(obj)
    assert ours.decode(library.encode(obj)) == obj
    # Legacy JSON that orjson refuses (NaN) is still read.
    nan = ours.decode(json.dumps({"x": float("nan")}).encode())["x"]
    assert math.isnan(nan)


def test_unknown_name_on_decode(transcoder: OrjsonTranscoder) -> None:
    with pytest.raises(TranscodingNotRegisteredError, match="'nope'"):
        transcoder.decode(b'[{"_type_":"nope","_data_":1}]')


def test_subclass_overriding_encode_is_honoured() -> None:
    class ReversedTuple(TupleAsList):
        name = "reversed_tuple"

        def encode(self, obj: tuple[Any, ...]) -> list[Any]:
            return list(reversed(obj))

        def decode(self, data: list[Any]) -> tuple[Any, ...]:
            return tuple(reversed(data))

    transcoder = default_transcoder(ReversedTuple())
    assert transcoder.encode((1, 2)) == (b'{"_type_":"reversed_tuple","_data_":[2,1]}')
    assert transcoder.decode(transcoder.encode((1, (2, 3)))) == (1, (2, 3))


def test_registration_guards() -> None:
    transcoder = OrjsonTranscoder()
    with pytest.raises(ValueError, match="reserved"):
        transcoder.register(type("BigInts", (DatetimeAsISO,), {"type": date, "name": "int_big"})())
    with pytest.raises(ValueError, match="JSON-native"):
        transcoder.register(type("Strs", (DatetimeAsISO,), {"type": str, "name": "s"})())
    with pytest.raises(TypeError):
        DataclassAsDict(Priority, "nope")
    with pytest.raises(TypeError):
        # Deliberately not an enum: the transcoding refuses it.
        EnumAsValue(Money, "nope")  # type: ignore[type-var]


def test_constructible_from_transcoder_topic() -> None:
    factory = POPOFactory({"TRANSCODER_TOPIC": "cases.persistence.transcoder:OrjsonTranscoder"})
    transcoder = factory.transcoder()
    assert isinstance(transcoder, OrjsonTranscoder)
    round_trip(transcoder, {"id": uuid4(), "at": datetime.now(tz=UTC)})


class Ticket(Aggregate):
    @event("Opened")
    def __init__(self, title: str, line: InvoiceLine, labels: tuple[str, ...]) -> None:
        self.title = title
        self.line = line
        self.labels = labels

    @event("Escalated")
    def escalate(self, severity: Severity, due: date) -> None:
        self.severity = severity
        self.due = due


def test_aggregate_event_state_round_trips(transcoder: OrjsonTranscoder) -> None:
    ticket = Ticket(
        "Licences missing",
        InvoiceLine(Money(Decimal("5.00"), "USD"), (Priority.LOW,), Severity.SEV2, "x"),
        ("billing", "csp"),
    )
    ticket.escalate(Severity.SEV1, date(2024, 6, 30))
    mapper: Mapper[UUID] = Mapper(transcoder=transcoder)
    for domain_event in ticket.collect_events():
        round_trip(transcoder, dict(vars(domain_event)))
        copy = mapper.to_domain_event(mapper.to_stored_event(domain_event))
        assert type(copy) is type(domain_event)
        assert_same(dict(sorted(vars(copy).items())), dict(sorted(vars(domain_event).items())))


# --- property -------------------------------------------------------------------

aware_datetimes = st.datetimes(
    timezones=st.one_of(
        st.just(UTC),
        st.integers(min_value=-86399, max_value=86399).map(
            lambda seconds: timezone(timedelta(seconds=seconds))
        ),
    )
)
scalars = st.one_of(
    st.text(),
    st.integers(),
    st.booleans(),
    st.none(),
    st.decimals(allow_nan=False),
    st.uuids(),
    aware_datetimes,
)


def _not_tagged(d: dict[str, Any]) -> bool:
    return not (len(d) == 2 and "_type_" in d and "_data_" in d)


trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.lists(children, max_size=5).map(tuple),
        st.dictionaries(st.text(max_size=8), children, max_size=5).filter(_not_tagged),
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(tree=trees)
def test_random_trees_round_trip_exactly(tree: Any) -> None:
    transcoder = OrjsonTranscoder()
    copy = round_trip(transcoder, tree)
    assert copy == tree
    assert transcoder.encode(copy) == transcoder.encode(tree)


del TranscoderTestCase


@dataclass(frozen=True, slots=True)
class Validated:
    """Counts its validations, and has a field added 'later' with a default."""

    text: str
    added_later: int = 7

    def __post_init__(self) -> None:
        VALIDATIONS.append(self.text)


VALIDATIONS: list[str] = []


def test_decoding_rebuilds_value_objects_without_validating_again() -> None:
    """Stored values were validated when made; decoding sets fields directly."""
    codec = default_transcoder(DataclassAsDict(Validated, "validated"))
    data = codec.encode(Validated("x", 3))
    VALIDATIONS.clear()
    decoded = codec.decode(data)
    assert decoded == Validated("x", 3)
    assert type(decoded) is Validated
    assert VALIDATIONS == ["x"]  # only the comparison value above was validated


def test_older_data_missing_a_newer_field_gets_its_default() -> None:
    codec = default_transcoder(DataclassAsDict(Validated, "validated"))
    decoded = codec.decode(b'{"_type_":"validated","_data_":{"text":"old"}}')
    assert decoded == Validated("old", 7)
