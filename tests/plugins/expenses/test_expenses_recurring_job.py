"""/recurring and the job that books recurring expenses exactly once."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from expenses_helpers import START, audit, rows, texts

JOB = "expenses.recurring"


def at(bot, *args: int) -> None:
    bot.set_time(dt.datetime(*args, tzinfo=dt.UTC))


def test_add_and_list(alice) -> None:
    replies = alice.send("/recurring add rent 1000 monthly on 1")
    assert "🔁 Added: 1. $1,000.00 · rent — monthly on day 1, next 2025-04-01" in texts(replies)
    alice.send("/recurring add gym 30 weekly on mon")
    replies = alice.send("/recurring")
    assert "2. $30.00 · gym — every Monday, next 2025-03-17" in texts(replies)
    assert replies[-1].button_texts == ["⏸ 1", "🗑 1", "⏸ 2", "🗑 2"]


def test_add_errors(alice) -> None:
    assert "how often" in texts(alice.send("/recurring add rent 1000"))
    assert "between 1 and 31" in texts(alice.send("/recurring add rent 1000 monthly on 40"))
    assert "greater than zero" in texts(alice.send("/recurring add rent 0 monthly on 1"))
    assert "Add:" in texts(alice.send("/recurring frobnicate"))
    assert "from the list" in texts(alice.send("/recurring pause 3"))


def test_job_creates_once_per_due_date_even_across_restart(bot_factory, bot, alice) -> None:
    alice.send("/recurring add rent 1000 monthly on 1")
    at(bot, 2025, 3, 31, 23, 0)
    assert bot.run_job(JOB) == []
    at(bot, 2025, 4, 1, 9, 0)
    replies = bot.run_job(JOB)
    assert "🔁 Recurring expense added: $1,000.00 · 🏠 Bills · rent · 2025-04-01" in texts(replies)
    assert bot.run_job(JOB) == []
    [expense] = rows(1001)
    assert (expense.source, expense.expense_date, Decimal(expense.amount)) == (
        "recurring", dt.date(2025, 4, 1), Decimal("1000"))
    assert audit("expense_added")[0].details["source"] == "recurring"
    restarted = bot_factory(plugins={"expenses": {}}, db_url=bot.app.config["database"]["url"])
    restarted.set_time(dt.datetime(2025, 4, 1, 10, 0, tzinfo=dt.UTC))
    assert restarted.run_job(JOB) == []
    assert len(rows(1001)) == 1
    restarted.set_time(dt.datetime(2025, 5, 1, 0, 5, tzinfo=dt.UTC))
    restarted.run_job(JOB)
    assert [e.expense_date for e in rows(1001)] == [dt.date(2025, 4, 1), dt.date(2025, 5, 1)]


def test_due_date_is_in_the_users_timezone(bot, alice, bob) -> None:
    alice.send("/settings timezone Pacific/Auckland")  # UTC+13 on 1 April 2025
    bob.send("/settings timezone America/Los_Angeles")  # UTC-7
    alice.send("/recurring add rent 100 monthly on 1")
    bob.send("/recurring add rent 100 monthly on 1")
    at(bot, 2025, 3, 31, 12, 0)  # 1 April 01:00 in Auckland, 31 March 05:00 in Los Angeles
    bot.run_job(JOB)
    assert [e.expense_date for e in rows(1001)] == [dt.date(2025, 4, 1)]
    assert rows(2002) == []
    at(bot, 2025, 4, 1, 7, 30)  # 00:30 on 1 April in Los Angeles
    bot.run_job(JOB)
    assert [e.expense_date for e in rows(2002)] == [dt.date(2025, 4, 1)]


def test_missed_dates_are_caught_up(bot, alice) -> None:
    alice.send("/recurring add gym 30 weekly on mon")  # next: Monday 17 March
    at(bot, 2025, 4, 2, 12, 0)
    replies = bot.run_job(JOB)
    assert [e.expense_date for e in rows(1001)] == [dt.date(2025, 3, 17), dt.date(2025, 3, 24),
                                                     dt.date(2025, 3, 31)]
    assert len(replies) == 3


def test_paused_schedule_does_not_run_and_resume_does_not_double(bot, alice) -> None:
    alice.send("/recurring add coffee 3 daily")
    bot.run_job(JOB)
    assert len(rows(1001)) == 1
    assert "⏸ Paused" in texts(alice.send("/recurring pause 1"))
    bot.advance(days=1)
    bot.run_job(JOB)
    assert len(rows(1001)) == 1
    bot.advance(hours=1)
    assert "▶️ Resumed" in texts(alice.send("/recurring resume 1"))
    bot.run_job(JOB)
    assert [e.expense_date for e in rows(1001)] == [dt.date(2025, 3, 12), dt.date(2025, 3, 13)]
    alice.send("/recurring pause 1")
    alice.send("/recurring resume 1")  # same day: next_run moves back to today, already booked
    bot.run_job(JOB)
    assert len(rows(1001)) == 2


def test_buttons_pause_and_delete_only_own(bot, alice, bob) -> None:
    alice.send("/recurring add rent 1000 monthly on 1")
    replies = alice.send("/recurring")
    pause_data = replies[-1].buttons[0][0][1]
    delete_data = replies[-1].buttons[0][1][1]
    bob.send("hello")
    assert "not for you" in texts(bob.press(data=pause_data))       # Alice's own buttons
    assert "not for you" in texts(bob.press(data=delete_data))
    from plugins.expenses.views import RecurringAction, RecurringVerb

    [schedule_id] = [int(pause_data.rsplit(":", 1)[1])]
    for verb in RecurringVerb:                                       # Bob's own, with Alice's id in them
        assert "no longer valid" in texts(bob.press(data=RecurringAction(verb=verb, recurring_id=schedule_id)))
    assert "⏸ Paused" in texts(alice.press("⏸ 1"))
    assert "🗑 Deleted" in texts(alice.press("🗑 1"))
    assert "No recurring expenses" in texts(alice.send("/recurring"))


def test_recurring_expense_triggers_budget_alert(bot, alice) -> None:
    alice.send("/budget 1000")
    alice.send("/recurring add rent 900 monthly on 12")
    replies = bot.run_job(JOB)
    assert "⚠️ You have used 90%" in texts(replies)
    assert START.date() == rows(1001)[0].expense_date
