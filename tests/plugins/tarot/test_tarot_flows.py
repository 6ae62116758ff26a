"""The rest of the issue's correctness list, through the pipeline: parallel readings never
overcharge, the balance cache is never stale, the daily card follows the user's day, history
pages and forged ids, the user's data exported and deleted with the ledger still balanced."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from framework import User, connection_scope
from framework import database as db
from plugins.tarot import ledger
from plugins.tarot.handlers import HistoryOpen, HistoryPage
from plugins.tarot.models import Credits, Reading, Transaction

START = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def _message(update_id: int, telegram_id: int, chat: dict[str, Any], text: str) -> dict[str, Any]:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(START.timestamp()), "text": text, "chat": chat,
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        "from": {"id": telegram_id, "is_bot": False, "first_name": "Alice", "language_code": "en"}}}


def test_fifty_parallel_readings_with_ten_credits_charge_exactly_ten(bot_factory: Any, database: str) -> None:
    bot = bot_factory(plugins={"tarot": {"welcome_bonus": 0}}, database=database, redis=database == "postgres",
                      config={"workers": 8, "ratelimit": {"messages_per_minute": 1000}})
    bot.set_time(START)
    alice = bot.user(1)
    alice.send("/balance")
    with connection_scope(), db.atomic():
        ledger.credit(User.get(User.telegram_id == 1), 10, "bonus", START)
    bot.app.plugin_cache("tarot").invalidate("balance:")
    chats = [{"id": 1, "type": "private", "first_name": "Alice"}, {"id": -100, "type": "group", "title": "G"}]
    for n in range(50):
        bot.app.feed(_message(1000 + n, 1, chats[n % 2], "/reading single"))
    assert bot.app.join(timeout=120)
    with connection_scope():
        assert Credits.get().balance == 0
        charged = Transaction.select().where(Transaction.type == "reading")
        assert charged.count() == 10 and all(t.credits_after >= 0 for t in charged)
        assert Reading.select().where(Reading.status == "completed").count() == 10
        assert ledger.verify() == []
    refusals = [r for r in bot.telegram.calls if (r.text or "").startswith("🙏 This reading costs 1 credit and you have 0.")]
    assert len(refusals) == 40
    assert alice.send("/balance")[0].text.startswith("💳 You have 0 credits.")


def test_the_balance_shown_is_never_stale(bot_factory: Any, database: str) -> None:
    bot = bot_factory(plugins={"tarot": {}}, database=database, redis=database == "postgres")
    bot.set_time(START)
    alice = bot.user(1)
    assert alice.send("/balance")[-1].text.startswith("💳 You have 3 credits.")  # now cached
    alice.send("/reading single")
    assert alice.send("/balance")[-1].text.startswith("💳 You have 2 credits.")
    alice.send("/buy")
    alice.press("10 credits")
    alice.pay(bot.telegram.invoices[-1], "ch-1")
    assert alice.send("/balance")[-1].text.startswith("💳 You have 12 credits.")
    assert bot.app.plugin_cache("tarot").get(f"balance:{_user_id(1)}") == 12


def _user_id(telegram_id: int) -> int:
    with connection_scope():
        return User.get(User.telegram_id == telegram_id).id


def test_the_card_of_the_day_follows_the_users_local_day(bot: Any) -> None:
    bot.set_time(dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC))  # 23:00 in Tokyo
    alice = bot.user(1)
    alice.send("/balance")
    with connection_scope():
        User.update(timezone="Asia/Tokyo").where(User.telegram_id == 1).execute()
    bot.app.users.invalidate(1)
    first = alice.send("/card")[-1].text
    assert first.startswith("🃏 Your card for 2026-03-02: ")
    bot.advance(minutes=50)
    assert alice.send("/card")[-1].text == first  # same local day: same card
    bot.advance(minutes=20)  # 00:10 on the 3rd in Tokyo, still the 2nd in UTC
    assert alice.send("/card")[-1].text.startswith("🃏 Your card for 2026-03-03: ")
    with connection_scope():
        assert Transaction.select().where(Transaction.type == "reading").count() == 0  # free


def test_history_pages_and_reopens_only_ones_own_readings(bot_factory: Any, database: str) -> None:
    bot = bot_factory(plugins={"tarot": {"welcome_bonus": 10}}, database=database)
    bot.set_time(START)
    alice, bob = bot.user(1), bot.user(2)
    for n in range(7):
        bot.advance(minutes=1)
        alice.send(f"/reading single question {n}")
    page = alice.send("/history")[-1]
    assert page.text == "📜 Your readings (7), page 1 of 2. Tap one to read it again."
    assert page.button_texts[0] == "2026-03-02 · Single card question 6" and page.button_texts[-1] == "▶"
    assert alice.press("▶")[-1].text == "📜 Your readings (7), page 2 of 2. Tap one to read it again."
    opened = alice.press("2026-03-02 · Single card question 0")
    assert opened[0].text.startswith("🔮 Single card, 2026-03-02\nQuestion: question 0\n\n1. The card — ")
    with connection_scope():
        alices = Reading.select().order_by(Reading.id).first().id
    bob.send("/balance")
    assert bob.press(data=HistoryOpen(reading=alices))[-1].text == "This button is no longer valid."
    assert alice.press(data=HistoryPage(page=-1))[-1].text == "This button is no longer valid."
    assert bob.send("/history")[-1].text == "You have no readings yet. Start one with /reading."


def test_mydata_exports_and_deleteme_anonymises_the_ledger(bot: Any) -> None:
    bot.set_time(START)
    alice = bot.user(1)
    alice.send("/reading three Will it rain?")
    alice.send("/buy")
    alice.press("10 credits")
    alice.pay(bot.telegram.invoices[-1], "ch-1")
    export = alice.send("/mydata")[-1]
    data = json.loads(export.document)
    tarot = data["plugins"]["tarot"] if "plugins" in data else data["tarot"]
    assert tarot["credits"] == 11
    assert [t["type"] for t in tarot["transactions"]] == ["bonus", "reading", "purchase"]
    assert tarot["readings"][0]["question"] == "Will it rain?"
    alice.send("/deleteme")
    alice.press("Yes, delete everything")
    with connection_scope():
        assert Reading.select().count() == 0
        assert Transaction.select().count() == 3 and Transaction.select().where(Transaction.user.is_null(False)).count() == 0
        assert Credits.get().user_id is None and Credits.get().balance == 11
        assert ledger.verify() == []
    # Back again: a new account, but no second welcome bonus.
    replies = alice.send("/balance")
    assert replies[0].text.startswith("💳 You have 0 credits.")
    assert not any("Welcome" in (r.text or "") for r in replies)


def test_the_benchmark_mix_of_readings_and_purchases_leaves_the_books_balanced(bot_factory: Any,
                                                                              database: str) -> None:
    from benchmarks.workloads import generate

    bot = bot_factory(plugins={"tarot": {"welcome_bonus": 5}}, database=database, redis=database == "postgres",
                      config={"workers": 8, "ratelimit": {"messages_per_minute": 100_000}})
    work = generate("tarot", 400, users=12)
    for update in work.updates:
        bot.app.feed(update)
    assert bot.app.join(timeout=180)
    paid = sum(1 for kind in work.kinds.values() if kind == "purchase")
    with connection_scope():
        assert Transaction.select().where(Transaction.type == "purchase").count() == paid
        readings = Transaction.select().where(Transaction.type == "reading").count()
        assert Reading.select().where(Reading.status == "completed").count() == readings
        assert ledger.verify() == []
    answers = [r for r in bot.telegram.calls if r.method == "answer_pre_checkout_query"]
    assert len(answers) == paid and all(r.params["ok"] for r in answers)


def test_a_balance_cached_by_a_parallel_update_before_the_commit_is_dropped_after_it(
        bot_factory: Any, database: str, monkeypatch: Any) -> None:
    import threading

    from plugins.tarot import reading

    bot = bot_factory(plugins={"tarot": {}}, database=database, redis=database == "postgres")
    bot.set_time(START)
    alice = bot.user(1)
    alice.send("/balance")
    cache = bot.app.plugin_cache("tarot")
    original = reading.interpret
    key = f"balance:{_user_id(1)}"

    def a_parallel_read_then_interpret(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        # The debit is written and its cache entry dropped, but not committed: another update of
        # the user now reads the committed (old) balance and caches it.
        def other_update() -> None:
            with connection_scope():
                cache.set(key, ledger.balance_of(ctx.user))

        thread = threading.Thread(target=other_update)
        thread.start()
        thread.join()
        assert cache.get(key) == 3
        return original(ctx, *args, **kwargs)

    monkeypatch.setattr(reading, "interpret", a_parallel_read_then_interpret)
    alice.send("/reading single")
    assert alice.send("/balance")[-1].text.startswith("💳 You have 2 credits.")  # dropped after the commit
