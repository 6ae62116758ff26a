"""2. Redis dies mid-run and comes back.

The bot runs on a redis-server of its own (killed with SIGKILL, then restarted on the same
port, empty, as after a crash without persistence). Updates keep flowing on 4 workers the whole
time. Every update must get exactly one answer: its normal reply, or the core "temporarily
unavailable" text while Redis is down. An expense is stored exactly when its reply says so,
never twice, and once Redis is back the bot serves normally again without a restart.
"""
from __future__ import annotations

import logging
import re
import time
from decimal import Decimal
from typing import Any

import pytest
from reliability_helpers import RedisServer, app_invariants

from framework.db import connection_scope
from plugins.expenses.models import Expense

UNAVAILABLE = "temporarily unavailable"
SAVED = re.compile(r"Saved: \$(\d+\.\d\d)")


def _feed_round(bot: Any, users: list[Any], round_no: int, sent: dict[int, list[str]]) -> None:
    """One quick-add per user, amounts unique per (user, round), fed to the worker pool."""
    for index, user in enumerate(users):
        amount = f"{round_no + 1}.{index:02d}"
        sent[user.id].append(amount)
        update = {"update_id": bot.next_update_id(),
                  "message": {"message_id": bot.next_message_id(), "date": bot.timestamp(), "chat": user.chat,
                              "from": user.profile, "text": f"coffee {amount}"}}
        bot.app.feed(update)


def _answers(bot: Any, chat_id: int) -> list[str]:
    return [r.text or "" for r in bot.telegram.calls if r.chat_id == chat_id and r.method == "send_message"]


def run_outage(bot: Any, server: RedisServer, users: list[Any], rounds: tuple[int, int, int]) -> dict[str, Any]:
    """``rounds`` = (before, during, after) the outage; Redis is killed while the first
    'during' round is in flight."""
    before, during, after = rounds
    sent: dict[int, list[str]] = {u.id: [] for u in users}
    counter = 0
    for _ in range(before):
        _feed_round(bot, users, counter, sent)
        counter += 1
    bot.app.join()
    for n in range(during):
        _feed_round(bot, users, counter, sent)
        counter += 1
        if n == 0:
            time.sleep(0.01)  # some of this round in flight
            server.kill()
    bot.app.join()
    server.start()
    recovered_at = counter
    for _ in range(after):
        _feed_round(bot, users, counter, sent)
        counter += 1
    bot.app.join()

    result = {"sent": counter * len(users), "unanswered": 0, "extra_answers": 0, "wrong": 0,
              "unavailable": 0, "saved_but_missing": 0, "stored_without_reply": 0, "duplicates": 0,
              "not_recovered": 0}
    with connection_scope():
        stored = {}
        for user in users:
            rows = [f"{Decimal(e.amount):.2f}" for e in Expense.select().join_from(Expense, Expense.user.rel_model)
                    .where(Expense.user.rel_model.telegram_id == user.id)]
            stored[user.id] = rows
    for user in users:
        answers = _answers(bot, user.id)
        amounts = sent[user.id]
        result["unanswered"] += max(0, len(amounts) - len(answers))
        result["extra_answers"] += max(0, len(answers) - len(amounts))
        saved = []
        for position, (amount, answer) in enumerate(zip(amounts, answers, strict=False)):
            match = SAVED.search(answer)
            if match and match.group(1) == f"{float(amount):.2f}":
                saved.append(f"{float(amount):.2f}")
            elif UNAVAILABLE in answer:
                result["unavailable"] += 1
                if position >= recovered_at:
                    result["not_recovered"] += 1
            else:
                result["wrong"] += 1
        rows = stored[user.id]
        result["duplicates"] += len(rows) - len(set(rows))
        result["saved_but_missing"] += len(set(saved) - set(rows))
        result["stored_without_reply"] += len(set(rows) - set(saved))
    return result


@pytest.mark.redis
@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=[pytest.mark.slow,
                                                                                pytest.mark.postgres])])
def test_redis_dies_and_comes_back(bot_factory: Any, caplog: pytest.LogCaptureFixture, ledger: Any,
                                   full: bool, database: str) -> None:
    caplog.set_level(logging.WARNING)
    server = RedisServer()
    server.start()
    try:
        bot = bot_factory(plugins={"expenses": {"charts": False}}, database=database,
                          config={"redis": {"url": server.url, "prefix": "reliability:"},
                                  "ratelimit": {"messages_per_minute": 1_000_000}})
        users = [bot.user(7000 + i, first_name=f"R{i}") for i in range(8 if full else 5)]
        result = run_outage(bot, server, users, (3, 3, 3) if not full else (6, 6, 6))
        problems = app_invariants(bot.app)
    finally:
        server.stop()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    failures = (result["unanswered"] + result["extra_answers"] + result["wrong"] + result["not_recovered"]
                + len(errors) + len(problems))
    lost = result["saved_but_missing"] + result["stored_without_reply"]
    ledger.record(f"redis outage ({database})", sent=result["sent"], failures=failures, lost=lost,
                  duplicates=result["duplicates"], note=f"{result['unavailable']} answered 'temporarily unavailable'")
    assert result["unavailable"] > 0, "the outage was not noticed: kill Redis earlier"
    assert result["unanswered"] == 0 and result["extra_answers"] == 0, result
    assert result["wrong"] == 0, result
    assert result["not_recovered"] == 0, result
    assert lost == 0 and result["duplicates"] == 0, result
    assert not errors, [r.getMessage()[:300] for r in errors[:5]]
    assert not problems, problems
