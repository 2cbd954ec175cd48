"""Business hours of a knowledge base: a time zone, weekly opening ranges and holidays.

Stored on the knowledge base as plain values (`time_zone`, `opening_hours` = {"mon":
["09:00-12:00", "13:00-17:00"], ...}, `holidays` = ["2026-12-25", ...]); this module parses
them into `Hours` and answers "open now?" and "when does a person answer next?".

Rules a customer relies on:
- Times are wall-clock times in the KB's time zone, so 09:00 stays 09:00 across daylight
  saving changes.
- A range whose end is not after its start runs overnight ("22:00-02:00" on Friday is open
  until 02:00 on Saturday); "24:00" is the end of the day.
- A range belongs to the day it starts on: a holiday closes the ranges that start that day.
- No ranges at all means always open (the default: a knowledge base without hours hands off
  to the live queue as before).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
DAY_MINUTES = 24 * 60
# How far ahead the next opening is looked for (a long run of holidays still finds it).
LOOKAHEAD_DAYS = 400
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")


class HoursInvalid(ValueError):
    """Business hours that cannot be used; `field` names the part ("time_zone", "mon",
    "holidays") and the message says what is wrong, for a form error."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Hours:
    """Parsed business hours. `week[d]` holds (start, end) minutes after midnight of weekday d
    (0 = Monday); an overnight range has end > 1440."""

    tz: ZoneInfo
    week: tuple[tuple[tuple[int, int], ...], ...] = field(default=((),) * 7)
    holidays: frozenset[date] = frozenset()

    @property
    def always_open(self) -> bool:
        return not any(self.week)

    def is_open(self, at: datetime) -> bool:
        if self.always_open:
            return True
        local = at.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        today = local.date()
        yesterday = today - timedelta(days=1)
        if today not in self.holidays and any(
            start <= minute < end for start, end in self.week[today.weekday()]
        ):
            return True
        if yesterday not in self.holidays:
            # The part after midnight of yesterday's overnight ranges.
            return any(minute < end - DAY_MINUTES for _, end in self.week[yesterday.weekday()])
        return False

    def next_opening(self, at: datetime) -> datetime | None:
        """When a person is next there: `at` itself when open, else the next range's start
        (aware, in the KB's time zone); None when no range opens within LOOKAHEAD_DAYS."""
        if self.is_open(at):
            return at.astimezone(self.tz)
        first_day = at.astimezone(self.tz).date()
        for offset in range(LOOKAHEAD_DAYS):
            day = first_day + timedelta(days=offset)
            if day in self.holidays:
                continue
            for start, _ in self.week[day.weekday()]:
                opening = datetime.combine(day, time(start // 60, start % 60), tzinfo=self.tz)
                if opening > at:
                    return opening
        return None


def range_parse(text: str, *, where: str = "") -> tuple[int, int]:
    """ "09:00-17:30" as minutes (540, 1050); an overnight range gets end > 1440."""
    match = _RANGE.match(text)
    label = f"{where}: " if where else ""
    if not match:
        raise HoursInvalid(where, f'{label}"{text.strip()}" is not a time range like 09:00-17:00.')
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        raise HoursInvalid(where, f'{label}"{text.strip()}" has a time that does not exist.')
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise HoursInvalid(where, f'{label}"{text.strip()}" opens and closes at the same time.')
    if end < start and end != 0:
        end += DAY_MINUTES  # overnight: closes the next morning
    elif end == 0:
        end = DAY_MINUTES
    return start, end


def time_zone_get(name: str) -> ZoneInfo:
    name = (name or "").strip()
    if name not in available_timezones():
        raise HoursInvalid(
            "time_zone", f'"{name}" is not a time zone name like Europe/London or UTC.'
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - listed above
        raise HoursInvalid("time_zone", f'"{name}" is not a known time zone.') from exc


def holidays_parse(values: Iterable[str]) -> frozenset[date]:
    days = set()
    for raw in values:
        text = str(raw).strip()
        if not text:
            continue
        try:
            days.add(date.fromisoformat(text))
        except ValueError as exc:
            raise HoursInvalid(
                "holidays", f'"{text}" is not a date like 2026-12-25 (year-month-day).'
            ) from exc
    return frozenset(days)


def hours_parse(
    *, time_zone: str, opening_hours: Mapping[str, Iterable[str]], holidays: Iterable[str]
) -> Hours:
    """The stored values as `Hours`; HoursInvalid names the first bad part."""
    unknown = set(opening_hours) - set(WEEKDAYS)
    if unknown:
        raise HoursInvalid("opening_hours", f"Unknown weekday {sorted(unknown)[0]!r}.")
    week = tuple(
        tuple(
            sorted(
                range_parse(text, where=DAY_NAMES[index])
                for text in opening_hours.get(day, [])
                if str(text).strip()
            )
        )
        for index, day in enumerate(WEEKDAYS)
    )
    return Hours(tz=time_zone_get(time_zone), week=week, holidays=holidays_parse(holidays))


def ranges_text(text: str, *, day: str) -> list[str]:
    """A form's "09:00-12:00, 13:00-17:00" as the stored list (each range checked and written
    as HH:MM-HH:MM); empty text is a closed day."""
    ranges = []
    for part in re.split(r"[,;]", text):
        if not part.strip():
            continue
        start, end = range_parse(part, where=day)
        ranges.append(f"{_clock(start)}-{_clock(end % DAY_MINUTES if end != DAY_MINUTES else end)}")
    return ranges


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def opening_words(opening: datetime, *, now: datetime, tz: ZoneInfo) -> str:
    """When a person answers, in words a customer reads: "today at 09:00", "tomorrow at
    09:00" or "on Monday 7 December at 09:00", in the KB's time zone."""
    local, today = opening.astimezone(tz), now.astimezone(tz).date()
    at = f"at {local:%H:%M}"
    days = (local.date() - today).days
    if days == 0:
        return f"today {at}"
    if days == 1:
        return f"tomorrow {at}"
    day = local.date()
    return f"on {DAY_NAMES[day.weekday()]} {day.day} {MONTH_NAMES[day.month - 1]} {at}"
