"""The few steps every way of adding or changing an expense shares.

Quick add, the /add conversation, list buttons and the recurring job all save
through here, so every change gets the same audit entry
(``{amount, category, source, original_message}``) and the same budget check.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from framework import Context, User

from . import budget, ledger
from .models import Category, Expense, ExpenseSettings
from .money import to_decimal
from .views import View


def audit_details(expense: Expense, category: Category | None, original: str | None) -> dict[str, Any]:
    """The audit ``details`` of an expense (amounts as exact strings, never floats)."""
    return {
        "amount": format(to_decimal(expense.amount, expense.currency), "f"),
        "currency": expense.currency,
        "category": category.name if category is not None else None,
        "source": expense.source,
        "original_message": original,
    }


def add(ctx: Context, *, amount: Decimal, currency: str, category: Category | None, note: str | None,
        date: dt.date, source: str, original: str | None) -> Expense:
    """Save a new expense for the current user and audit it."""
    expense = ledger.add(ctx.user, amount=amount, currency=currency, category=category, note=note, date=date,
                         source=source, now=ctx.now())
    ctx.audit("expense_added", "expense", expense.id, audit_details(expense, category, original))
    return expense


def edit(ctx: Context, expense: Expense, original: str | None = None, **changes: Any) -> Expense:
    """Change an expense of the current user and audit what it became."""
    before = {name: _plain(getattr(expense, name if name != "category" else "category_id")) for name in changes}
    ledger.edit(expense, ctx.now(), **changes)
    category = Category.get_or_none(Category.id == expense.category_id) if expense.category_id else None
    details = audit_details(expense, category, original)
    details["before"] = before
    ctx.audit("expense_edited", "expense", expense.id, details)
    return expense


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Category):
        return value.id
    return value


def delete(ctx: Context, expense: Expense) -> Expense:
    """Soft-delete and audit; :func:`restore` undoes it within the restore window."""
    ledger.soft_delete(expense, ctx.now())
    ctx.audit("expense_deleted", "expense", expense.id, audit_details(expense, _category(expense), None))
    return expense


def restore(ctx: Context, expense: Expense) -> Expense:
    ledger.restore(expense, ctx.now())
    ctx.audit("expense_restored", "expense", expense.id, audit_details(expense, _category(expense), None))
    return expense


def _category(expense: Expense) -> Category | None:
    return Category.get_or_none(Category.id == expense.category_id) if expense.category_id else None


def budget_alert(view: View, user: User, prefs: ExpenseSettings, today: dt.date) -> str | None:
    """The alert to send after a new expense, if it crossed the threshold or 100 % this month."""
    if prefs.id is None or prefs.monthly_budget is None:
        return None
    progress = budget.due_alert(user, prefs, today)
    if progress is None:
        return None
    key = "budget.alert_full" if progress.percent >= 100 else "budget.alert_threshold"
    return view.t(key, percent=progress.percent) + "\n" + view.progress(progress)
