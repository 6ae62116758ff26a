"""periods: period words and ranges, previous periods, timezones and week starts."""
from __future__ import annotations

import datetime as dt

import pytest

from plugins.expenses import periods
from plugins.expenses.periods import PeriodError

UTC = dt.UTC
SUNDAY = dt.date(2025, 3, 16)
MONDAY = dt.date(2025, 3, 17)


def test_sunday_2330_in_moscow_is_sunday_not_monday() -> None:
    moment = dt.datetime(2025, 3, 16, 20, 30, tzinfo=UTC)  # 23:30 in UTC+3
    assert periods.local_date(moment, "Europe/Moscow") == SUNDAY


def test_monday_0130_in_moscow_is_still_sunday_in_utc() -> None:
    moment = dt.datetime(2025, 3, 16, 22, 30, tzinfo=UTC)  # Monday 01:30 in UTC+3
    assert periods.local_date(moment, "Europe/Moscow") == MONDAY
    assert periods.local_date(moment, "UTC") == SUNDAY


def test_sunday_late_expense_week_depends_on_week_start() -> None:
    day = periods.local_date(dt.datetime(2025, 3, 16, 20, 30, tzinfo=UTC), "Europe/Moscow")
    monday_week = periods.resolve("week", day, week_start=1)
    sunday_week = periods.resolve("week", day, week_start=0)
    assert (monday_week.start, monday_week.end) == (dt.date(2025, 3, 10), SUNDAY)
    assert (sunday_week.start, sunday_week.end) == (SUNDAY, dt.date(2025, 3, 22))


@pytest.mark.parametrize(("day", "week_start", "start"), [
    (MONDAY, 1, MONDAY),
    (MONDAY, 0, SUNDAY),
    (SUNDAY, 1, dt.date(2025, 3, 10)),
    (SUNDAY, 0, SUNDAY),
    (dt.date(2025, 3, 22), 0, SUNDAY),  # Saturday closes a Sunday week
    (dt.date(2025, 3, 22), 1, MONDAY),
    (dt.date(2025, 1, 1), 1, dt.date(2024, 12, 30)),  # a week across the new year
])
def test_week_bounds(day: dt.date, week_start: int, start: dt.date) -> None:
    assert periods.week_bounds(day, week_start) == (start, start + dt.timedelta(days=6))


def test_week_previous_is_the_week_before() -> None:
    period = periods.resolve("week", dt.date(2025, 3, 12), week_start=1)
    assert (period.previous_start, period.previous_end) == (dt.date(2025, 3, 3), dt.date(2025, 3, 9))


@pytest.mark.parametrize(("text", "start", "end", "prev_start", "prev_end"), [
    ("today", "2025-03-12", "2025-03-12", "2025-03-11", "2025-03-11"),
    ("сегодня", "2025-03-12", "2025-03-12", "2025-03-11", "2025-03-11"),
    ("yesterday", "2025-03-11", "2025-03-11", "2025-03-10", "2025-03-10"),
    ("month", "2025-03-01", "2025-03-31", "2025-02-01", "2025-02-28"),
    ("месяц", "2025-03-01", "2025-03-31", "2025-02-01", "2025-02-28"),
    ("", "2025-03-01", "2025-03-31", "2025-02-01", "2025-02-28"),
    ("year", "2025-01-01", "2025-12-31", "2024-01-01", "2024-12-31"),
    ("2024-02", "2024-02-01", "2024-02-29", "2024-01-01", "2024-01-31"),
    ("2025-01", "2025-01-01", "2025-01-31", "2024-12-01", "2024-12-31"),
    ("2023", "2023-01-01", "2023-12-31", "2022-01-01", "2022-12-31"),
    ("2025-03-01..2025-03-10", "2025-03-01", "2025-03-10", "2025-02-19", "2025-02-28"),
    ("01.03.2025..10.03.2025", "2025-03-01", "2025-03-10", "2025-02-19", "2025-02-28"),
    ("2025-03-05", "2025-03-05", "2025-03-05", "2025-03-04", "2025-03-04"),
])
def test_resolve(text: str, start: str, end: str, prev_start: str, prev_end: str) -> None:
    period = periods.resolve(text, dt.date(2025, 3, 12))
    got = tuple(d.isoformat() for d in (period.start, period.end, period.previous_start, period.previous_end))
    assert got == (start, end, prev_start, prev_end)


@pytest.mark.parametrize("text", ["soon", "2025-13", "2025-00", "1900", "2025-03-10..2025-03-01",
                                  "2020-01-01..2025-01-01", "31.02.2025", "..", "2025-02-30"])
def test_resolve_rejects(text: str) -> None:
    with pytest.raises(PeriodError):
        periods.resolve(text, dt.date(2025, 3, 12))


@pytest.mark.parametrize("text", ["month", "year", "week", "today", "2024-02", "2025-03-01..2025-03-10"])
def test_spec_round_trips_and_fits_a_button(text: str) -> None:
    period = periods.resolve(text, dt.date(2025, 3, 12), week_start=0)
    again = periods.resolve(period.spec(), dt.date(2025, 3, 12), week_start=0)
    assert (again.start, again.end) == (period.start, period.end)
    assert len(period.spec()) <= 22


def test_timezones() -> None:
    assert periods.is_valid_timezone("Europe/Moscow")
    assert periods.is_valid_timezone("UTC")
    for bad in ("Mars/Olympus", "", "../etc/passwd", "/etc/localtime", "Europe/../UTC"):
        assert not periods.is_valid_timezone(bad)
    assert periods.zone("nonsense").key == "UTC"
