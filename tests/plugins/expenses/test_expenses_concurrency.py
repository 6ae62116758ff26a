"""Parallel updates: many users quick-adding at once on 8 workers lose and duplicate nothing."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from expenses_helpers import START, amounts, audit, rows

from framework import connection_scope
from framework.models import AuditLog
from plugins.expenses.models import Expense

USERS = 40
EACH = 10


def _message(update_id: int, telegram_id: int, text: str) -> dict[str, Any]:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(START.timestamp()), "text": text,
        "chat": {"id": telegram_id, "type": "private"},
        "from": {"id": telegram_id, "is_bot": False, "first_name": f"U{telegram_id}"}}}


def test_parallel_quick_adds_are_each_stored_once(bot_factory: Any, database: str) -> None:
    bot = bot_factory(plugins={"expenses": {}}, database=database, config={"workers": 8})
    bot.set_time(START)
    update_id = 0
    for n in range(EACH):
        for user in range(USERS):
            update_id += 1
            bot.app.feed(_message(update_id, 5000 + user, f"coffee {n + 1}"))
    # Telegram redelivering the first hundred updates must not store them twice.
    for again in range(1, 101):
        user, n = (again - 1) % USERS, (again - 1) // USERS
        bot.app.feed(_message(again, 5000 + user, f"coffee {n + 1}"))
    assert bot.app.join(timeout=120)

    with connection_scope():
        for user in range(USERS):
            assert sorted(amounts(5000 + user)) == [Decimal(n + 1) for n in range(EACH)]
        assert len(audit("expense_added")) == USERS * EACH
    saved = [r for r in bot.telegram.calls if r.method == "send_message" and (r.text or "").startswith("✅")]
    assert len(saved) == USERS * EACH


def _in_chat(update_id: int, telegram_id: int, chat_id: int, text: str) -> dict[str, Any]:
    update = _message(update_id, telegram_id, text)
    update["message"]["chat"] = {"id": chat_id, "type": "private" if chat_id == telegram_id else "group",
                                 "title": "Group"}
    return update


def test_two_currency_changes_at_once_never_mix_one_currency_with_the_others_budget(
        bot_factory: Any, database: str) -> None:
    """The private chat and a group run in parallel: EUR in one, RUB in the other, 8 times over."""
    from framework import User
    from framework import database as db
    from plugins.expenses.models import ExpenseSettings

    bot = bot_factory(plugins={"expenses": {}}, database=database, redis=database == "postgres",
                      config={"workers": 4})
    bot.set_time(START)
    alice = bot.user(7001, first_name="A")
    for text in ("/budget 30", "/rate USD EUR 0.9", "/rate USD RUB 90", "/rate EUR RUB 100"):
        alice.send(text)
    update_id = 10_000
    for _ in range(8):
        with connection_scope(), db.atomic():
            user_id = User.get(User.telegram_id == 7001).id
            ExpenseSettings.update(currency="USD", monthly_budget=Decimal(30)).where(
                ExpenseSettings.user == user_id).execute()
        bot.app.plugin_cache("expenses").delete(f"user:{user_id}:preferences")
        bot.app.feed(_in_chat(update_id + 1, 7001, 7001, "/settings currency EUR"))
        bot.app.feed(_in_chat(update_id + 2, 7001, -7001, "/settings currency RUB"))
        update_id += 2
        assert bot.app.join(timeout=60)
        with connection_scope():
            row = ExpenseSettings.get(ExpenseSettings.user == user_id)
            assert (row.currency, Decimal(row.monthly_budget)) in {("EUR", Decimal("27.00")),
                                                                   ("RUB", Decimal("2700.00"))}


def test_parallel_undos_of_one_user_in_two_chats_each_remove_a_different_expense(bot_factory: Any,
                                                                                  database: str) -> None:
    """/undo reads "the user's last expense" under a lock (SELECT ... FOR UPDATE on PostgreSQL, the
    writer lock on SQLite): two undos at once never report and delete the same row."""
    bot = bot_factory(plugins={"expenses": {"charts": False}}, database=database, redis=database == "postgres",
                      config={"workers": 8, "ratelimit": {"messages_per_minute": 100_000}})
    bot.set_time(START)
    user = bot.user(7001, first_name="Ann")
    group = user.in_chat(-7001)
    for round_ in range(3):
        bot.telegram.calls.clear()
        base = round_ * 20
        # twenty quick adds in private, racing undos in the group; then undos in both chats at once
        for n in range(20):
            bot.app.feed(user.message_update(f"coffee ${base + n + 1}"))
            if n % 4 == 0:
                bot.app.feed(group.message_update("/undo"))
        assert bot.app.join(timeout=120)
        for _ in range(8):
            bot.app.feed(user.message_update("/undo"))
            bot.app.feed(group.message_update("/undo"))
        assert bot.app.join(timeout=120)

        undo_replies = [r.text for r in bot.telegram.calls
                        if r.method == "send_message" and r.text.startswith(("🗑 Deleted", "There is no expense"))]
        assert len(undo_replies) == 5 + 16
        named = [r.split("\n")[0] for r in undo_replies if r.startswith("🗑")]
        assert len(named) == len(set(named)), sorted(named)  # each undo removed and named its own row
        with connection_scope():
            deleted = [e for e in rows(7001, include_deleted=True) if e.is_deleted]
            assert len(deleted) == len(named)
            assert sorted(f"🗑 Deleted: ${e.amount:.2f}" for e in deleted) == sorted(
                line.split(" · ")[0] for line in named)
            assert len(audit("expense_deleted")) == len(named)
        # start the next round from a clean ledger
        with connection_scope():
            Expense.delete().execute()
            AuditLog.delete().execute()
