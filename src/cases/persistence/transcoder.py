"""An orjson transcoder for eventsourcing that keeps exact types.

Stored shape (the same as eventsourcing's `JSONTranscoder`): JSON-native values
are written as they are, and every other object as a two-key object
``{"_type_": <transcoding name>, "_data_": <encoded data>}``. Data written here
for the types both know (UUID, Decimal, datetime) stays readable by the
library's `JSONTranscoder`, and data written by it stays readable here.

Why not just `orjson.dumps`? orjson natively serialises UUIDs, datetimes,
dataclasses, enums and tuples, but into plain strings, objects and lists, so
their types would be silently lost on the way back. So `encode` first walks the
object into a JSON-native tree (dict/list/str/int/float/bool/None), applying the
registered transcodings (recursively: a transcoding's result is walked again),
then calls `orjson.dumps` once. `decode` calls `orjson.loads` and, only if the
bytes mention ``"_type_"``, walks the tree bottom up turning tagged objects back
into objects (the data is decoded before its transcoding sees it, as the
library's ``object_hook`` does).

Exactness rules:

* Types are dispatched on ``type(obj)`` exactly: subclasses (a `StrEnum`, a
  `dict` subclass, a `UUID` subclass) need their own transcoding, otherwise
  encoding raises `TranscodingNotRegisteredError` instead of losing the type.
* Dict keys must be plain `str` (`TypeError` otherwise), and a plain dict whose
  keys are exactly ``_type_`` and ``_data_`` is refused (`ValueError`), since
  it would come back as a transcoded object.
* Integers beyond orjson's 64-bit range are written as
  ``{"_type_": "int_big", "_data_": "<decimal digits>"}``.
* Non-finite floats are refused (`ValueError`): orjson would write ``null``.
* Names are stored for years: never rename a transcoding; register a new one
  and keep the old name decodable.

Known limit: orjson reads integer literals beyond 64 bits as floats, so such
literals written by the library's `JSONTranscoder` would lose precision here
(this transcoder never writes them).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from abc import abstractmethod
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar
from uuid import UUID

import orjson
from eventsourcing import persistence as _es
from eventsourcing.persistence import (
    Transcoder,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "BIG_INT_NAME",
    "DATA_KEY",
    "TYPE_KEY",
    "DataclassAsDict",
    "DateAsISO",
    "DatetimeAsISO",
    "DecimalAsStr",
    "EnumAsValue",
    "FrozensetAsList",
    "IsoFormatted",
    "OrjsonTranscoder",
    "TupleAsList",
    "UUIDAsHex",
    "builtin_transcodings",
    "default_transcoder",
]

TYPE_KEY: Final = "_type_"
DATA_KEY: Final = "_data_"
BIG_INT_NAME: Final = "int_big"
"""Reserved name for integers outside orjson's range, stored as a string."""

_TYPE_MARKER: Final = b'"_type_"'
_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**64 - 1
_NONE_TYPE: Final = type(None)
_JSON_NATIVE_TYPES: Final = frozenset({str, int, float, bool, _NONE_TYPE, dict, list})

_T = TypeVar("_T")
_E = TypeVar("_E", bound=enum.Enum)
_D = TypeVar("_D")
_Iso = TypeVar("_Iso", date, datetime, time)

_Encoder = Callable[[Any], Any]


def _not_serializable(cls: type) -> str:
    return (
        f"Object of type {cls} is not serializable. Please define and "
        "register a custom transcoding for this type."
    )


def _not_deserializable(name: object) -> str:
    return (
        f"Data serialized with name '{name}' is not deserializable. Please "
        "register a custom transcoding for this type."
    )


def _check_float(value: float) -> float:
    if math.isfinite(value):
        return value
    raise ValueError(f"cannot encode non-finite float {value!r} as JSON")


def _checked_int(value: int) -> int | dict[str, str]:
    if _INT_MIN <= value <= _INT_MAX:
        return value
    return {TYPE_KEY: BIG_INT_NAME, DATA_KEY: str(value)}


_KINDS: dict[type[Any], str] = {str: "a string", list: "a list", dict: "a dict"}


def _data_of(name: str, data: Any, kind: type[_D]) -> _D:
    """`data` when it is exactly of `kind` (what transcoding `name` stores), else a TypeError."""
    if type(data) is not kind:
        raise TypeError(f"'{name}' data must be {_KINDS[kind]}, got {data!r}")
    return data


def _decode_big_int(data: Any) -> int:
    return int(_data_of(BIG_INT_NAME, data, str))


class _Walker:
    """Turns an object into a JSON-native tree: one mode of the encoder.

    The fast mode passes ints through untouched and lets orjson check dict
    keys; the careful mode, used only when orjson refused the fast tree,
    checks ints against orjson's range and dict keys itself.
    """

    __slots__ = ("encoders", "walk", "walk_fields", "walk_items")

    encoders: dict[type, _Encoder]
    walk: Callable[[Any], Any]
    walk_items: Callable[[Iterable[Any]], list[Any]]
    walk_fields: Callable[[Any, tuple[str, ...]], dict[str, Any]]

    def __init__(self, *, careful: bool) -> None:
        encoders: dict[type, _Encoder] = {}
        passthrough = frozenset(
            {str, bool, _NONE_TYPE} if careful else {str, int, bool, _NONE_TYPE}
        )

        def walk(obj: Any) -> Any:
            if type(obj) in passthrough:
                return obj
            return transcode(obj)

        def transcode(obj: Any) -> Any:  # obj is known not to pass through
            try:
                encoder = encoders[type(obj)]
            except KeyError:
                raise TranscodingNotRegisteredError(_not_serializable(type(obj))) from None
            return encoder(obj)

        def walk_items(items: Iterable[Any]) -> list[Any]:
            return [v if type(v) in passthrough else transcode(v) for v in items]

        def walk_dict(d: dict[Any, Any]) -> dict[str, Any]:
            if len(d) == 2 and TYPE_KEY in d and DATA_KEY in d:
                raise ValueError(
                    f"cannot encode a plain dict with exactly the keys "
                    f"{TYPE_KEY!r} and {DATA_KEY!r}: it would decode as a "
                    "transcoded object"
                )
            if careful:
                for key in d:
                    if type(key) is not str:
                        raise TypeError(f"dict keys must be str, got {type(key)} key {key!r}")
            return {k: v if type(v) in passthrough else transcode(v) for k, v in d.items()}

        def walk_fields(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name in names:
                v = getattr(obj, name)
                out[name] = v if type(v) in passthrough else transcode(v)
            return out

        encoders[dict] = walk_dict
        encoders[list] = walk_items
        encoders[float] = _check_float
        if careful:
            encoders[int] = _checked_int
        self.encoders = encoders
        self.walk = walk
        self.walk_items = walk_items
        self.walk_fields = walk_fields


class _WalkingTranscoding(Transcoding):
    """A transcoding that can build its JSON-native data directly.

    `encode_walked` must agree with ``walk(encode(obj))``; the transcoder uses
    it only while the class that defines `encode` also defines `encode_walked`,
    so a subclass overriding `encode` alone still gets the generic path.
    """

    @abstractmethod
    def encode_walked(self, obj: Any, walker: _Walker) -> Any:
        """Encodes obj into JSON-native data, walking nested values."""


def _defining_class(cls: type, attr: str) -> type | None:
    for klass in cls.__mro__:
        if attr in vars(klass):
            return klass
    return None


# --- built-in transcodings (names are stored: never change them) -----------


class DecimalAsStr(Transcoding):
    """`Decimal` as its string, keeping the exponent (``1.10`` stays ``1.10``)."""

    type = Decimal
    name = "decimal_str"

    def encode(self, obj: Decimal) -> str:
        return str(obj)

    def decode(self, data: str) -> Decimal:
        return Decimal(_data_of(self.name, data, str))


class IsoFormatted(Transcoding, Generic[_Iso]):
    """A `date`, `time` or `datetime` (the subclass's `type`) as its ISO 8601 text."""

    type: type[_Iso]

    def encode(self, obj: _Iso) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> _Iso:
        return self.type.fromisoformat(_data_of(self.name, data, str))


class DatetimeAsISO(IsoFormatted[datetime]):
    """Aware `datetime` as ISO 8601 with its UTC offset; naive ones are refused.

    The offset survives, the zone does not: a `ZoneInfo` datetime decodes
    with a fixed-offset `timezone` (equal instant, same wall time and offset).
    Offsets with a fraction of a second (never seen in real zones) are refused.
    """

    type = datetime
    name = "datetime_iso"
    # The last datetime encoded and its text: a command's events carry the same
    # moment object several times (its recording time in each event's metadata),
    # and `isoformat` formats each number through printf (ADR 0059 amendment of
    # 2026-12-05). One tuple, replaced whole: safe to read from any thread.
    _last: tuple[datetime, str] | None = None

    def encode(self, obj: datetime) -> str:
        last = self._last
        if last is not None and last[0] is obj:  # the very object: the same text
            return last[1]
        text = self._encoded(obj)
        self._last = (obj, text)
        return text

    @staticmethod
    def _encoded(obj: datetime) -> str:
        offset = obj.utcoffset()
        if offset is None:
            raise ValueError(
                f"refusing to encode naive datetime {obj.isoformat()}: only "
                "time-zone aware datetimes are stored (attach a tzinfo, e.g. UTC)"
            )
        if offset.microseconds:
            # `datetime.fromisoformat` doesn't read such offsets back reliably.
            raise ValueError(
                f"refusing to encode datetime {obj.isoformat()}: its UTC offset "
                "has a fraction of a second"
            )
        return obj.isoformat()


class DateAsISO(IsoFormatted[date]):
    """`date` as ``YYYY-MM-DD``."""

    type = date
    name = "date_iso"


class TupleAsList(_WalkingTranscoding):
    """`tuple` as a list of its (transcoded) items."""

    type = tuple
    name = "tuple_as_list"

    def encode(self, obj: tuple[Any, ...]) -> list[Any]:
        return list(obj)

    def encode_walked(self, obj: tuple[Any, ...], walker: _Walker) -> list[Any]:
        return walker.walk_items(obj)

    def decode(self, data: list[Any]) -> tuple[Any, ...]:
        return tuple(_data_of(self.name, data, list))


def _sort_key(item: Any) -> bytes:
    try:
        return orjson.dumps(item)
    except orjson.JSONEncodeError:
        # Only in the fast mode (an int beyond 64 bits); that tree is thrown
        # away and the careful mode sorts again with encodable items.
        return repr(item).encode()


class FrozensetAsList(_WalkingTranscoding):
    """`frozenset` as a list, sorted so that equal sets encode identically.

    Elements are sorted by value when they are mutually orderable, otherwise
    by their encoded bytes.
    """

    type = frozenset
    name = "frozenset_as_list"

    def encode(self, obj: frozenset[Any]) -> list[Any]:
        try:
            return sorted(obj)
        except TypeError:
            return list(obj)

    def encode_walked(self, obj: frozenset[Any], walker: _Walker) -> list[Any]:
        try:
            ordered = sorted(obj)
        except TypeError:
            walked = walker.walk_items(obj)
            walked.sort(key=_sort_key)
            return walked
        return walker.walk_items(ordered)

    def decode(self, data: list[Any]) -> frozenset[Any]:
        return frozenset(_data_of(self.name, data, list))


# --- generic transcodings for the project's own types -----------------------


def _check_name(name: str) -> str:
    if type(name) is not str or not name:
        raise ValueError(f"transcoding name must be a non-empty str, got {name!r}")
    return name


class EnumAsValue(_WalkingTranscoding, Generic[_E]):
    """An `Enum` member as its (transcoded) ``value``."""

    def __init__(self, enum_cls: type[_E], name: str) -> None:
        if not (isinstance(enum_cls, type) and issubclass(enum_cls, enum.Enum)):
            raise TypeError(f"EnumAsValue needs an Enum class, got {enum_cls!r}")
        self.type = enum_cls
        self.name = _check_name(name)
        self._enum_cls = enum_cls
        by_value: dict[Any, _E] = {}
        for member in enum_cls:
            try:
                by_value.setdefault(member.value, member)
            except TypeError:  # unhashable value: looked up by the enum itself
                continue
        self._by_value = by_value

    def encode(self, obj: _E) -> Any:
        return obj.value

    def encode_walked(self, obj: _E, walker: _Walker) -> Any:
        return walker.walk(obj.value)

    def decode(self, data: Any) -> _E:
        try:
            return self._by_value[data]
        except (KeyError, TypeError):
            return self._enum_cls(data)


_set = object.__setattr__


class DataclassAsDict(_WalkingTranscoding, Generic[_T]):
    """A dataclass value object as a dict of its ``init`` fields by name.

    Field values are walked, so nested value objects, Decimals, tuples and
    enums round-trip. Decoding sets the fields directly, without running
    ``__post_init__`` again (the values were validated when first made); data
    whose fields differ from the class's goes through ``cls(**fields)``, so
    defaults of newer fields apply. Fields with ``init=False`` are not stored.

    `repeated`: the same value is stored again and again (a case's service-level
    terms, an actor): the transcoder hands back the object it decoded last time
    from the same data (`OrjsonTranscoder`, "Repeated values"). Only for a class
    whose objects are immutable all the way down and hold nothing that reads
    differently later (a sealed personal text opens to its placeholder once
    erased).
    """

    def __init__(self, dataclass_cls: type[_T], name: str, *, repeated: bool = False) -> None:
        if not (isinstance(dataclass_cls, type) and dataclasses.is_dataclass(dataclass_cls)):
            raise TypeError(f"DataclassAsDict needs a dataclass class, got {dataclass_cls!r}")
        self.type = dataclass_cls
        self.name = _check_name(name)
        self.repeated = repeated
        self._cls = dataclass_cls
        self.field_names: tuple[str, ...] = tuple(
            f.name for f in dataclasses.fields(dataclass_cls) if f.init
        )
        self._field_set = frozenset(self.field_names)
        self._new = object.__new__

    def encode(self, obj: _T) -> dict[str, Any]:
        return {name: getattr(obj, name) for name in self.field_names}

    def encode_walked(self, obj: _T, walker: _Walker) -> dict[str, Any]:
        return walker.walk_fields(obj, self.field_names)

    def decode(self, data: dict[str, Any]) -> _T:
        data = _data_of(self.name, data, dict)
        if data.keys() != self._field_set:
            # Older data without a field added since (or with one removed):
            # let the class apply its defaults and complain about the rest.
            return self._cls(**data)
        # Stored values were validated when they were first made: rebuild the
        # object without re-running __post_init__ (validation is the costly part
        # of decoding). object.__setattr__ writes through frozen dataclasses.
        obj = self._new(self._cls)
        for name, value in data.items():
            _set(obj, name, value)
        return obj


def builtin_transcodings() -> tuple[Transcoding, ...]:
    """Fresh instances of the built-in transcodings."""
    return (
        UUIDAsHex(),
        DecimalAsStr(),
        DatetimeAsISO(),
        DateAsISO(),
        TupleAsList(),
        FrozensetAsList(),
    )


# `encode` functions known to return JSON-native data (a str): no walk needed.
_NATIVE_RESULT_ENCODES: Final[frozenset[object]] = frozenset(
    {
        UUIDAsHex.encode,
        DecimalAsStr.encode,
        IsoFormatted.encode,
        DatetimeAsISO.encode,
        _es.DecimalAsStr.encode,
        _es.DatetimeAsISO.encode,
    }
)


# `decode` methods that do no more than a C callable (same result, same
# TypeError for data that isn't a str): call it directly, saving a frame.
_C_DECODERS: Final[dict[object, Callable[[Any], Any]]] = {
    UUIDAsHex.decode: UUID,
    _es.DatetimeAsISO.decode: datetime.fromisoformat,
}


def _decoder_of(transcoding: Transcoding) -> Callable[[Any], Any]:
    """The C callable that does all `transcoding.decode` does, else the method."""
    if isinstance(transcoding, IsoFormatted) and type(transcoding).decode is IsoFormatted.decode:
        from_iso: Callable[[str], date | time] = transcoding.type.fromisoformat
        return from_iso
    return _C_DECODERS.get(type(transcoding).decode, transcoding.decode)


def _make_encoder(transcoding: Transcoding, walker: _Walker) -> _Encoder:
    name = transcoding.name
    encode = transcoding.encode
    cls = type(transcoding)
    if cls.encode in _NATIVE_RESULT_ENCODES:

        def encode_native(obj: Any) -> dict[str, Any]:
            return {TYPE_KEY: name, DATA_KEY: encode(obj)}

        return encode_native

    if isinstance(transcoding, _WalkingTranscoding) and _defining_class(
        cls, "encode"
    ) is _defining_class(cls, "encode_walked"):
        encode_walked = transcoding.encode_walked

        def encode_direct(obj: Any) -> dict[str, Any]:
            return {TYPE_KEY: name, DATA_KEY: encode_walked(obj, walker)}

        return encode_direct

    walk = walker.walk

    def encode_generic(obj: Any) -> dict[str, Any]:
        return {TYPE_KEY: name, DATA_KEY: walk(encode(obj))}

    return encode_generic


# Repeated values kept, over every repeated transcoding of one transcoder: past
# this many the table is emptied and fills again.
REPEATED_KEPT: Final = 1024


def _make_reviver(
    decoders: dict[str, Callable[[Any], Any]],
    repeated: set[str],
    kept: dict[tuple[str, bytes], Any],
) -> Callable[[Any], Any]:
    """Bottom-up walk turning tagged objects into objects, in place. A tagged
    object of a transcoding in `repeated` is looked up first in `kept` by its name
    and its data as stored: data met before gives the object decoded then."""

    def revive_list(items: list[Any]) -> list[Any]:
        for index, value in enumerate(items):
            cls = type(value)
            if cls is dict:
                items[index] = revive_dict(value)
            elif cls is list:
                revive_list(value)
        return items

    def revive_dict(obj: dict[str, Any]) -> Any:
        if len(obj) == 2 and TYPE_KEY in obj and DATA_KEY in obj:
            name = obj[TYPE_KEY]
            if type(name) is str and name in repeated:
                return revive_repeated(name, obj[DATA_KEY])
            data = obj[DATA_KEY]
            cls = type(data)
            if cls is dict:
                data = revive_dict(data)
            elif cls is list:
                revive_list(data)
            try:
                decoder = decoders[name]
            except (KeyError, TypeError):
                raise TranscodingNotRegisteredError(_not_deserializable(name)) from None
            return decoder(data)
        for key, value in obj.items():
            cls = type(value)
            if cls is dict:
                obj[key] = revive_dict(value)
            elif cls is list:
                revive_list(value)
        return obj

    def revive_repeated(name: str, data: Any) -> Any:
        """A repeated transcoding's object: the one decoded before from the same
        data, else decoded now and kept. Values are immutable, so sharing one is
        safe; threads racing on new data each decode it, and one is kept."""
        key = (name, orjson.dumps(data))  # as stored: before the walk changes it
        found = kept.get(key)
        if found is None:
            found = decoders[name](revive(data))
            if len(kept) >= REPEATED_KEPT:
                kept.clear()
            kept[key] = found
        return found

    def revive(obj: Any) -> Any:
        cls = type(obj)
        if cls is dict:
            return revive_dict(obj)
        if cls is list:
            return revive_list(obj)
        return obj

    return revive


class OrjsonTranscoder(Transcoder):
    """Exact-type JSON transcoder on orjson, compatible with `JSONTranscoder`.

    Constructible with no arguments (for the library's ``TRANSCODER_TOPIC``,
    e.g. ``cases.persistence.transcoder:OrjsonTranscoder``), in which case the
    built-in transcodings are registered.

    Repeated values (ADR 0087): a transcoding registered with ``repeated = True``
    declares that its values recur and are immutable all the way down. Decoding
    keeps the last `REPEATED_KEPT` such objects by their name and data as stored
    (the data's bytes, orjson's), and the same data gives the same object again
    without walking it. A case's service-level terms are about 40 tagged objects
    in every `Received` and every case snapshot, and are almost always one value.
    """

    def __init__(self, *, register_builtins: bool = True) -> None:
        self.types: dict[type, Transcoding] = {}
        self.names: dict[str, Transcoding] = {}
        self._fast = _Walker(careful=False)
        self._careful = _Walker(careful=True)
        self._decoders: dict[str, Callable[[Any], Any]] = {BIG_INT_NAME: _decode_big_int}
        self._repeated: set[str] = set()  # names of transcodings whose values recur
        self._kept: dict[tuple[str, bytes], Any] = {}  # their values, by name and data
        self._revive = _make_reviver(self._decoders, self._repeated, self._kept)
        # Legacy data only `json` reads (NaN, Infinity): orjson would write its NaN
        # as null, so its data is no faithful key. Decoded every time.
        self._revive_legacy = _make_reviver(self._decoders, set(), {})
        if register_builtins:
            for transcoding in builtin_transcodings():
                self.register(transcoding)

    def register(self, transcoding: Transcoding) -> None:
        """Registers a transcoding (a later one for the same type or name wins)."""
        cls = transcoding.type
        name = _check_name(transcoding.name)
        if cls in _JSON_NATIVE_TYPES:
            raise ValueError(f"{cls} is JSON-native and cannot be transcoded")
        if name == BIG_INT_NAME:
            raise ValueError(f"transcoding name {name!r} is reserved")
        self.types[cls] = transcoding
        self.names[name] = transcoding
        self._decoders[name] = _decoder_of(transcoding)
        if getattr(transcoding, "repeated", False) is True:
            self._repeated.add(name)
        else:
            self._repeated.discard(name)
        self._kept.clear()  # nothing decoded by a transcoding replaced since
        for walker in (self._fast, self._careful):
            walker.encoders[cls] = _make_encoder(transcoding, walker)

    def encode(self, obj: Any) -> bytes:
        """Encodes obj as compact UTF-8 JSON bytes."""
        tree = self._fast.walk(obj)
        try:
            return orjson.dumps(tree)
        except orjson.JSONEncodeError:
            # An int beyond 64 bits or a non-str dict key: walk carefully.
            return orjson.dumps(self._careful.walk(obj))

    def decode(self, data: bytes) -> Any:
        """Decodes bytes written by `encode` (or by the library's JSONTranscoder)."""
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            # Legacy data orjson refuses (NaN, Infinity, 1e400) but json reads.
            obj = json.loads(data)
            return self._revive_legacy(obj) if _TYPE_MARKER in data else obj
        if _TYPE_MARKER not in data:
            return obj
        return self._revive(obj)


def default_transcoder(*transcodings: Transcoding) -> OrjsonTranscoder:
    """A transcoder with the built-ins and the given transcodings registered."""
    transcoder = OrjsonTranscoder()
    for transcoding in transcodings:
        transcoder.register(transcoding)
    return transcoder
