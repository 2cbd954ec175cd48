"""Business hours: open or closed at the edges of ranges, across daylight saving changes, on
holidays and in overnight ranges; the next opening in words."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from apps.support.hours import (
    HoursInvalid,
    hours_parse,
    opening_words,
    range_parse,
    ranges_text,
)

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


def _hours(opening=None, *, tz="Europe/Berlin", holidays=()):
    return hours_parse(
        time_zone=tz, opening_hours=OFFICE if opening is None else opening, holidays=holidays
    )


def _berlin(*args):
    return datetime(*args, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        (_berlin(2026, 12, 7, 8, 59), False),  # Monday, a minute before opening
        (_berlin(2026, 12, 7, 9, 0), True),  # the opening minute is open
        (_berlin(2026, 12, 7, 16, 59), True),
        (_berlin(2026, 12, 7, 17, 0), False),  # the closing minute is closed
        (_berlin(2026, 12, 5, 12, 0), False),  # Saturday
    ],
)
def test_a_range_is_open_from_its_start_until_just_before_its_end(at, is_open):
    assert _hours().is_open(at) is is_open


def test_hours_are_local_wall_clock_times_across_daylight_saving():
    hours = _hours()
    # 07:30 UTC is 08:30 in Berlin in winter (CET) but 09:30 in summer (CEST).
    winter = datetime(2026, 3, 27, 7, 30, tzinfo=UTC)  # Friday before the change
    summer = datetime(2026, 3, 30, 7, 30, tzinfo=UTC)  # Monday after it

    assert not hours.is_open(winter)
    assert hours.is_open(summer)
    # Next opening after Friday's close is Monday 09:00 local, which is 07:00 UTC in summer.
    opening = hours.next_opening(datetime(2026, 3, 27, 17, 0, tzinfo=UTC))
    assert opening is not None
    assert opening.astimezone(UTC) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_a_range_across_the_autumn_change_keeps_its_local_times():
    hours = _hours({"sun": ["01:00-04:00"]})
    # 25 October 2026, Berlin: 03:00 CEST becomes 02:00 CET. 02:30 local happens twice.
    assert hours.is_open(datetime(2026, 10, 25, 0, 30, tzinfo=UTC))  # 02:30 CEST
    assert hours.is_open(datetime(2026, 10, 25, 1, 30, tzinfo=UTC))  # 02:30 CET
    assert not hours.is_open(datetime(2026, 10, 25, 3, 0, tzinfo=UTC))  # 04:00 CET


def test_a_holiday_closes_its_day_and_the_next_opening_skips_it():
    hours = _hours(holidays=["2026-12-25"])
    christmas_noon = _berlin(2026, 12, 25, 12, 0)  # a Friday

    assert not hours.is_open(christmas_noon)
    assert hours.is_open(_berlin(2026, 12, 24, 12, 0))
    assert hours.next_opening(_berlin(2026, 12, 24, 18, 0)) == _berlin(2026, 12, 28, 9, 0)


def test_an_overnight_range_is_open_after_midnight_on_the_next_day():
    hours = _hours({"fri": ["22:00-02:00"]})

    assert hours.is_open(_berlin(2026, 12, 4, 23, 0))  # Friday night
    assert hours.is_open(_berlin(2026, 12, 5, 1, 59))  # Saturday, early
    assert not hours.is_open(_berlin(2026, 12, 5, 2, 0))
    assert not hours.is_open(_berlin(2026, 12, 3, 1, 0))  # Thursday: no Wednesday range


def test_a_holiday_closes_the_overnight_range_that_starts_on_it():
    hours = _hours({"fri": ["22:00-02:00"]}, holidays=["2026-12-25"])

    assert not hours.is_open(_berlin(2026, 12, 25, 23, 0))
    assert not hours.is_open(_berlin(2026, 12, 26, 1, 0))


def test_several_ranges_a_day_close_over_lunch():
    hours = _hours({"mon": ["13:00-17:00", "09:00-12:00"]})

    assert hours.is_open(_berlin(2026, 12, 7, 11, 0))
    assert not hours.is_open(_berlin(2026, 12, 7, 12, 30))
    assert hours.next_opening(_berlin(2026, 12, 7, 12, 30)) == _berlin(2026, 12, 7, 13, 0)


def test_no_ranges_means_always_open():
    hours = _hours({})

    assert hours.always_open
    assert hours.is_open(_berlin(2026, 12, 25, 3, 0))


def test_next_opening_is_none_when_holidays_close_every_opening_ahead():
    first_sunday = date(2026, 12, 6)
    # 60 weeks: beyond the 400 days looked ahead.
    sundays = [(first_sunday + timedelta(weeks=n)).isoformat() for n in range(60)]
    hours = _hours({"sun": ["09:00-10:00"]}, holidays=sundays)

    assert hours.next_opening(_berlin(2026, 12, 1, 0, 0)) is None
    # Ten Sundays off: the eleventh opens.
    assert _hours({"sun": ["09:00-10:00"]}, holidays=sundays[:10]).next_opening(
        _berlin(2026, 12, 1, 0, 0)
    ) == _berlin(2027, 2, 14, 9, 0)


@pytest.mark.parametrize(
    ("opening", "now", "words"),
    [
        (_berlin(2026, 12, 7, 9, 0), _berlin(2026, 12, 7, 7, 0), "today at 09:00"),
        (_berlin(2026, 12, 8, 9, 0), _berlin(2026, 12, 7, 18, 0), "tomorrow at 09:00"),
        (_berlin(2026, 12, 7, 9, 0), _berlin(2026, 12, 4, 18, 0), "on Monday 7 December at 09:00"),
    ],
)
def test_the_next_opening_in_words(opening, now, words):
    assert opening_words(opening, now=now, tz=BERLIN) == words


def test_words_use_the_knowledge_bases_day_not_the_servers():
    # 23:30 UTC on Sunday is already Monday in Berlin: the opening at 09:00 is "today".
    now = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)

    assert opening_words(_berlin(2026, 12, 7, 9, 0), now=now, tz=BERLIN) == "today at 09:00"


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("09:00-17:30", (540, 1050)), ("22:00-02:00", (1320, 1560)), ("18:00-24:00", (1080, 1440))],
)
def test_ranges_parse_to_minutes(text, minutes):
    assert range_parse(text) == minutes


@pytest.mark.parametrize("text", ["9-5", "25:00-26:00", "09:00-09:00", "09:61-10:00", "soon"])
def test_bad_ranges_are_refused_naming_the_day(text):
    with pytest.raises(HoursInvalid) as caught:
        ranges_text(text, day="Monday")

    assert caught.value.field == "Monday"
    assert "Monday" in str(caught.value)


def test_a_bad_time_zone_or_holiday_is_refused():
    with pytest.raises(HoursInvalid, match="time zone"):
        _hours(tz="Mars/Olympus")
    with pytest.raises(HoursInvalid, match="2026-13-01"):
        _hours(holidays=["2026-13-01"])
