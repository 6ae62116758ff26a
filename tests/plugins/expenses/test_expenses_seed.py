"""Seed 000 behaviour of the expense bot, through the bot on SQLite+memory and PostgreSQL+Redis."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from expenses_helpers import texts

from framework import User, connection_scope, database


def _user_id(telegram_id: int) -> int:
    with connection_scope():
        return User.get(User.telegram_id == telegram_id).id


def test_rows_written_by_hand_get_the_seeds_sql_defaults(alice) -> None:
    alice.send("/budget")
    user_id = _user_id(1001)
    today = dt.datetime.now(dt.UTC).date()  # CURRENT_DATE is the database's date, not the bot's clock
    with connection_scope(), database.atomic():
        for sql in ("DELETE FROM expense_settings WHERE user_id = {id}",
                    "INSERT INTO expense_settings (user_id) VALUES ({id})",
                    "INSERT INTO categories (user_id, name) VALUES ({id}, 'Garden')",
                    "INSERT INTO expenses (user_id, amount, note) VALUES ({id}, 7.5, 'by hand')"):
            database.execute_sql(sql.format(id=int(user_id)))
    replies = alice.send(f"/list {today:%Y-%m}")
    assert f"1. $7.50 · 📌 No category · by hand · {today.isoformat()}" in texts(replies)
    assert "Garden" in texts(alice.send("/categories"))
    from plugins.expenses.models import Expense, ExpenseSettings

    with connection_scope():
        expense = Expense.get(Expense.note == "by hand")
        assert (expense.currency, expense.source, expense.is_deleted, expense.expense_date) == \
            ("USD", "manual", False, today)
        assert expense.created_at is not None and expense.updated_at is not None
        prefs = ExpenseSettings.get(ExpenseSettings.user == user_id)
        assert (prefs.budget_alert_threshold, prefs.nlp_enabled, prefs.currency, prefs.week_start) == \
            (80, True, "USD", 1)
        assert Decimal(expense.amount) == Decimal("7.50")
