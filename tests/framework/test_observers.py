"""Observers (``register.observer``), edits and member changes, the bot's own messages
(``plugbot_message_sent``) and forum topics, through the real pipeline."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import plugins_for_tests
import pytest
from plugins_for_tests import events

from framework import connection_scope
from framework.context import Outgoing
from framework.models import AuditLog
from framework.registry import RegistrationError

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[1] / "examples" / "hello"
WATCHER = {"watcher": {"module": "plugins_for_tests.watcher"}}
FLAKY = {"flaky": {"module": "plugins_for_tests.flaky"}}
HELLO = {"hello": {"module": "plugbot_hello"}}
GROUP = -100
ANN = {"id": 7, "is_bot": False, "first_name": "Ann"}
BOT = {"id": 1, "is_bot": True, "first_name": "plugbot", "username": "plugbot_test_bot"}


@pytest.fixture(autouse=True)
def _plugin_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.syspath_prepend(str(HERE))
    plugins_for_tests.reset()


def watched_rows() -> list[dict[str, Any]]:
    with connection_scope():
        return [row.details for row in AuditLog.select().where(AuditLog.action == "watched").order_by(AuditLog.id)]


def member_update(update_id: int, kind: str, status: str, user: dict[str, Any]) -> dict[str, Any]:
    return {"update_id": update_id, kind: {
        "chat": {"id": GROUP, "type": "group", "title": "Team"}, "from": ANN, "date": 1_700_000_000,
        "old_chat_member": {"status": "member", "user": user},
        "new_chat_member": {"status": status, "user": user, **({"until_date": 0} if status == "kicked" else {})}}}


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_an_observer_sees_a_command_another_plugin_answers(bot_factory, database: str) -> None:
    bot = bot_factory({**WATCHER, **HELLO}, database=database)
    replies = bot.user(7).send("/hello")
    assert [r.text for r in replies] == ["👋 Hello, User7! That's greeting #1."]
    assert events("watched") == [("message", 7, "text", "/hello", None)]
    assert [row["text"] for row in watched_rows()] == ["/hello"]


def test_an_observer_sees_group_chatter_no_handler_takes(bot_factory) -> None:
    bot = bot_factory({**WATCHER, **HELLO})
    assert bot.user(7).in_chat(GROUP).send("just talking") == []
    assert events("watched") == [("message", GROUP, "text", "just talking", None)]


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_failing_observer_changes_nothing_for_the_other_plugin(bot_factory, database: str) -> None:
    bot = bot_factory({**WATCHER, **HELLO}, database=database)
    bot.user(7).send("/hello")
    replies = bot.user(7).in_chat(GROUP).send("watch: fail")
    assert replies == []  # no apology and not the observer's half reply
    assert [row["text"] for row in watched_rows()] == ["/hello"]  # its write was rolled back alone
    replies = bot.user(7).send("/hello")
    assert [r.text for r in replies] == ["👋 Hello, User7! That's greeting #2."]
    assert bot.app.plugins.plugins["watcher"].status == "enabled"
    assert bot.app.plugins.plugins["hello"].status == "enabled"


def test_observer_failures_never_pause_a_plugin(bot_factory) -> None:
    bot = bot_factory({**WATCHER, **HELLO})
    for _ in range(12):
        bot.user(7).in_chat(GROUP).send("watch: fail")
    assert bot.app.plugins.plugins["watcher"].status == "enabled"
    assert [r.text for r in bot.user(7).send("/hello")] == ["👋 Hello, User7! That's greeting #1."]


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_what_an_observer_wrote_survives_a_failing_handler(bot_factory, database: str) -> None:
    bot = bot_factory({**WATCHER, **FLAKY}, database=database)
    replies = bot.user(7).send("/boom")
    assert [r.text for r in replies] == ["Something went wrong, sorry. Please try again."]
    assert [row["text"] for row in watched_rows()] == ["/boom"]


def test_edits_reach_observers_and_no_handler(bot_factory) -> None:
    bot = bot_factory({**WATCHER, **HELLO})
    edit = {"update_id": 5, "edited_message": {"message_id": 3, "date": 1_700_000_000, "edit_date": 1_700_000_100,
                                               "chat": {"id": 7, "type": "private"}, "from": ANN, "text": "/hello"}}
    assert bot.process(edit) == []
    assert events("watched") == [("edited_message", 7, "text", "/hello", None)]


def test_without_an_observer_edits_and_member_changes_stay_ignored(bot_factory) -> None:
    bot = bot_factory(HELLO)
    edit = {"update_id": 5, "edited_message": {"message_id": 3, "date": 1_700_000_000, "edit_date": 1_700_000_100,
                                               "chat": {"id": 7, "type": "private"}, "from": ANN, "text": "/hello"}}
    with connection_scope():
        from framework.models import ProcessedUpdate
        assert bot.process(edit) == []
        assert bot.process(member_update(6, "my_chat_member", "kicked", BOT)) == []
        assert ProcessedUpdate.select().count() == 0
    assert bot.app.allowed_updates() is None


def test_member_changes_and_service_messages_reach_observers(bot_factory) -> None:
    bot = bot_factory({**WATCHER, **HELLO})
    assert bot.process(member_update(101, "my_chat_member", "kicked", BOT)) == []
    assert bot.process(member_update(102, "chat_member", "left", {"id": 9, "is_bot": False, "first_name": "Bo"})) == []
    group = bot.user(7).in_chat(GROUP)
    group.send_message({"new_chat_members": [{"id": 9, "is_bot": False, "first_name": "Bo"}]})
    group.send_message({"new_chat_title": "Renamed"})
    group.send_message({"migrate_to_chat_id": -1001234})
    assert [(kind, chat, what) for kind, chat, what, _, _ in events("watched")] == [
        ("my_chat_member", GROUP, "my_chat_member"), ("chat_member", GROUP, "chat_member"),
        ("message", GROUP, "new_chat_members"), ("message", GROUP, "new_chat_title"),
        ("message", GROUP, "migrate_to_chat_id")]
    assert "chat_member" in bot.app.allowed_updates()


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_bots_own_messages_reach_plugbot_message_sent_with_their_ids(bot_factory, database: str) -> None:
    bot = bot_factory({**WATCHER, **HELLO}, database=database)
    replies = bot.user(7).send("/hello")
    sent = events("sent")
    assert [(m.chat_id, m.message_id, m.text, m.content_type, m.edited) for m in sent] == [
        (7, replies[0].message_id, replies[0].text, "message", False)]


def test_a_failing_sent_hook_does_not_stop_the_reply(bot_factory) -> None:
    bot = bot_factory(WATCHER)
    bot.app.sender.deliver([Outgoing("send_message", {"chat_id": 7, "text": "explode on sent"})])
    assert [r.text for r in bot.telegram.calls if r.method == "send_message"] == ["explode on sent"]
    assert [m.text for m in events("sent")] == ["explode on sent"]


def test_each_chunk_of_a_long_reply_is_reported(bot_factory) -> None:
    bot = bot_factory({**WATCHER, "chatty": {"module": "plugins_for_tests.chatty"}})
    replies = bot.user(7).send("/essay")
    assert len(replies) > 1
    assert [m.message_id for m in events("sent")] == [r.message_id for r in replies]


def test_forum_topic_is_known_and_replies_go_there(bot_factory) -> None:
    bot = bot_factory({**WATCHER, **HELLO})
    forum = bot.user(7).in_chat(-1009, kind="supergroup")
    replies = forum.send("/hello", message_thread_id=42, is_topic_message=True)
    assert replies[0].params["message_thread_id"] == 42
    assert events("watched")[0][4] == 42
    assert events("sent")[0].thread_id == 42
    assert "message_thread_id" not in forum.send("/hello")[0].params  # the General topic


def test_an_observer_must_ask_for_known_kinds(bot_factory) -> None:
    from framework.plugin import Plugin
    from framework.registry import HandlerRegistry, Routes

    bot = bot_factory(HELLO)
    register = HandlerRegistry(Routes(), Plugin(bot.app, "x"))
    with pytest.raises(RegistrationError, match="unknown update kinds"):
        register.observer(lambda ctx: None, updates=["channel_post"])
    with pytest.raises(RegistrationError, match=r"\(ctx\)"):
        register.observer(lambda: None)


def test_chat_status_is_chat_admin_and_member_count_ask_telegram(bot_factory) -> None:
    bot = bot_factory(WATCHER)
    group = bot.user(7).in_chat(GROUP)
    assert group.send("/amiadmin")[0].text == "member False 2"
    bot.telegram.set_member(GROUP, 7, "administrator")
    bot.telegram.member_counts[GROUP] = 40
    assert group.send("/amiadmin")[0].text == "administrator True 40"
    bot.telegram.set_member(GROUP, 7, "creator")
    assert group.send("/amiadmin")[0].text == "creator True 40"
    assert bot.user(7).send("/amiadmin")[0].text.split()[1] == "True"  # a private chat is the user's own
