"""Business time from the terms' service hours: zones, DST, midnight, holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cases.domain.business_calendar import BusinessCalendar
from cases.domain.errors import InvalidValueError
from cases.domain.support_terms import ServiceHours, ServiceSpan
from tests.support.builders import office_hours

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NEW_YORK = ZoneInfo("America/New_York")
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
FOUR_HOURS = 4 * HOUR


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM)


def office(*own: date) -> BusinessCalendar:
    """Weekdays 08-12 and 13-17 in Stockholm, Swedish public holidays, `own` days off."""
    hours = office_hours()
    return BusinessCalendar(
        ServiceHours(hours.time_zone, hours.weekly, hours.holiday_country, tuple(own))
    )


def every_day(start: time, end: time, zone: str = "Europe/Stockholm") -> BusinessCalendar:
    return BusinessCalendar(ServiceHours(zone, tuple(ServiceSpan(d, start, end) for d in range(7))))


def night_shift() -> BusinessCalendar:
    """Monday 22:00 to Tuesday 06:00, written as two spans that meet at midnight."""
    spans = (ServiceSpan(0, time(22), time.max), ServiceSpan(1, time(0), time(6)))
    return BusinessCalendar(ServiceHours("Europe/Stockholm", spans))


class TestOutsideServiceHours:
    def test_friday_evening_request_waits_for_monday_morning(self) -> None:
        """Received Friday 18:30, the clock starts Monday 08:00; 4 h are due at 12:00."""
        calendar, received = office(), at(2026, 3, 6, 18, 30)
        assert not calendar.is_open(received)
        assert calendar.next_opening(received) == at(2026, 3, 9, 8)
        assert calendar.add_business_time(received, FOUR_HOURS) == at(2026, 3, 9, 12)
        assert calendar.business_duration(received, at(2026, 3, 9, 10, 15)) == timedelta(
            hours=2, minutes=15
        )

    def test_calendar_time_runs_all_weekend(self) -> None:
        """Friday 18:30 to Monday 10:15 is 63 h 45 min of calendar time."""
        assert office().calendar_duration(at(2026, 3, 6, 18, 30), at(2026, 3, 9, 10, 15)) == (
            timedelta(hours=63, minutes=45)
        )

    def test_request_in_the_lunch_break_starts_at_13(self) -> None:
        """Received at 12:20, the 4 h run 13:00-17:00."""
        calendar, received = office(), at(2026, 3, 3, 12, 20)
        assert not calendar.is_open(received)
        assert calendar.next_opening(received) == at(2026, 3, 3, 13)
        assert calendar.add_business_time(received, FOUR_HOURS) == at(2026, 3, 3, 17)

    def test_lunch_break_is_skipped_mid_target(self) -> None:
        """Received at 11:30: half an hour before lunch, 3.5 h after, due 16:30."""
        calendar, received = office(), at(2026, 3, 3, 11, 30)
        assert calendar.add_business_time(received, FOUR_HOURS) == at(2026, 3, 3, 16, 30)
        assert calendar.business_duration(received, at(2026, 3, 3, 16, 30)) == FOUR_HOURS

    def test_target_ending_at_lunch_is_due_at_noon_not_after_lunch(self) -> None:
        """Due the moment the time has elapsed: 12:00, not 13:00."""
        assert office().add_business_time(at(2026, 3, 3, 8), FOUR_HOURS) == at(2026, 3, 3, 12)

    def test_open_moment_is_its_own_next_opening(self) -> None:
        """During service hours the next opening is now."""
        calendar, moment = office(), at(2026, 3, 3, 9, 15)
        assert calendar.is_open(moment)
        assert calendar.next_opening(moment) == moment


class TestHolidays:
    def test_request_received_on_epiphany_waits_a_day(self) -> None:
        """Trettondedag jul (Tue 2026-01-06) is closed: the clock starts Wednesday 08:00."""
        calendar, received = office(), at(2026, 1, 6, 9)
        assert calendar.is_holiday(date(2026, 1, 6))
        assert not calendar.is_open(received)
        assert calendar.add_business_time(received, FOUR_HOURS) == at(2026, 1, 7, 12)

    def test_target_straddling_christmas_resumes_after_the_weekend(self) -> None:
        """Thu 24 Dec 15:00: 2 h that day, Christmas Friday and the weekend closed, 2 h Monday."""
        calendar, received = office(), at(2026, 12, 24, 15)
        assert calendar.is_holiday(date(2026, 12, 25))
        assert calendar.add_business_time(received, FOUR_HOURS) == at(2026, 12, 28, 10)
        assert calendar.business_duration(received, at(2026, 12, 28, 10)) == FOUR_HOURS

    def test_midsummer_eve_is_open_unless_the_partner_closes(self) -> None:
        """Midsommarafton is not a public holiday in the data; the partner's own date closes it."""
        received = at(2026, 6, 18, 15)
        assert not office().is_holiday(date(2026, 6, 19))
        assert office().add_business_time(received, FOUR_HOURS) == at(2026, 6, 19, 10)
        closed = office(date(2026, 6, 19))
        assert closed.is_holiday(date(2026, 6, 19))
        assert closed.add_business_time(received, FOUR_HOURS) == at(2026, 6, 22, 10)

    def test_unknown_holiday_country_is_refused(self) -> None:
        """A country the holidays library does not know is a clear error."""
        hours = ServiceHours("UTC", (ServiceSpan(0, time(8), time(17)),), holiday_country="XX")
        with pytest.raises(InvalidValueError, match="XX"):
            BusinessCalendar(hours)


class TestDaylightSaving:
    def test_stockholm_spring_forward_night_is_one_hour_short(self) -> None:
        """00:00-06:00 on 2026-03-29 lasts 5 real hours: 02:00-03:00 never happens."""
        calendar = every_day(time(0), time(6))
        day = calendar.business_duration(at(2026, 3, 29), at(2026, 3, 30))
        assert day == timedelta(hours=5)
        assert calendar.add_business_time(at(2026, 3, 29), 2 * HOUR) == at(2026, 3, 29, 3)

    def test_stockholm_fall_back_night_is_one_hour_long(self) -> None:
        """00:00-06:00 on 2026-10-25 lasts 7 real hours: 02:00-03:00 happens twice."""
        calendar = every_day(time(0), time(6))
        assert calendar.business_duration(at(2026, 10, 25), at(2026, 10, 26)) == 7 * HOUR

    def test_stockholm_spring_forward_over_a_weekend(self) -> None:
        """Fri 27 Mar 16:00 + 4 h is due Mon 11:00; 66 real hours pass, not 67 wall hours."""
        calendar, received = office(), at(2026, 3, 27, 16)
        due = calendar.add_business_time(received, FOUR_HOURS)
        assert due == at(2026, 3, 30, 11)
        assert calendar.calendar_duration(received, due) == 66 * HOUR

    def test_stockholm_whole_days_across_the_changes(self) -> None:
        """Round the clock, 29 March has 23 business hours and 25 October has 25."""
        calendar = every_day(time(0), time.max)
        assert calendar.business_duration(at(2026, 3, 29), at(2026, 3, 30)) == 23 * HOUR
        assert calendar.business_duration(at(2026, 10, 25), at(2026, 10, 26)) == 25 * HOUR

    def test_new_york_span_over_the_changes(self) -> None:
        """01:00-03:00 in New York: 1 h on 2026-03-08, 3 h on 2026-11-01."""
        calendar = every_day(time(1), time(3), "America/New_York")
        spring = calendar.business_duration(
            datetime(2026, 3, 8, tzinfo=NEW_YORK), datetime(2026, 3, 9, tzinfo=NEW_YORK)
        )
        fall = calendar.business_duration(
            datetime(2026, 11, 1, tzinfo=NEW_YORK), datetime(2026, 11, 2, tzinfo=NEW_YORK)
        )
        assert (spring, fall) == (HOUR, 3 * HOUR)

    def test_span_starting_in_the_repeated_hour(self) -> None:
        """01:30-04:00 on the New York fall-back day: 01:30-02:00 EDT, then 01:30-04:00 EST.

        Three real hours, not the 3.5 between the first 01:30 and 04:00.
        """
        calendar = every_day(time(1, 30), time(4), "America/New_York")
        fall = calendar.business_duration(
            datetime(2026, 11, 1, tzinfo=NEW_YORK), datetime(2026, 11, 2, tzinfo=NEW_YORK)
        )
        assert fall == 3 * HOUR

    def test_moments_in_any_zone_give_the_same_answer(self) -> None:
        """The same instants written in UTC give the same business time."""
        calendar, start, end = office(), at(2026, 3, 27, 9), at(2026, 3, 30, 15)
        utc = calendar.business_duration(start.astimezone(UTC), end.astimezone(UTC))
        assert utc == calendar.business_duration(start, end) == 13 * HOUR


class TestMidnight:
    def test_night_shift_runs_through_midnight(self) -> None:
        """Monday 22:00-24:00 and Tuesday 00:00-06:00 make 8 h in a row."""
        calendar = night_shift()
        assert calendar.business_duration(at(2026, 3, 2, 21), at(2026, 3, 3, 7)) == 8 * HOUR
        assert calendar.is_open(at(2026, 3, 2, 23, 59))
        assert calendar.is_open(at(2026, 3, 3))

    def test_target_due_at_midnight_and_across_it(self) -> None:
        """Two hours from 22:00 end at 00:00 sharp; three from 23:00 end at 02:00."""
        calendar = night_shift()
        assert calendar.add_business_time(at(2026, 3, 2, 22), 2 * HOUR) == at(2026, 3, 3)
        assert calendar.add_business_time(at(2026, 3, 2, 23), 3 * HOUR) == at(2026, 3, 3, 2)

    def test_after_the_shift_the_next_opening_is_next_monday(self) -> None:
        """At Tuesday 06:00 the shift is over until Monday 22:00."""
        calendar = night_shift()
        assert not calendar.is_open(at(2026, 3, 3, 6))
        assert calendar.next_opening(at(2026, 3, 3, 6)) == at(2026, 3, 9, 22)


class TestValuesAndEdges:
    def test_end_before_start_is_zero(self) -> None:
        """Backwards ranges have no business or calendar time."""
        calendar = office()
        assert calendar.business_duration(at(2026, 3, 3, 12), at(2026, 3, 3, 9)) == timedelta(0)
        assert calendar.calendar_duration(at(2026, 3, 3, 12), at(2026, 3, 3, 9)) == timedelta(0)

    def test_naive_moments_are_refused(self) -> None:
        """A moment without a zone is ambiguous."""
        with pytest.raises(InvalidValueError, match="no time zone"):
            office().is_open(datetime(2026, 3, 3, 9))  # noqa: DTZ001

    def test_negative_duration_is_refused(self) -> None:
        """Adding negative business time is a mistake, not a subtraction."""
        with pytest.raises(InvalidValueError, match="negative"):
            office().add_business_time(at(2026, 3, 3, 9), -HOUR)

    def test_calendars_of_equal_hours_are_equal_and_shared(self) -> None:
        """Equal hours make equal, equally hashed calendars; from_hours reuses one."""
        assert office() == office()
        assert hash(office()) == hash(office())
        shared = BusinessCalendar.from_hours(office_hours(), years=range(2025, 2028))
        assert BusinessCalendar.from_hours(office_hours()) is shared

    def test_the_same_hours_find_their_calendar_without_hashing_them(self) -> None:
        """A case asks for its calendar on every clock change, with its own hours
        object: found by identity, the hours are hashed once, not per ask."""
        hashed: list[object] = []

        class CountedHours(ServiceHours):
            __slots__ = ()

            def __hash__(self) -> int:
                hashed.append(self)
                return super().__hash__()

        plain = office_hours()
        hours = CountedHours(plain.time_zone, plain.weekly, plain.holiday_country)
        first = BusinessCalendar.from_hours(hours)
        for _ in range(3):
            assert BusinessCalendar.from_hours(hours) is first
        assert len(hashed) == 1

    def test_durations_across_years(self) -> None:
        """From New Year's Eve 2025 to 2027, 8 h a working day less holidays add up."""
        calendar = office()
        working = sum(
            1
            for n in range(365)
            if (d := date(2026, 1, 1) + timedelta(days=n)).weekday() < 5
            and not calendar.is_holiday(d)
        )
        assert calendar.business_duration(at(2025, 12, 31, 17), at(2027, 1, 1)) == 8 * HOUR * (
            working
        )
        assert working == 254


# Property tests against a brute-force minute count.

# Each zone with the days it changes its clocks (or plain days), and a year end.
ZONES = {
    "Europe/Stockholm": [date(2026, 3, 29), date(2026, 10, 25), date(2025, 3, 30)],
    "America/New_York": [date(2026, 3, 8), date(2026, 11, 1), date(2025, 11, 2)],
    "Australia/Sydney": [date(2026, 4, 5), date(2026, 10, 4), date(2025, 10, 5)],
    "UTC": [date(2026, 6, 17)],
    "Asia/Kolkata": [date(2026, 2, 11)],
}
YEAR_END = date(2027, 1, 1)
COUNTRIES = [None, "SE", "US", "AU"]
# Minutes of the day: any quarter hour (1440 is midnight at the day's end), with
# extra weight on 01:00-03:30 where the zones above change their clocks.
MINUTES = st.one_of(st.sampled_from(range(0, 24 * 60 + 1, 15)), st.sampled_from(range(60, 211, 30)))


def clock(minutes: int) -> time:
    return time.max if minutes == 24 * 60 else time(minutes // 60, minutes % 60)


@st.composite
def calendars(draw: st.DrawFn) -> tuple[ServiceHours, datetime]:
    """Random hours (lunch breaks, nights, holidays) and a moment near a clock change.

    Each weekday gets up to three spans; the moment is a whole minute from ten days
    before to two days after a day of interest of the zone.
    """
    zone = draw(st.sampled_from(sorted(ZONES)))
    around = draw(st.sampled_from([*ZONES[zone], YEAR_END]))
    spans: list[ServiceSpan] = []
    for weekday in range(7):
        bounds = sorted(draw(st.lists(MINUTES, max_size=6, unique=True)))
        pairs = zip(bounds[0::2], bounds[1::2], strict=False)
        spans += [ServiceSpan(weekday, clock(s), clock(e)) for s, e in pairs]
    if not spans:
        spans.append(ServiceSpan(draw(st.integers(0, 6)), time(8), time(17)))
    own = draw(st.lists(st.integers(-9, 3).map(lambda n: around + timedelta(days=n)), max_size=3))
    hours = ServiceHours(zone, tuple(spans), draw(st.sampled_from(COUNTRIES)), tuple(own))
    start = datetime.combine(around, time(), UTC)
    return hours, start + draw(st.integers(-10 * 24 * 60, 2 * 24 * 60)) * MINUTE


def brute_force(hours: ServiceHours, start: datetime, end: datetime) -> timedelta:
    """Count the minutes whose local date is open and local time is in a span."""
    zone = ZoneInfo(hours.time_zone)
    closed = set(hours.holidays)
    if hours.holiday_country:
        years = range(start.year - 1, end.year + 2)
        closed |= set(holidays.country_holidays(hours.holiday_country, years=years))
    week: dict[int, list[tuple[time, time]]] = {d: [] for d in range(7)}
    for span in hours.weekly:
        week[span.weekday].append((span.start, span.end))
    count, moment = 0, start
    while moment < end:
        local = moment.astimezone(zone)
        day, now = local.date(), local.time()
        if day not in closed and any(s <= now < e for s, e in week[day.weekday()]):
            count += 1
        moment += MINUTE
    return count * MINUTE


class TestProperties:
    @settings(max_examples=200, deadline=None)
    @given(case=calendars(), minutes=st.integers(0, 21 * 24 * 60))
    def test_business_duration_equals_a_minute_by_minute_count(
        self, case: tuple[ServiceHours, datetime], minutes: int
    ) -> None:
        """Over random calendars, zones, holidays and DST changes, no minute is miscounted."""
        hours, start = case
        end = start + minutes * MINUTE
        calendar = BusinessCalendar(hours)
        assert calendar.business_duration(start, end) == brute_force(hours, start, end)

    @settings(max_examples=200, deadline=None)
    @given(case=calendars(), minutes=st.integers(0, 10 * 24 * 60))
    def test_add_business_time_inverts_business_duration(
        self, case: tuple[ServiceHours, datetime], minutes: int
    ) -> None:
        """The due moment is the first at which exactly that much business time has passed."""
        hours, start = case
        calendar, duration = BusinessCalendar(hours), minutes * MINUTE
        due = calendar.add_business_time(start, duration)
        assert calendar.business_duration(start, due) == duration
        if duration:
            assert calendar.business_duration(start, due - MINUTE) < duration
            assert calendar.is_open(due - MINUTE)
