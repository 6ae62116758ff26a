"""Parallel updates: many users quick-adding at once on 8 workers lose and duplicate nothing."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from expenses_helpers import START, amounts, audit

from framework import connection_scope

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
