"""framework/pipeline.py end to end: what Telegram may send, exactly-once, per-chat order,
isolation of a failing handler, group commands, log context, and replies through the sender."""
from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import plugins_for_tests
import pytest
from plugins_for_tests import chatty, recorder
from telebot import apihelper

from framework import connection_scope
from framework.logs import ContextFilter
from framework.sender import MESSAGE_LIMIT, Sender
from framework.testing import FakeTelegram, record_sql

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[1] / "examples" / "hello"
HELLO = {"module": "plugbot_hello"}
ERROR_TEXT = "Something went wrong, sorry. Please try again."


@pytest.fixture(autouse=True)
def _plugin_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.syspath_prepend(str(HERE))
    plugins_for_tests.reset()


def greeting_count(telegram_id: int) -> int | None:
    from plugbot_hello.models import Greeting

    from framework.models import User

    with connection_scope():
        row = Greeting.select().join(User).where(User.telegram_id == telegram_id).first()
        return None if row is None else row.count


def message(update_id: int, text: str | None = None, *, chat: dict[str, Any] | None = None,
            sender: dict[str, Any] | None = None, kind: str = "message", **fields: Any) -> dict[str, Any]:
    sender = sender or {"id": 7, "is_bot": False, "first_name": "Ann"}
    body: dict[str, Any] = {"message_id": update_id, "date": 1_700_000_000, "from": sender,
                            "chat": chat or {"id": sender["id"], "type": "private"}, **fields}
    if text is not None:
        body["text"] = text
        if text.startswith("/"):
            body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, kind: body}


# -- what Telegram may send ------------------------------------------------------------------------

PHOTO = [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]
STICKER = {"file_id": "s1", "file_unique_id": "u2", "type": "regular", "width": 512, "height": 512,
           "is_animated": False, "is_video": False}
CHANNEL = {"id": -1001, "type": "channel", "title": "News"}

IGNORED = {
    "not a dict": ["update_id", 1],
    "update_id is a list": {"update_id": [1], "message": {"text": "/hello"}},
    "chat id is a mapping": {"update_id": 99, "message": {"message_id": 1, "date": 1, "text": "/hello",
                                                          "chat": {"id": {"x": 1}, "type": "private"},
                                                          "from": {"id": 7, "is_bot": False, "first_name": "A"}}},
    "no update_id": {"message": {"text": "/hello"}},
    "update_id is true": {"update_id": True, "message": {"message_id": 1, "date": 1, "text": "/hello",
                                                         "chat": {"id": 7, "type": "private"},
                                                         "from": {"id": 7, "is_bot": False, "first_name": "A"}}},
    "sender id is a string": message(113, "/hello", sender={"id": "x", "is_bot": False, "first_name": "A"}),
    "sender id beyond 64 bits": message(114, "/hello", sender={"id": 2**70, "is_bot": False, "first_name": "A"}),
    "chat id beyond 64 bits": {"update_id": 115, "message": {"message_id": 1, "date": 1, "text": "/hello",
                                                             "chat": {"id": -2**70, "type": "group", "title": "G"},
                                                             "from": {"id": 7, "is_bot": False, "first_name": "A"}}},
    "string update_id": {"update_id": "5", "message": {"text": "/hello"}},
    "no body": {"update_id": 100},
    "unknown update type": {"update_id": 101, "business_future_thing": {"id": 1, "anything": [1, 2]}},
    "message without chat": {"update_id": 102, "message": {"message_id": 1, "date": 1, "text": "/hello",
                                                           "from": {"id": 7, "is_bot": False, "first_name": "A"}}},
    "message without sender": {"update_id": 103, "message": {"message_id": 1, "date": 1, "text": "/hello",
                                                             "chat": {"id": 7, "type": "private"}}},
    "message without date": {"update_id": 104, "message": {"message_id": 1, "text": "/hello",
                                                           "chat": {"id": 7, "type": "private"},
                                                           "from": {"id": 7, "is_bot": False, "first_name": "A"}}},
    "message is a list": {"update_id": 105, "message": ["/hello"]},
    "edited message": message(106, "/hello", kind="edited_message", edit_date=1_700_000_100),
    "channel post": {"update_id": 107, "channel_post": {"message_id": 1, "date": 1, "chat": CHANNEL,
                                                        "text": "/hello"}},
    "edited channel post": {"update_id": 108, "edited_channel_post": {"message_id": 1, "date": 1, "chat": CHANNEL,
                                                                      "text": "/hello", "edit_date": 2}},
    "message from a bot": message(109, "/hello", sender={"id": 8, "is_bot": True, "first_name": "Bot"}),
    "sticker missing its fields": message(110, sticker={"file_id": "s1"}),
    "poll update": {"update_id": 111, "poll": {"id": "1", "question": "?", "options": [], "total_voter_count": 0,
                                               "is_closed": False, "is_anonymous": True, "type": "regular",
                                               "allows_multiple_answers": False}},
    "my_chat_member": {"update_id": 112, "my_chat_member": {
        "chat": {"id": 7, "type": "private"}, "from": {"id": 7, "is_bot": False, "first_name": "A"}, "date": 1,
        "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": True, "first_name": "b"}},
        "new_chat_member": {"status": "kicked", "user": {"id": 1, "is_bot": True, "first_name": "b"},
                            "until_date": 0}}},
}


@pytest.mark.parametrize("raw", list(IGNORED.values()), ids=list(IGNORED))
def test_malformed_and_unserved_updates_are_ignored(bot_factory, raw: Any) -> None:
    bot = bot_factory({"hello": HELLO, "chatty": {"module": "plugins_for_tests.chatty"}})
    assert bot.process(raw) == []
    assert greeting_count(7) is None
    assert bot.user(7).send("/hello")[0].text.startswith("👋 Hello")  # and the bot works on


def test_malformed_updates_never_stop_the_workers(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO})
    for raw in IGNORED.values():
        bot.app.feed(raw)
    bot.app.feed(message(500, "/hello"))
    assert bot.app.join(timeout=30)
    assert [r.text for r in bot.telegram.calls if r.method == "send_message"] == [
        "👋 Hello, Ann! That's greeting #1."]


def test_photo_without_caption_goes_to_content_handlers_only(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO, "chatty": {"module": "plugins_for_tests.chatty"}})
    assert [r.text for r in bot.process(message(1, photo=PHOTO))] == ["nice photo"]
    assert [r.text for r in bot.process(message(2, sticker=STICKER))] == ["nice sticker"]


def test_photo_without_caption_and_no_content_handler_is_quietly_ignored(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO})
    assert bot.process(message(1, photo=PHOTO)) == []
    assert bot.process(message(2, sticker=STICKER)) == []


def test_photo_caption_is_text_for_content_and_text_handlers(bot_factory) -> None:
    bot = bot_factory({"chatty": {"module": "plugins_for_tests.chatty"}})
    assert [r.text for r in bot.process(message(1, photo=PHOTO, caption="my cat"))] == ["nice photo: my cat"]


def test_callback_without_message_or_route_is_answered_as_stale(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO})
    query = {"id": "q1", "from": {"id": 7, "is_bot": False, "first_name": "Ann"}, "chat_instance": "1",
             "data": "nobody:owns-this"}
    replies = bot.process({"update_id": 1, "callback_query": query})
    assert [(r.method, r.params.get("text")) for r in replies] == [
        ("answer_callback_query", "This button is no longer valid.")]
    assert bot.process({"update_id": 2, "callback_query": {**query, "data": None}})[0].method == \
        "answer_callback_query"


# -- exactly once ----------------------------------------------------------------------------------


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_redelivered_update_is_handled_once(bot_factory, database: str) -> None:
    bot = bot_factory({"hello": HELLO}, database=database)
    update = message(42, "/hello")
    assert len(bot.process(update)) == 1
    assert bot.process(update) == []
    assert bot.process(dict(update)) == []
    assert greeting_count(7) == 1


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_known_user_costs_the_database_two_statements_per_update(bot_factory, database: str) -> None:
    """The exactly-once marker and the reply's outbox row are the framework's only statements: the
    user comes from the cache, the one handler runs in the update's transaction with no savepoint,
    and sent rows are deleted in batches, later."""
    bot = bot_factory({"flaky": {"module": "plugins_for_tests.flaky"}}, database=database)
    user = bot.user(7)
    user.send("/fine")  # first contact: the user row is written and cached
    with record_sql() as recorded:
        assert [r.text for r in user.send("/fine")] == ["fine"]
    statements = [s for s in recorded if not s.startswith('DELETE FROM "outbox"')]  # the batched flush
    assert len(statements) == 2 and '"processed_updates"' in statements[0], statements
    assert statements[1].startswith('INSERT INTO "outbox"'), statements


def test_redelivery_after_a_restart_is_still_handled_once(bot_factory, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    first = bot_factory({"hello": HELLO}, db_url=url)
    update = message(42, "/hello")
    assert len(first.process(update)) == 1
    first.app.stop()
    second = bot_factory({"hello": HELLO}, db_url=url)
    assert second.process(update) == []
    assert greeting_count(7) == 1


def test_the_same_update_fed_twice_to_the_workers_runs_once(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO})
    update = message(42, "/hello")
    bot.app.feed(update)
    bot.app.feed(update)
    assert bot.app.join(timeout=30)
    assert len([r for r in bot.telegram.calls if r.method == "send_message"]) == 1
    assert greeting_count(7) == 1


# -- order: one chat in order, chats in parallel -------------------------------------------------------


def test_per_chat_order_with_8_workers_2000_updates_50_chats(bot_factory) -> None:
    recorder.reset()
    bot = bot_factory({"recorder": {"module": "plugins_for_tests.recorder"}}, database="postgres",
                      config={"workers": 8, "ratelimit": {"messages_per_minute": 100_000}})
    rng = random.Random(2000)
    chats = [1000 + n for n in range(50)]
    sent: dict[int, int] = dict.fromkeys(chats, 0)
    for update_id in range(1, 2001):
        chat = rng.choice(chats)
        bot.app.feed(message(update_id, str(sent[chat]),
                             sender={"id": chat, "is_bot": False, "first_name": f"U{chat}"}))
        sent[chat] += 1
    assert bot.app.join(timeout=120), "the workers did not finish"
    assert len(recorder.SEEN) == 2000
    for chat in chats:
        assert [seq for c, seq in recorder.SEEN if c == chat] == list(range(sent[chat])), chat
    assert recorder.max_parallel > 1, "no two chats were ever handled at the same time"


# -- a failing handler --------------------------------------------------------------------------------


def test_failing_handler_rolls_back_its_writes_and_sends_only_the_apology(bot_factory, monkeypatch) -> None:
    from plugbot_hello import handlers

    original = handlers.hello

    def hello_then_fail(ctx: Any) -> None:
        original(ctx)  # writes the greeting row and queues a reply
        raise RuntimeError("failed after writing")

    monkeypatch.setattr(handlers, "hello", hello_then_fail)
    bot = bot_factory({"hello": HELLO})
    assert [r.text for r in bot.user(7).send("/hello")] == [ERROR_TEXT]
    assert greeting_count(7) is None
    assert bot.user(7).send("/nickname")[0].text.startswith("How should I call you?")


def test_failure_is_logged_with_update_plugin_and_handler(bot_factory, caplog) -> None:
    caplog.handler.addFilter(ContextFilter())
    caplog.set_level(logging.INFO)
    bot = bot_factory({"flaky": {"module": "plugins_for_tests.flaky"}})
    bot.process(message(77, "/boom"))
    (record,) = [r for r in caplog.records if r.name == "plugbot.pipeline" and r.levelno == logging.ERROR]
    assert record.getMessage() == "handler boom of plugin flaky failed on update 77"
    assert record.plugbot_context == {"update_id": 77, "chat_id": 7, "user_id": 7, "plugin": "flaky",
                                      "handler": "boom"}
    assert record.exc_info[0] is ValueError


def test_pipeline_failure_outside_a_handler_gets_the_apology(bot_factory, monkeypatch) -> None:
    bot = bot_factory({"hello": HELLO})

    def broken_upsert(tg_user: Any) -> Any:
        raise RuntimeError("users table is gone")

    monkeypatch.setattr(bot.app.users, "upsert", broken_upsert)
    assert [r.text for r in bot.user(7).send("/hello")] == [ERROR_TEXT]


# -- groups -------------------------------------------------------------------------------------------


def test_group_commands_addressed_to_this_bot_or_to_none(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO})
    member = bot.user(7).in_chat(-500)
    assert member.send("/hello@plugbot_test_bot")[0].text == "👋 Hello, User7! That's greeting #1."
    assert member.send("/hello@PlugBot_Test_Bot")[0].text.endswith("greeting #2.")
    assert member.send("/hello")[0].text.endswith("greeting #3.")
    assert all(r.chat_id == -500 for r in bot.telegram.calls if r.method == "send_message")


def test_group_commands_for_another_bot_are_ignored(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO})
    member = bot.user(7).in_chat(-500)
    assert member.send("/hello@otherbot") == []
    assert member.send("/nosuchcommand") == []  # no "unknown command" noise in groups
    assert member.send("just chatting") == []
    assert greeting_count(7) is None


# -- replies through the sender -------------------------------------------------------------------------


class FloodedTelegram:
    """Answers the first ``floods`` sendMessage calls with 429 Too Many Requests."""

    def __init__(self, telegram: FakeTelegram, floods: int, retry_after: int = 7):
        self.telegram = telegram
        self.floods = floods
        self.retry_after = retry_after
        self.refused = 0

    def call(self, method: str, **params: Any) -> Any:
        if method == "send_message" and self.refused < self.floods:
            self.refused += 1
            raise apihelper.ApiTelegramException("sendMessage", None, {
                "ok": False, "error_code": 429, "description": "Too Many Requests: retry later",
                "parameters": {"retry_after": self.retry_after}})
        return self.telegram.call(method, **params)


def flooded_sender(bot: Any, floods: int) -> tuple[FloodedTelegram, list[float]]:
    api = FloodedTelegram(bot.telegram, floods)
    sleeps: list[float] = []
    bot.app.sender = Sender(api, global_per_second=None, private_interval=None, group_per_minute=None,
                            max_retries=2, sleep=sleeps.append)
    return api, sleeps


def test_reply_after_a_429_waits_retry_after_and_is_sent_once(bot_factory) -> None:
    bot = bot_factory({"hello": HELLO})
    api, sleeps = flooded_sender(bot, floods=1)
    replies = bot.user(7).send("/hello")
    assert [r.text for r in replies] == ["👋 Hello, User7! That's greeting #1."]
    assert api.refused == 1
    assert pytest.approx(7, abs=0.5) in sleeps
    assert bot.app.sender.stats["flood_waits"] == 1


def test_reply_that_keeps_hitting_429_is_dropped_without_breaking_the_bot(bot_factory, caplog) -> None:
    bot = bot_factory({"hello": HELLO})
    api, _ = flooded_sender(bot, floods=3)  # max_retries=2: the third refusal is final
    assert bot.user(7).send("/hello") == []
    assert api.refused == 3
    assert greeting_count(7) == 1  # the handler's work is kept; only the message was lost
    assert any("send_message to 7 failed" in r.getMessage() for r in caplog.records)
    assert bot.user(7).send("/hello")[0].text.endswith("greeting #2.")


def test_long_reply_is_split_with_the_keyboard_on_the_last_part(bot_factory) -> None:
    bot = bot_factory({"chatty": {"module": "plugins_for_tests.chatty"}})
    parts = bot.user(7).send("/essay")
    assert len(parts) == 3
    assert all(r.method == "send_message" and r.chat_id == 7 for r in parts)
    assert all(len(r.text.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT for r in parts)
    assert "\n\n".join(r.text for r in parts) == chatty.ESSAY  # cut at paragraph breaks, nothing lost
    assert [r.buttons for r in parts] == [[], [], [[("More", "chatty:more")]]]
