"""The API's day and moment types against an independent count of seconds: every
value Python can hold is either taken (and then computable in UTC) or refused as
out of range, never an error of another kind (ADR 0035)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from cases.api.schemas.common import AwareDatetime, Day

MOMENT = TypeAdapter(AwareDatetime)
DAY = TypeAdapter(Day)
OFFSETS = st.timedeltas(min_value=timedelta(hours=-12), max_value=timedelta(hours=14)).map(
    lambda t: timezone(timedelta(minutes=t // timedelta(minutes=1)))
)
ORIGIN = datetime(1, 1, 1)  # noqa: DTZ001 - naive on purpose: wall-clock arithmetic


def _utc_seconds(moment: datetime) -> float:
    """Seconds from 0001-01-01T00:00Z to the moment's instant, without datetime
    arithmetic that could overflow."""
    offset = moment.utcoffset()
    assert offset is not None
    return (moment.replace(tzinfo=None) - ORIGIN).total_seconds() - offset.total_seconds()


FIRST = (datetime(1900, 1, 1) - ORIGIN).total_seconds()  # noqa: DTZ001
END = (datetime(3000, 1, 1) - ORIGIN).total_seconds()  # noqa: DTZ001


@given(st.datetimes(timezones=OFFSETS))
def test_a_moment_is_taken_exactly_when_its_instant_is_in_the_span(moment: datetime) -> None:
    """Taken if and only if 1900-01-01T00:00Z <= instant < 3000-01-01T00:00Z."""
    if not FIRST <= _utc_seconds(moment) < END:
        _assert_out_of_range(MOMENT, moment.isoformat())
        return
    taken = MOMENT.validate_python(moment.isoformat())
    assert 1900 <= taken.astimezone(UTC).year <= 2999  # computable, in the span


@given(st.dates())
def test_a_day_is_taken_exactly_when_it_is_in_the_span(day: date) -> None:
    if date(1900, 1, 1) <= day <= date(2999, 12, 31):
        assert DAY.validate_python(day.isoformat()) == day
    else:
        _assert_out_of_range(DAY, day.isoformat())


def _assert_out_of_range(adapter: TypeAdapter[Any], text: str) -> None:
    with pytest.raises(ValidationError) as refused:
        adapter.validate_python(text)
    assert [e["type"] for e in refused.value.errors()] == ["date-out-of-range"]


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00", "2999-12-31T23:59:59"])
def test_a_naive_moment_is_refused_as_malformed(text: str) -> None:
    with pytest.raises(ValidationError) as refused:
        MOMENT.validate_python(text)
    assert refused.value.errors()[0]["type"] == "value_error"
