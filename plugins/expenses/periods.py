"""Reporting periods: "today", "week", "month", "2025-03", "2025-03-01..2025-03-15"...

Every period is a pair of inclusive local dates plus the period just before it,
for "compared with last week". Expenses are stored with the user's *local*
``expense_date``, so a Sunday 23:30 coffee in Moscow belongs to Sunday even
though it is still Sunday 20:30 in UTC, and the week it falls in depends on the
user's ``week_start`` (0 = Sunday, 1 = Monday).
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_RANGE_DAYS = 3 * 366
FIRST_YEAR, LAST_YEAR = 1970, 2100


class PeriodError(ValueError):
    """The period text cannot be understood; the message is a locale key suffix."""


@dataclass(frozen=True)
class Period:
    """Inclusive local date range ``start..end`` and the previous range of the same kind."""

    kind: str  # day, week, month, year, range
    start: dt.date
    end: dt.date
    previous_start: dt.date
    previous_end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def spec(self) -> str:
        """A compact text that :func:`resolve` turns back into this period (fits button data)."""
        if self.kind == "month":
            return self.start.strftime("%Y-%m")
        if self.kind == "year":
            return str(self.start.year)
        if self.kind == "day":
            return self.start.isoformat()
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


ALIASES = {
    "today": "today", "day": "today", "сегодня": "today", "день": "today",
    "yesterday": "yesterday", "вчера": "yesterday",
    "week": "week", "неделя": "week", "неделю": "week",
    "month": "month", "месяц": "month",
    "year": "year", "год": "year",
}


def zone(name: str | None) -> ZoneInfo:
    """The user's timezone, falling back to UTC for an unknown or empty name."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_valid_timezone(name: str) -> bool:
    """True for an IANA timezone name such as ``Europe/Moscow``."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def local_date(moment: dt.datetime, timezone: str | None) -> dt.date:
    """The calendar date of the aware UTC ``moment`` on the user's wall clock."""
    return moment.astimezone(zone(timezone)).date()


def week_bounds(day: dt.date, week_start: int) -> tuple[dt.date, dt.date]:
    """First and last date of the week holding ``day``; ``week_start`` 0 = Sunday, 1 = Monday."""
    first_weekday = 0 if week_start == 1 else 6  # in Python's numbering, Monday = 0
    start = day - dt.timedelta(days=(day.weekday() - first_weekday) % 7)
    return start, start + dt.timedelta(days=6)


def month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    """First and last date of a month."""
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def _previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def _month(year: int, month: int) -> Period:
    start, end = month_bounds(year, month)
    prev_start, prev_end = month_bounds(*_previous_month(year, month))
    return Period("month", start, end, prev_start, prev_end)


def _year(year: int) -> Period:
    return Period("year", dt.date(year, 1, 1), dt.date(year, 12, 31), dt.date(year - 1, 1, 1), dt.date(year - 1, 12, 31))


def _day(day: dt.date) -> Period:
    before = day - dt.timedelta(days=1)
    return Period("day", day, day, before, before)


def _range(start: dt.date, end: dt.date) -> Period:
    if end < start:
        raise PeriodError("reversed")
    length = (end - start).days + 1
    if length > MAX_RANGE_DAYS:
        raise PeriodError("too_long")
    prev_end = start - dt.timedelta(days=1)
    return Period("range", start, end, prev_end - dt.timedelta(days=length - 1), prev_end)


def _parse_date(text: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        match = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text)
        try:
            day = dt.date(int(match[3]), int(match[2]), int(match[1])) if match else None
        except ValueError:
            day = None
    if day is None:
        raise PeriodError("invalid")
    _bounded_year(day.year)
    return day


def resolve(text: str | None, today: dt.date, week_start: int = 1, default: str = "month") -> Period:
    """Turn the user's period text into a :class:`Period` relative to their local ``today``.

    Accepts the words in :data:`ALIASES` (English and Russian), ``YYYY``, ``YYYY-MM``,
    a single ISO date and ``DATE..DATE``. Raises :class:`PeriodError` otherwise.
    """
    text = (text or default).strip().lower()
    word = ALIASES.get(text)
    if word == "today":
        return _day(today)
    if word == "yesterday":
        return _day(today - dt.timedelta(days=1))
    if word == "week":
        start, end = week_bounds(today, week_start)
        return Period("week", start, end, start - dt.timedelta(days=7), start - dt.timedelta(days=1))
    if word == "month":
        return _month(today.year, today.month)
    if word == "year":
        return _year(today.year)
    if re.fullmatch(r"\d{4}", text):
        return _year(_bounded_year(int(text)))
    match = re.fullmatch(r"(\d{4})-(\d{1,2})", text)
    if match:
        if not 1 <= int(match[2]) <= 12:
            raise PeriodError("invalid")
        return _month(_bounded_year(int(match[1])), int(match[2]))
    if ".." in text:
        left, _, right = text.partition("..")
        return _range(_parse_date(left.strip()), _parse_date(right.strip()))
    return _day(_parse_date(text))


def _bounded_year(year: int) -> int:
    """Dates from 1970 to 2100 only, like every date plugbot reads: a period near year 1 or 9999
    would run its "previous period" arithmetic off the calendar."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise PeriodError("range")
    return year
