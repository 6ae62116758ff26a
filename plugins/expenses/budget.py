"""The monthly budget: progress, and the two alerts a month (threshold, then 100 %).

Alerts are remembered on the settings row (``budget_alert_month`` and
``budget_alert_level``) in the same transaction as the expense that triggered
them, so each fires exactly once per month even with parallel workers or a
rolled-back update; a new month starts from level 0.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from framework import User

from . import periods, preferences, rates, stats
from .models import ExpenseSettings

LEVEL_NONE, LEVEL_THRESHOLD, LEVEL_FULL = 0, 1, 2
BAR_CELLS = 10


@dataclass(frozen=True)
class Progress:
    spent: Decimal
    budget: Decimal
    currency: str
    start: dt.date
    end: dt.date

    @property
    def percent(self) -> int:
        if self.budget <= 0:
            return 0
        return int(self.spent * 100 / self.budget)

    @property
    def remaining(self) -> Decimal:
        return self.budget - self.spent


def progress(user: User, row: ExpenseSettings, today: dt.date) -> Progress | None:
    """Month-to-date spending against the budget, in the user's currency (None without a budget)."""
    if row.monthly_budget is None:
        return None
    start, end = periods.month_bounds(today.year, today.month)
    factors = rates.factors(user, row.currency)
    spent = stats.total(user, start, end, factors, row.currency)
    return Progress(spent, Decimal(row.monthly_budget), row.currency, start, end)


def bar(percent: int, cells: int = BAR_CELLS) -> str:
    """A text progress bar: ``▓▓▓▓▓░░░░░ 50%`` (full beyond 100 %)."""
    filled = max(0, min(cells, round(percent * cells / 100)))
    return "▓" * filled + "░" * (cells - filled) + f" {percent}%"


def due_alert(user: User, row: ExpenseSettings, today: dt.date) -> Progress | None:
    """Check after an expense was saved: the progress if an alert is due now (and mark it sent).

    Only the highest level crossed is reported, so one big expense gives one message.
    """
    current = progress(user, row, today)
    if current is None:
        return None
    month = today.strftime("%Y-%m")
    level = row.budget_alert_level if row.budget_alert_month == month else LEVEL_NONE
    reached = LEVEL_NONE
    if current.percent >= 100:
        reached = LEVEL_FULL
    elif current.percent >= row.budget_alert_threshold:
        reached = LEVEL_THRESHOLD
    if reached <= level:
        return None
    # Conditional, so that of two concurrent writers (a user and the recurring job) only one alerts.
    claimed = (ExpenseSettings
               .update(budget_alert_month=month, budget_alert_level=reached)
               .where((ExpenseSettings.id == row.id)
                      & ((ExpenseSettings.budget_alert_month.is_null())
                         | (ExpenseSettings.budget_alert_month != month)
                         | (ExpenseSettings.budget_alert_level < reached)))
               .execute())
    row.budget_alert_month, row.budget_alert_level = month, reached
    if claimed:
        preferences.forget(row)
    return current if claimed else None
