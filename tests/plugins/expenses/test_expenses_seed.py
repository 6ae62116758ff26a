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


def test_bare_stats_opens_the_period_picker(alice) -> None:
    alice.send("coffee $5")
    replies = alice.send("/stats")
    assert texts(replies).startswith("📊 Statistics for which period?")
    assert replies[-1].button_texts == ["Today", "This week", "This month", "Last month", "This year"]
    shown = alice.press("This month")
    assert shown[0].method == "edit_message_text" and "Total: $5.00 (expenses: 1)" in texts(shown)
    assert any(r.method == "send_photo" for r in shown)  # the chart, by default
    from plugins.expenses.handlers.reports import PickPeriod

    stale = alice.press(data=PickPeriod(period="week"), message=shown[0])
    assert "Total" not in texts(stale)  # answered: the picker's buttons are stale


def test_the_period_picker_takes_a_typed_period_and_explains_a_wrong_one(alice) -> None:
    alice.send("coffee $5")
    alice.send("/stats")
    again = alice.send("someday")
    assert "period" in texts(again).lower() and again[-1].button_texts[0] == "Today"
    assert "Total: $5.00" in texts(alice.send("2025-03"))
    assert "Total" not in texts(alice.send("2025-03"))  # the picker is closed: plain text again
    assert "Total: $5.00" in texts(alice.send("/stats month"))  # the typed form answers at once
