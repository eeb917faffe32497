"""Business time: the service hours of one terms version as a calendar of instants.

A moment is *business time* when its local wall-clock time, in the terms' zone,
falls in a weekly span of its local weekday and its local date is neither a public
holiday of the terms' country (the `holidays` library) nor one of the partner's
own dates. Durations count the **real elapsed time** of those moments, so a span
01:00-04:00 lasts two hours on a spring-forward night and four on a fall-back
night, exactly as a clock on the wall would show it.

A span ends before midnight in the model (`ServiceSpan` needs end > start); one
ending at `time.max` (23:59:59.999999) ends *at* midnight (24:00), so Monday
22:00-`time.max` and Tuesday 00:00-06:00 form one night shift without a gap.

The calendar turns the spans of whole local years into sorted UTC intervals with
running totals, lazily, one year at a time; a duration is then two binary searches
whatever the range, so one calendar per terms version serves a report over
millions of cases.
"""

from __future__ import annotations

import functools
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from threading import Lock
from zoneinfo import ZoneInfo

import holidays

from cases.domain.errors import InvalidValueError
from cases.domain.support_terms import ServiceHours, ServiceSpan

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1)
_US = timedelta(microseconds=1)
_SECOND = 1_000_000
_DAY = 86_400 * _SECOND
# No zone moves its UTC offset twice within this step, so scanning at it finds
# every change; each change is then pinned to the second by bisection.
_SCAN_STEP = 6 * 3600 * _SECOND
# UTC offsets stay within ±26 hours, so a local date's instants lie within two
# days of its wall-clock midnight read as UTC.
_MARGIN = 2 * _DAY
_MAX_YEARS_AHEAD = 200


class BusinessCalendar:
    """When the partner provides service, as instants; durations in business time.

    Every moment given must be aware (any zone); moments returned are in the
    calendar's zone. Equal service hours make equal calendars with equal hashes,
    so a report can keep one per terms version. Not a stored value: it is derived
    from the `ServiceHours` that the terms store.
    """

    __slots__ = ("_hours", "_index")

    def __init__(self, hours: ServiceHours) -> None:
        self._hours = hours
        self._index = _YearIndex(hours)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BusinessCalendar):
            return NotImplemented
        return self._hours == other._hours

    def __hash__(self) -> int:
        return hash(self._hours)

    def __repr__(self) -> str:
        return f"BusinessCalendar({self._hours!r})"

    @property
    def hours(self) -> ServiceHours:
        return self._hours

    @classmethod
    def from_hours(cls, hours: ServiceHours, years: range | None = None) -> BusinessCalendar:
        """The shared calendar for `hours`, with `years` (local) prepared up front."""
        found = _BY_IDENTITY.get(id(hours))
        if found is not None and found[0] is hours:
            calendar = found[1]
        else:
            calendar = _shared_calendar(hours)
            if len(_BY_IDENTITY) >= _BY_IDENTITY_LIMIT:
                _BY_IDENTITY.clear()
            _BY_IDENTITY[id(hours)] = (hours, calendar)
        if years:
            calendar._index.cover(min(years), max(years))
        return calendar

    @property
    def zone(self) -> ZoneInfo:
        return self._index.zone

    def is_holiday(self, day: date) -> bool:
        """Whether `day` (local) is a public holiday or one of the partner's own."""
        return day in self._index.holidays_of(day.year)

    def business_duration(self, start: datetime, end: datetime) -> timedelta:
        """The business time from `start` to `end`; zero when `end` is not later."""
        a, b = _instant(start), _instant(end)
        if b <= a:
            return timedelta(0)
        table = self._index.covering(a, b)
        return (table.elapsed(b) - table.elapsed(a)) * _US

    def calendar_duration(self, start: datetime, end: datetime) -> timedelta:
        """The real time from `start` to `end`; zero when `end` is not later."""
        return max(timedelta(0), (_instant(end) - _instant(start)) * _US)

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The first moment by which `duration` of business time has passed since `start`.

        It is the inverse of `business_duration`: a target of four hours from a
        request received at 11:00, with a lunch break 12-13, is due at 16:00.
        """
        if duration < timedelta(0):
            raise InvalidValueError("a business-time duration cannot be negative")
        a = _instant(start)
        if not duration:
            return self._local(a)
        return self._local(self._index.after_business(a, duration // _US))

    def is_open(self, moment: datetime) -> bool:
        """Whether service is provided at `moment`."""
        t = _instant(moment)
        return self._index.covering(t, t).is_open(t)

    def next_opening(self, moment: datetime) -> datetime:
        """`moment` itself when service is open then, else the next moment it opens."""
        return self._local(self._index.next_open(_instant(moment)))

    def _local(self, instant: int) -> datetime:
        return (_EPOCH + instant * _US).astimezone(self._index.zone)


@functools.lru_cache(maxsize=256)  # equal hours: one calendar
def _shared_calendar(hours: ServiceHours) -> BusinessCalendar:
    return BusinessCalendar(hours)


# Each case holds its own `ServiceHours` object (decoded with it), and asks for its
# calendar on every clock change. Hashing the hours (every weekly span) and
# comparing them with the cached key's cost more than the rest of the lookup, so
# the same object finds its calendar by identity first. An entry holds its
# hours, so their id cannot be reused while it is here.
_BY_IDENTITY: dict[int, tuple[ServiceHours, BusinessCalendar]] = {}
_BY_IDENTITY_LIMIT = 4096


def _instant(moment: datetime) -> int:
    """Microseconds since the Unix epoch of an aware moment."""
    if moment.utcoffset() is None:
        raise InvalidValueError(f"moment {moment.isoformat()} has no time zone")
    return (moment - _EPOCH) // _US


def _clock(moment: time) -> int:
    """Microseconds from midnight of a local time."""
    return ((moment.hour * 60 + moment.minute) * 60 + moment.second) * _SECOND + (
        moment.microsecond
    )


def _day_spans(spans: tuple[ServiceSpan, ...], weekday: int) -> tuple[tuple[int, int], ...]:
    """A weekday's spans in microseconds from midnight, touching spans joined."""
    merged: list[tuple[int, int]] = []
    for span in spans:
        if span.weekday != weekday:
            continue
        start, end = _clock(span.start), _clock(span.end)
        if span.end in (time.max, time(0)):  # time(0) in case the model ever allows it
            end = _DAY
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


@dataclass(frozen=True, slots=True)
class _Table:
    """Sorted, disjoint business intervals [starts[i], ends[i]) in epoch microseconds.

    `before[i]` is the business time before interval i, `through[i]` the business
    time to its end. Exact for instants in [low, high]: intervals of years outside
    the table cannot reach in there.
    """

    low: int
    high: int
    starts: list[int]
    ends: list[int]
    before: list[int]
    through: list[int]

    @classmethod
    def of(cls, low: int, high: int, intervals: list[tuple[int, int]]) -> _Table:
        starts: list[int] = []
        ends: list[int] = []
        for start, end in sorted(intervals):
            if ends and ends[-1] == start:
                ends[-1] = end
            else:
                starts.append(start)
                ends.append(end)
        before, through, total = [], [], 0
        for start, end in zip(starts, ends, strict=True):
            before.append(total)
            total += end - start
            through.append(total)
        return cls(low, high, starts, ends, before, through)

    def holds(self, a: int, b: int) -> bool:
        return self.low <= a and b <= self.high

    def elapsed(self, t: int) -> int:
        """Business time from the table's first interval up to the instant t."""
        i = bisect_right(self.starts, t) - 1
        if i < 0:
            return 0
        return self.before[i] + min(t, self.ends[i]) - self.starts[i]

    def is_open(self, t: int) -> bool:
        i = bisect_right(self.starts, t) - 1
        return i >= 0 and t < self.ends[i]

    def reaching(self, target: int) -> int | None:
        """The first instant by which `target` business time has elapsed, if held."""
        i = bisect_left(self.through, target)
        if i == len(self.through):
            return None
        found = self.starts[i] + target - self.before[i]
        return found if found <= self.high else None

    def opening_after(self, t: int) -> int | None:
        i = bisect_right(self.starts, t)
        if i == len(self.starts) or self.starts[i] > self.high:
            return None
        return self.starts[i]


class _YearIndex:
    """Builds and keeps the business intervals of whole local years, on demand.

    Reads take the current table as one immutable value; a miss builds the years
    it lacks under a lock and swaps in a new table, so sharing is thread-safe.
    """

    def __init__(self, hours: ServiceHours) -> None:
        self.zone = ZoneInfo(hours.time_zone)
        self._country = hours.holiday_country
        if self._country is not None:
            try:
                holidays.country_holidays(self._country)
            except NotImplementedError:
                raise InvalidValueError(
                    f"no public holidays are known for country {self._country!r}"
                ) from None
        self._own = frozenset(hours.holidays)
        self._week = tuple(_day_spans(hours.weekly, weekday) for weekday in range(7))
        self._years: dict[int, list[tuple[int, int]]] = {}
        self._holidays: dict[int, frozenset[date]] = {}
        self._lock = Lock()
        self._table = _Table.of(0, -1, [])

    def holidays_of(self, year: int) -> frozenset[date]:
        found = self._holidays.get(year)
        if found is None:
            public: set[date] = set()
            if self._country is not None:
                public = set(holidays.country_holidays(self._country, years=year))
            found = frozenset(public | {d for d in self._own if d.year == year})
            self._holidays[year] = found
        return found

    def covering(self, a: int, b: int) -> _Table:
        """A table exact for every instant in [a, b]."""
        table = self._table
        if table.holds(a, b):
            return table
        # A local year is within one of the UTC year, so one more each side suffices.
        return self.cover(_utc_year(a) - 1, _utc_year(b) + 1)

    def after_business(self, a: int, duration: int) -> int:
        table = self.covering(a, a)
        for _ in range(_MAX_YEARS_AHEAD):
            found = table.reaching(table.elapsed(a) + duration)
            if found is not None:
                return found
            table = self.cover(_utc_year(a) - 1, _utc_year(table.high) + 1)
        raise InvalidValueError(f"no business time within {_MAX_YEARS_AHEAD} years")

    def next_open(self, t: int) -> int:
        table = self.covering(t, t)
        for _ in range(_MAX_YEARS_AHEAD):
            if table.is_open(t):
                return t
            found = table.opening_after(t)
            if found is not None:
                return found
            table = self.cover(_utc_year(t) - 1, _utc_year(table.high) + 1)
        raise InvalidValueError(f"no business time within {_MAX_YEARS_AHEAD} years")

    def cover(self, first: int, last: int) -> _Table:
        """The table after building every local year from `first` to `last`."""
        with self._lock:
            if self._years:
                first, last = min(first, *self._years), max(last, *self._years)
            missing = [y for y in range(first, last + 1) if y not in self._years]
            if missing:
                for year in missing:
                    self._years[year] = self._year_intervals(year)
                intervals = [i for year in self._years.values() for i in year]
                low = _wall(date(first, 1, 1)) + _MARGIN
                high = _wall(date(last + 1, 1, 1)) - _MARGIN
                self._table = _Table.of(low, high, intervals)
            return self._table

    def _year_intervals(self, year: int) -> list[tuple[int, int]]:
        """Instants whose local date is in `year`, not a holiday, and time in a span."""
        first = date(year, 1, 1)
        days = (date(year + 1, 1, 1) - first).days
        pieces = self._offset_pieces(_wall(first) - _MARGIN, _wall(first) + days * _DAY + _MARGIN)
        closed = self.holidays_of(year)
        intervals = []
        for n in range(days):
            day = first + timedelta(days=n)
            if day in closed:
                continue
            midnight = _wall(day)
            for start, end in self._week[day.weekday()]:
                for piece_start, piece_end, offset in pieces:
                    lo = max(midnight + start - offset, piece_start)
                    hi = min(midnight + end - offset, piece_end)
                    if lo < hi:
                        intervals.append((lo, hi))
        return intervals

    def _offset_pieces(self, low: int, high: int) -> list[tuple[int, int, int]]:
        """[low, high) cut where the zone's UTC offset changes: (start, end, offset)."""
        pieces: list[tuple[int, int, int]] = []
        probes = [*range(low, high, _SCAN_STEP), high]
        piece_start, offset = low, self._offset(low)
        for earlier, later in pairwise(probes):
            if self._offset(later) != offset:
                change = self._change_between(earlier, later, offset)
                pieces.append((piece_start, change, offset))
                piece_start, offset = change, self._offset(change)
        pieces.append((piece_start, high, offset))
        return pieces

    def _change_between(self, earlier: int, later: int, offset: int) -> int:
        """The first whole second after `earlier` whose offset differs from `offset`."""
        lo, hi = earlier // _SECOND, -(-later // _SECOND)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._offset(mid * _SECOND) == offset:
                lo = mid
            else:
                hi = mid
        return hi * _SECOND

    def _offset(self, instant: int) -> int:
        moment = (_EPOCH + instant * _US).astimezone(self.zone)
        return (moment.utcoffset() or timedelta(0)) // _US


def _wall(day: date) -> int:
    """A local midnight as if it were UTC: the wall clock in epoch microseconds."""
    return (day - _EPOCH_DAY).days * _DAY


def _utc_year(instant: int) -> int:
    return (_EPOCH + instant * _US).year
