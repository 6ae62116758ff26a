"""The durable update queue (framework.update_queue), in one process, on SQLite and PostgreSQL:
updates are stored before anything else, a redelivery is ignored, a chat's updates run one at a
time in update_id order while other chats go on, a poison update is dropped, and rows an
earlier run left are processed at the next start. The many-process proof is in
test_update_queue_processes.py."""
from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from plugins_for_tests import lanes

from framework.db import connection_scope, utcnow
from framework.models import IncomingUpdate, ProcessedUpdate
from framework.testing import FakeTelegram, eventually
from framework.transports.polling import run_polling

LANES = {"lanes": {"module": "plugins_for_tests.lanes"}}
UNLIMITED = {"ratelimit": {"messages_per_minute": 1_000_000}}


@pytest.fixture(autouse=True)
def _fresh_lanes() -> Any:
    lanes.reset()
    yield
    lanes.released.set()  # a failing test must not leave a worker waiting


def stored() -> list[int]:
    with connection_scope():
        return [row.update_id for row in IncomingUpdate.select().order_by(IncomingUpdate.update_id)]


def replies(bot: Any, chat_id: int) -> list[str]:
    return [r.text for r in bot.telegram.calls if r.chat_id == chat_id and r.method == "send_message"]


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_redelivered_update_is_processed_once(bot_factory: Any, database: str) -> None:
    bot = bot_factory(LANES, database=database)
    user = bot.user(5)
    update = user.message_update("coffee")
    bot.app.feed_many([update, dict(update)])  # twice in one batch
    bot.app.feed(dict(update))                  # and again, perhaps while it is processed
    assert bot.app.join(timeout=30)
    bot.app.feed(dict(update))                  # and after: its row is gone, processed_updates remembers
    assert bot.app.join(timeout=30)
    assert replies(bot, 5) == ["got coffee"]
    assert lanes.SEEN == {5: ["coffee"]}
    assert stored() == []
    with connection_scope():
        assert ProcessedUpdate.get_or_none(ProcessedUpdate.update_id == update["update_id"]) is not None


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_each_chat_keeps_its_order_with_many_workers(bot_factory: Any, database: str) -> None:
    bot = bot_factory(LANES, database=database, config={"workers": 8, **UNLIMITED})
    users = [bot.user(100 + n) for n in range(12)]
    batch = [user.message_update(f"m{k}") for k in range(15) for user in users]  # chats interleaved
    for start in range(0, len(batch), 25):
        bot.app.feed_many(batch[start:start + 25])
    assert bot.app.join(timeout=120)
    expected = [f"m{k}" for k in range(15)]
    for user in users:
        assert lanes.SEEN[user.profile["id"]] == expected
        assert replies(bot, user.profile["id"]) == [f"got {text}" for text in expected]
    assert stored() == []
    assert bot.app.queue.pending == 0


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_more_workers_than_chats_never_run_one_chat_twice_at_once(bot_factory: Any, database: str) -> None:
    # Two workers on one chat would both take its oldest row: one would skip it as processed, but
    # each take counts an attempt, and max_attempts would drop updates nobody failed on.
    bot = bot_factory(LANES, database=database, config={"workers": 8, "queue": {"max_attempts": 2}, **UNLIMITED})
    lanes.pause = 0.002
    users = [bot.user(200 + n) for n in range(3)]
    for k in range(30):  # stored while the workers are at it: every store wakes them all
        bot.app.feed_many([user.message_update(f"n{k}") for user in users])
    assert bot.app.join(timeout=120)
    for user in users:
        assert lanes.SEEN[user.profile["id"]] == [f"n{k}" for k in range(30)]
        assert len(replies(bot, user.profile["id"])) == 30


def test_a_busy_chat_holds_only_itself(bot_factory: Any) -> None:
    # PostgreSQL: on SQLite one transaction writes at a time, so a handler that waits stops every writer.
    bot = bot_factory(LANES, database="postgres", config={"workers": 2, **UNLIMITED})
    busy, other = bot.user(1), bot.user(2)
    lanes.released.clear()
    bot.app.feed_many([busy.message_update("hold on"), busy.message_update("after the hold")]
                      + [other.message_update(f"o{k}") for k in range(6)])
    assert eventually(lambda: len(lanes.SEEN.get(2, [])) == 6, timeout=30)
    assert 1 not in lanes.SEEN  # still held, and its next update waits behind it
    lanes.released.set()
    assert bot.app.join(timeout=30)
    assert lanes.SEEN[1] == ["hold on", "after the hold"]


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_poison_update_is_dropped_after_max_attempts_and_its_chat_goes_on(
        bot_factory: Any, database: str, caplog: pytest.LogCaptureFixture) -> None:
    bot = bot_factory(LANES, database=database, config={"queue": {"max_attempts": 3}, **UNLIMITED})
    victim, other = bot.user(7), bot.user(8)
    poison = victim.message_update("poison")
    # Taken three times already by processes that died on it (each take counts an attempt).
    with connection_scope():
        IncomingUpdate.insert(update_id=poison["update_id"], chat_key=7, payload=__import__("json").dumps(poison),
                              received_at=utcnow(), attempts=3, fast=False).execute()
    with caplog.at_level(logging.ERROR, logger="plugbot.queue"):
        bot.app.feed_many([victim.message_update("next"), other.message_update("hello")])
        assert bot.app.join(timeout=30)
    assert lanes.SEEN == {7: ["next"], 8: ["hello"]}
    assert replies(bot, 7) == ["got next"]
    assert stored() == []
    with connection_scope():  # marked processed: a redelivery of it is ignored too
        assert ProcessedUpdate.get_or_none(ProcessedUpdate.update_id == poison["update_id"]) is not None
    assert any(f"update {poison['update_id']} dropped" in r.getMessage() for r in caplog.records)
    assert "poison" not in caplog.text  # the id is logged, never the user's message


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_updates_stored_by_a_run_that_ended_are_processed_at_the_next_start(
        bot_factory: Any, database: str, tmp_path: Any, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("postgres_url") if database == "postgres" else f"sqlite:///{tmp_path}/kept.db"
    first = bot_factory(LANES, db_url=url, config=UNLIMITED)
    first.app.queue.workers = 0  # a receiver only: it stores, nobody here processes
    users = [first.user(40 + n) for n in range(3)]
    first.app.feed_many([user.message_update(f"t{k}") for k in range(4) for user in users])
    assert len(stored()) == 12
    first.app.stop()
    second = bot_factory(LANES, db_url=url, config=UNLIMITED)  # starts: recovery
    assert eventually(lambda: stored() == [], timeout=30)
    assert eventually(lambda: sum(len(replies(second, u.profile["id"])) for u in users) == 12, timeout=30)
    for user in users:
        assert lanes.SEEN[user.profile["id"]] == [f"t{k}" for k in range(4)]


def test_a_pre_checkout_query_is_stored_and_answered_on_the_fast_path(bot_factory: Any) -> None:
    from plugins_for_tests import shop

    bot = bot_factory({"shop": {"module": "plugins_for_tests.shop"}}, config={"workers": 1}, database="postgres")
    user = bot.user(9)
    user.send("/buy")  # the user row exists: a new user's row would wait for the stuck transaction's
    shop.busy.clear()
    shop.slow_started.clear()
    shop.slow_done.clear()
    try:
        bot.app.users.invalidate(user.profile["id"])  # /slow writes the user's row and holds its lock
        bot.app.feed(user.message_update("/slow"))  # the only chat worker is stuck in this chat
        assert shop.slow_started.wait(10)
        bot.app.users.invalidate(user.profile["id"])  # the query finds no cached profile either
        query = {"update_id": bot.next_update_id(), "pre_checkout_query": {
            "id": "q-fast", "from": user.profile, "currency": "XTR", "total_amount": 25,
            "invoice_payload": "star:9"}}
        bot.app.feed(query)
        bot.app.feed(dict(query))  # redelivered: answered once
        assert eventually(lambda: "q-fast" in bot.telegram.pre_checkout_answers, timeout=10)
        assert not shop.slow_done.is_set(), "the query waited for the busy chat's update to finish"
        assert query["update_id"] not in stored()  # its row went with its transaction
    finally:
        shop.busy.set()
    assert bot.app.join(timeout=30)
    answers = [c for c in bot.telegram.calls if c.method == "answer_pre_checkout_query"]
    assert len(answers) == 1


class _PollingTelegram(FakeTelegram):
    """FakeTelegram that also serves getUpdates from a script of batches."""

    def __init__(self, batches: list[list[dict[str, Any]]], stopping: threading.Event) -> None:
        super().__init__()
        self.batches = batches
        self.offsets: list[int | None] = []
        self.stopping = stopping

    def call(self, method: str, **params: Any) -> Any:
        if method == "delete_webhook":
            return True
        if method != "get_updates":
            return super().call(method, **params)
        self.offsets.append(params.get("offset"))
        if not self.batches:
            self.stopping.wait(0.05)
            return []
        return self.batches.pop(0)


def test_polling_acknowledges_a_batch_before_a_slow_chat_in_it_is_done(bot_factory: Any) -> None:
    bot = bot_factory(LANES, database="postgres", config={"workers": 2, **UNLIMITED})
    slow, quick = bot.user(31), bot.user(32)
    first = [slow.message_update("hold me"), quick.message_update("q1")]
    second = [quick.message_update("q2")]
    api = _PollingTelegram([first, second], bot.app.stopping)
    bot.app.api = api  # the polling loop's Telegram; replies still go to bot.telegram
    lanes.released.clear()
    loop = threading.Thread(target=run_polling, args=(bot.app,), kwargs={"timeout": 0}, daemon=True)
    loop.start()
    try:
        # The next batch was asked for (offset past the slow update) and processed while it is held.
        assert eventually(lambda: lanes.SEEN.get(32) == ["q1", "q2"], timeout=30)
        assert second[0]["update_id"] + 1 in api.offsets
        assert 31 not in lanes.SEEN
    finally:
        lanes.released.set()
        assert bot.app.join(timeout=30)
        bot.app.stopping.set()
        loop.join(10)
    assert lanes.SEEN[31] == ["hold me"]
