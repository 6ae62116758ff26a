"""recurring: reading schedules and computing due dates."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from plugins.expenses import recurring
from plugins.expenses.recurring import ScheduleError

TODAY = dt.date(2025, 3, 12)  # Wednesday


@pytest.mark.parametrize(("text", "note", "amount", "currency", "kind", "day"), [
    ("rent 1000 monthly on 1", "rent", "1000", None, "monthly", 1),
    ("rent 1000 eur monthly on the 1st", "rent", "1000", "EUR", "monthly", 1),
    ("gym 30 weekly on mon", "gym", "30", None, "weekly", 0),
    ("gym $30 weekly on friday", "gym", "30", "USD", "weekly", 4),
    ("coffee 3.50 daily", "coffee", "3.50", None, "daily", None),
    ("netflix 9.99 every month on 15", "netflix", "9.99", None, "monthly", 15),
    ("rent 1000 monthly", "rent", "1000", None, "monthly", 12),
    ("gym 30 weekly", "gym", "30", None, "weekly", 2),
    ("аренда 30 000 ₽ ежемесячно 5", "аренда", "30000", "RUB", "monthly", 5),
    ("аренда 30000 каждый месяц 10-го числа", "аренда", "30000", None, "monthly", 10),
    ("спортзал 2000 еженедельно в пн", "спортзал", "2000", None, "weekly", 0),
    ("кофе 200 ежедневно", "кофе", "200", None, "daily", None),
])
def test_parse_schedule(text, note, amount, currency, kind, day) -> None:
    spec = recurring.parse_schedule(text, TODAY)
    assert (spec.note, spec.amount, spec.currency, spec.kind, spec.day) == (note, Decimal(amount), currency, kind, day)


@pytest.mark.parametrize(("text", "code"), [
    ("rent 1000", "no_schedule"),
    ("rent monthly on 1", "no_amount"),
    ("rent 1000 or 2000 monthly on 1", "many_amounts"),
    ("rent 1000 monthly on 32", "monthly_day"),
    ("gym 30 weekly on 3", "weekly_day"),
    ("rent 1000 monthly weekly", "many_schedules"),
])
def test_parse_schedule_errors(text: str, code: str) -> None:
    with pytest.raises(ScheduleError) as err:
        recurring.parse_schedule(text, TODAY)
    assert err.value.code == code


@pytest.mark.parametrize(("kind", "day", "after", "due"), [
    ("daily", None, "2025-03-12", "2025-03-12"),
    ("weekly", 0, "2025-03-12", "2025-03-17"),
    ("weekly", 2, "2025-03-12", "2025-03-12"),
    ("monthly", 1, "2025-03-12", "2025-04-01"),
    ("monthly", 12, "2025-03-12", "2025-03-12"),
    ("monthly", 31, "2025-02-01", "2025-02-28"),
    ("monthly", 31, "2024-02-01", "2024-02-29"),
    ("monthly", 31, "2025-04-15", "2025-04-30"),
    ("monthly", 5, "2025-12-20", "2026-01-05"),
])
def test_next_due(kind, day, after, due) -> None:
    assert recurring.next_due(kind, day, dt.date.fromisoformat(after)) == dt.date.fromisoformat(due)


def test_monthly_31_returns_to_31_after_a_short_month() -> None:
    due = dt.date(2025, 1, 31)
    dates = []
    for _ in range(4):
        dates.append(due)
        due = recurring.following("monthly", 31, due)
    assert dates == [dt.date(2025, 1, 31), dt.date(2025, 2, 28), dt.date(2025, 3, 31), dt.date(2025, 4, 30)]


def test_following_is_strictly_later() -> None:
    for kind, day in (("daily", None), ("weekly", 3), ("monthly", 15)):
        due = recurring.next_due(kind, day, TODAY)
        assert recurring.following(kind, day, due) > due


def test_next_due_rejects_bad_schedules() -> None:
    for kind, day in (("weekly", 7), ("monthly", 0), ("monthly", None), ("yearly", 1)):
        with pytest.raises(ValueError):
            recurring.next_due(kind, day, TODAY)
