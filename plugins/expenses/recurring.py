"""Recurring expenses: reading a schedule from text and computing due dates.

"rent 1000 monthly on 1", "gym 30 weekly on mon", "netflix 9.99 usd monthly",
"coffee 3 daily", "аренда 30000 ежемесячно 1", "спортзал 2000 еженедельно в пн".

A monthly schedule on day 29-31 falls on the last day of shorter months, and
the next due date is always computed from the schedule (not from the last
date), so "on 31" gives Jan 31, Feb 28, Mar 31.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from .money import AmountError, parse_number, scan_amounts
from .nlp import WEEKDAYS

KINDS: dict[str, str] = {
    "monthly": "monthly", "every month": "monthly", "ежемесячно": "monthly", "каждый месяц": "monthly",
    "weekly": "weekly", "every week": "weekly", "еженедельно": "weekly", "каждую неделю": "weekly",
    "daily": "daily", "every day": "daily", "ежедневно": "daily", "каждый день": "daily",
}

_ALTERNATION = "|".join(sorted(map(re.escape, KINDS), key=len, reverse=True))
_WEEKDAY_NAMES = "|".join(sorted(map(re.escape, WEEKDAYS), key=len, reverse=True))
_SCHEDULE = re.compile(
    rf"(?<!\w)(?P<kind>{_ALTERNATION})"
    rf"(?:\s+(?:on\s+(?:the\s+)?|в\s+|во\s+)?"
    rf"(?P<day>\d{{1,2}}(?:st|nd|rd|th|-?го)?(?:\s+числа)?|{_WEEKDAY_NAMES}))?(?!\w)",
    re.IGNORECASE,
)


class ScheduleError(ValueError):
    """The recurring text cannot be understood; ``code`` names the locale message."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class RecurringSpec:
    """What "/recurring add ..." asked for. ``amount`` is validated later against the currency."""

    amount: Decimal
    currency: str | None
    note: str
    kind: str
    day: int | None  # 1..31 for monthly, 0 (Mon)..6 (Sun) for weekly, None for daily


def _day_of(kind: str, token: str | None, today: dt.date) -> int | None:
    if kind == "daily":
        if token:
            raise ScheduleError("daily_has_day")
        return None
    if token is None:
        return today.day if kind == "monthly" else today.weekday()
    token = token.lower()
    if kind == "weekly":
        if token not in WEEKDAYS:
            raise ScheduleError("weekly_day")
        return WEEKDAYS[token]
    digits = re.match(r"\d+", token)
    if digits is None or not 1 <= int(digits.group()) <= 31:
        raise ScheduleError("monthly_day")
    return int(digits.group())


def parse_schedule(text: str, today: dt.date, lang: str = "en") -> RecurringSpec:
    """Read note, amount, optional currency and schedule from ``text``.

    A missing day means "the same day as today" (monthly) or "today's weekday" (weekly).
    """
    matches = list(_SCHEDULE.finditer(text))
    if len(matches) != 1:
        raise ScheduleError("no_schedule" if not matches else "many_schedules")
    match = matches[0]
    kind = KINDS[match["kind"].lower()]
    day = _day_of(kind, match["day"], today)
    rest = text[:match.start()] + " " + text[match.end():]
    amounts = scan_amounts(rest)
    if len(amounts) != 1:
        raise ScheduleError("no_amount" if not amounts else "many_amounts")
    found = amounts[0]
    try:
        amount = parse_number(found.number, lang)
    except AmountError as exc:
        raise ScheduleError("no_amount") from exc
    note = " ".join((rest[:found.start] + " " + rest[found.end:]).split()).strip(" ,;:-")
    return RecurringSpec(amount, found.currency, note, kind, day)


def _monthly_on(year: int, month: int, day: int) -> dt.date:
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def next_due(kind: str, day: int | None, on_or_after: dt.date) -> dt.date:
    """The first due date of the schedule that is not before ``on_or_after``."""
    if kind == "daily":
        return on_or_after
    if kind == "weekly":
        if day is None or not 0 <= day <= 6:
            raise ValueError(f"weekly schedule needs a weekday 0..6, got {day!r}")
        return on_or_after + dt.timedelta(days=(day - on_or_after.weekday()) % 7)
    if kind == "monthly":
        if day is None or not 1 <= day <= 31:
            raise ValueError(f"monthly schedule needs a day 1..31, got {day!r}")
        candidate = _monthly_on(on_or_after.year, on_or_after.month, day)
        if candidate >= on_or_after:
            return candidate
        year, month = (on_or_after.year + 1, 1) if on_or_after.month == 12 else (on_or_after.year, on_or_after.month + 1)
        return _monthly_on(year, month, day)
    raise ValueError(f"unknown schedule kind {kind!r}")


def following(kind: str, day: int | None, due: dt.date) -> dt.date:
    """The due date after ``due``."""
    return next_due(kind, day, due + dt.timedelta(days=1))
