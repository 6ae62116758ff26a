"""Seed 000 behaviour of the expense bot, through the bot on SQLite+memory and PostgreSQL+Redis."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from expenses_helpers import rows as rows_of
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


# -- /settings: the picker (CONFIGURING_SETTINGS), notifications, currency and budget, timezone ------------


def test_bare_settings_opens_the_picker_and_each_button_changes_its_setting(alice) -> None:
    replies = alice.send("/settings")
    assert "⚙️ Expense settings" in texts(replies) and "Notifications: on" in texts(replies)
    assert replies[-1].button_texts == ["💱 Currency: USD", "📅 Week: Monday", "🕐 UTC", "🔔 Notifications: on",
                                        "✅ Done"]
    assert "Notifications: off" in texts(alice.press("🔔 Notifications: on"))
    with connection_scope():
        assert User.get(User.telegram_id == 1001).notifications_enabled is False
    assert "Week starts on: Sunday" in texts(alice.press("📅 Week: Monday"))
    asked = alice.press("💱 Currency: USD")
    assert "Which currency?" in texts(asked) and "EUR" in asked[-1].button_texts
    assert "Currency: EUR" in texts(alice.press("EUR"))
    alice.press("🕐 UTC")
    assert "is not a timezone" in texts(alice.send("Mars/Olympus"))  # the question stays open
    assert "Timezone: Asia/Tokyo" in texts(alice.send("Asia/Tokyo"))
    done = alice.press("✅ Done")
    assert "Change: /settings" in texts(done)
    assert "Save" in texts(alice.send("haircut 5"))  # the picker is closed: text is quick add again


def test_typed_settings_keep_working_notifications_included(alice) -> None:
    assert "Notifications: off" in texts(alice.send("/settings notifications off"))
    assert "Use on or off." in texts(alice.send("/settings notifications maybe"))
    assert "Currency: EUR" in texts(alice.send("/settings currency EUR"))
    assert "Notifications: on" in texts(alice.send("/settings notifications on"))


def test_muted_notifications_silence_budget_alerts_and_recurring_notices_not_replies(bot, alice) -> None:
    alice.send("/budget 100")
    alice.send("/recurring add rent 10 daily")
    alice.send("/settings notifications off")
    replies = alice.send("coffee $95")
    assert texts(replies).startswith("✅ Saved") and "You have used" not in texts(replies)  # the reply stays
    bot.set_time(dt.datetime(2025, 3, 13, 12, tzinfo=dt.UTC))
    before = len(rows_of(1001))
    assert bot.run_job("expenses.recurring") == []  # booked, not announced
    assert len(rows_of(1001)) > before
    alice.send("/settings notifications on")
    bot.set_time(dt.datetime(2025, 3, 14, 12, tzinfo=dt.UTC))
    assert "Recurring expense added" in texts(bot.run_job("expenses.recurring"))


def test_a_new_currency_converts_the_budget_with_the_stored_rate_or_says_how(alice) -> None:
    alice.send("/budget 30")
    refused = texts(alice.send("/settings currency EUR"))
    assert "no rate to turn USD into EUR" in refused and "/rate USD EUR" in refused
    assert "Currency: USD" in texts(alice.send("/settings"))
    alice.send("/cancel")
    alice.send("/rate USD EUR 0.9")
    changed = texts(alice.send("/settings currency EUR"))
    assert "Currency: EUR" in changed and "Monthly budget: €27.00" in changed
    alice.send("/rate EUR RUB 100")
    assert "Monthly budget: 2,700.00 ₽" in texts(alice.send("/settings currency RUB")).replace("\u00a0", " ")


def test_one_timezone_an_admins_change_reaches_the_expense_bot(bot, alice) -> None:
    alice.send("/budget")
    bot.set_time(dt.datetime(2025, 3, 12, 20, 0, tzinfo=dt.UTC))  # 05:00 on the 13th in Tokyo
    with connection_scope(), database.atomic():
        user = User.get(User.telegram_id == 1001)
        bot.app.users.change_settings(user, actor=user, timezone="Asia/Tokyo")
    assert "2025-03-13" in texts(alice.send("coffee $3"))
    assert "Timezone: Asia/Tokyo" in texts(alice.send("/settings"))
    alice.send("/cancel")
    alice.send("/settings timezone Europe/Moscow")
    with connection_scope():
        assert User.get(User.telegram_id == 1001).timezone == "Europe/Moscow"


# -- retention: archive after 180 days, back on return; schedules of archived and banned users stop ---------


def _archive_state(telegram_id: int) -> tuple[list[bool], bool]:
    from framework.models import UserSettings
    from plugins.expenses.models import Expense

    with connection_scope():
        user = User.get(User.telegram_id == telegram_id)
        settings = UserSettings.get_or_none(UserSettings.user == user.id)
        flags = [e.archived for e in Expense.select().where(Expense.user == user.id).order_by(Expense.id)]
        return flags, settings is not None and settings.archived_at is not None


def test_inactive_for_180_days_archives_and_the_return_brings_it_back(bot, alice) -> None:
    alice.send("coffee $5")
    alice.send("/recurring add rent 10 monthly on 1")
    bot.advance(days=181)
    sent = bot.run_job("datarights.retention")
    assert "it has been a while" in texts(sent)
    assert _archive_state(1001) == ([True], True)
    assert bot.run_job("expenses.recurring") == []  # an archived user's schedule stops
    replies = alice.send("/list 2025-03")  # back: the first update brings the data back
    assert "coffee" in texts(replies)
    assert _archive_state(1001) == ([False], False)
    assert "Recurring expense added" in texts(bot.run_job("expenses.recurring"))


def test_a_banned_users_schedules_stop_and_the_core_marks_them_suspended(bot, alice) -> None:
    alice.send("/recurring add rent 10 daily")
    with connection_scope(), database.atomic():
        user = User.get(User.telegram_id == 1001)
        bot.app.access.ban(user, by=1)
    with connection_scope():
        assert User.get(User.telegram_id == 1001).status == "suspended"
    bot.advance(days=2)
    before = len(rows_of(1001))
    assert bot.run_job("expenses.recurring") == [] and len(rows_of(1001)) == before
    with connection_scope(), database.atomic():
        bot.app.access.unban(user)
    with connection_scope():
        assert User.get(User.telegram_id == 1001).status == "active"
    assert "Recurring expense added" in texts(bot.run_job("expenses.recurring"))


def test_preferences_are_cached_for_an_hour_and_dropped_on_every_change(bot, alice) -> None:
    from framework.testing import record_sql
    from plugins.expenses.preferences import cache_key

    alice.send("/budget 100")  # a change: the entry is dropped
    cache = bot.app.plugin_cache("expenses")
    user_id = _user_id(1001)
    assert cache.get(cache_key(user_id)) is None
    alice.send("/budget")  # read once, then cached
    assert Decimal(cache.get(cache_key(user_id))["monthly_budget"]) == 100
    with record_sql() as seen:
        alice.send("/budget")
    assert not any("expense_settings" in sql for sql in seen)  # served from user:{id}:preferences
    alice.send("/settings week_start sunday")  # a change drops the entry: the next read sees it
    assert cache.get(cache_key(user_id)) is None
    assert "Week starts on: Sunday" in texts(alice.send("/settings threshold 90"))
    alice.send("/budget")
    assert cache.get(cache_key(user_id))["week_start"] == 0


def test_the_recurring_notice_speaks_the_users_chosen_language(bot, alice) -> None:
    alice.send("/language ru")
    alice.send("/recurring add rent 10 monthly on 1")
    bot.set_time(dt.datetime(2025, 4, 1, 12, tzinfo=dt.UTC))
    notice = texts(bot.run_job("expenses.recurring"))
    assert "Recurring" not in notice and "10,00" in notice  # Russian text, Russian numbers


def test_the_benchmark_lives_outside_the_plugin_package() -> None:
    from pathlib import Path

    import benchmarks.expenses_stats as bench

    plugin = Path(__file__).resolve().parents[3] / "plugins" / "expenses"
    assert not (plugin / "bench_stats.py").exists() and callable(bench.main)


def test_recurring_expenses_of_a_user_who_blocked_the_bot_stop_until_they_write_again(bot, alice) -> None:
    alice.send("/recurring add rent 10 daily")
    bot.set_time(dt.datetime(2025, 3, 13, 12, tzinfo=dt.UTC))
    real = bot.telegram.call

    def blocked(method: str, **params):  # Telegram: the user blocked the bot
        if params.get("chat_id") == 1001:
            from telebot import apihelper
            raise apihelper.ApiTelegramException(method, None, {"ok": False, "error_code": 403,
                                                                "description": "Forbidden: bot was blocked by the user"})
        return real(method, **params)

    bot.telegram.call = blocked
    bot.run_job("expenses.recurring")                 # the notice is refused: users.status says blocked
    bot.telegram.call = real
    with connection_scope():
        assert User.get(User.telegram_id == 1001).status == "blocked"
    booked = len(rows_of(1001))
    bot.set_time(dt.datetime(2025, 3, 15, 12, tzinfo=dt.UTC))
    assert bot.run_job("expenses.recurring") == [] and len(rows_of(1001)) == booked   # stopped
    alice.send("/list")                               # back: active again, the schedule resumes
    with connection_scope():
        assert User.get(User.telegram_id == 1001).status == "active"
    assert "Recurring expense added" in texts(bot.run_job("expenses.recurring"))
