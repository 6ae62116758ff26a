"""Data rights (/mydata, /deleteme) and the admin counters of the plugin."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import peewee

from framework import User

from . import ledger
from .models import (
    Category,
    CategoryMemory,
    ExchangeRate,
    Expense,
    ExpenseSettings,
    RecurringExpense,
    RecurringRun,
)
from .money import to_decimal


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _row(model: peewee.Model, *names: str) -> dict[str, Any]:
    row = {name: _plain(getattr(model, name)) for name in names}
    if "amount" in names:
        row["amount"] = format(to_decimal(model.amount, model.currency), "f")
    return row


def export(user: User) -> dict[str, Any]:
    """Everything this plugin stores about ``user``, deleted expenses included."""
    settings = ExpenseSettings.get_or_none(ExpenseSettings.user == user.id)
    return {
        "settings": None if settings is None else _row(
            settings, "currency", "week_start", "monthly_budget", "budget_alert_threshold",
            "date_format", "number_format", "nlp_enabled", "auto_categorize", "budget_alert_month",
            "budget_alert_level", "created_at", "updated_at"),
        "expenses": [
            {**_row(e, "id", "amount", "currency", "note", "source", "expense_date", "is_deleted", "archived", "deleted_at",
                    "created_at", "updated_at"),
             "category": e.category.name if e.category is not None else None}
            for e in ledger.all_of(user)],
        "categories": [_row(c, "id", "name", "emoji", "color", "is_active", "sort_order", "created_at")
                       for c in Category.select().where(Category.user == user.id).order_by(Category.id)],
        "exchange_rates": [{**_row(r, "base", "quote", "set_at"),
                            "rate": format(Decimal(r.rate).quantize(Decimal("0.0001")), "f")}
                           for r in ExchangeRate.select().where(ExchangeRate.user == user.id)],
        "recurring": [_row(r, "id", "amount", "currency", "note", "schedule_kind", "schedule_day", "next_run",
                           "last_run", "active", "created_at")
                      for r in RecurringExpense.select().where(RecurringExpense.user == user.id)],
        "learned_words": {m.word: m.category.name for m in
                          CategoryMemory.select(CategoryMemory, Category).join(Category)
                          .where(CategoryMemory.user == user.id)},
    }


def delete(user: User) -> None:
    """Erase the user's rows, children first (not relying on ON DELETE CASCADE alone)."""
    schedules = RecurringExpense.select(RecurringExpense.id).where(RecurringExpense.user == user.id)
    RecurringRun.delete().where(RecurringRun.recurring.in_(schedules)).execute()
    RecurringExpense.delete().where(RecurringExpense.user == user.id).execute()
    CategoryMemory.delete().where(CategoryMemory.user == user.id).execute()
    Expense.delete().where(Expense.user == user.id).execute()
    ExchangeRate.delete().where(ExchangeRate.user == user.id).execute()
    ExpenseSettings.delete().where(ExpenseSettings.user == user.id).execute()
    Category.delete().where(Category.user == user.id).execute()


def counters() -> dict[str, int]:
    """Numbers for the admin /stats."""
    live = Expense.select().where(Expense.is_deleted == False, Expense.archived == False)  # noqa: E712
    return {
        "expenses_total": live.count(),
        "expenses_users": Expense.select(Expense.user).distinct().count(),
        "recurring_active": RecurringExpense.select().where(RecurringExpense.active == True).count(),  # noqa: E712
    }


def archive(user: User, archived: bool) -> int:
    """Put the user's expenses away (``archived=True``) or bring them back; how many rows changed."""
    return (Expense.update(archived=archived)
            .where(Expense.user == user.id, Expense.archived == (not archived)).execute())
