"""The core's answer to private text no plugin took, and the users.notifications_enabled switch,
through the real pipeline on both backends."""
from __future__ import annotations

import datetime as dt

from pb_testplugins import HELLO, build, texts

from framework import User, connection_scope, database

ALICE, BORIS = 911, 912
T0 = dt.datetime(2025, 3, 1, 10, 0, tzinfo=dt.UTC)
HINT_EN = "I did not understand that. Send /help to see what I can do."
HINT_RU = "Я не понял сообщение. Отправьте /help, чтобы посмотреть, что я умею."


def test_private_text_no_plugin_takes_gets_a_help_hint_once_in_a_while(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    bot.set_time(T0)
    alice = bot.user(ALICE, language_code="en")
    boris = bot.user(BORIS, language_code="ru")

    assert texts(alice.send("hello there")) == [HINT_EN]
    assert texts(alice.send("anyone?")) == []  # chatting on is not answered each time
    assert texts(boris.send("привет")) == [HINT_RU]  # per user, in the user's language
    group = alice.in_chat(-100911)
    assert texts(group.send("just chatting")) == []  # a group's chatter is nobody's business


def test_notifications_switch_is_a_core_user_setting(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    alice = bot.user(ALICE)
    alice.send("/start")
    with connection_scope():
        user = User.get(User.telegram_id == ALICE)
        assert user.notifications_enabled is True
        assert bot.app.users.set_notifications(user, False) is True
        assert bot.app.users.set_notifications(user, False) is False  # no change, nothing written
        assert User.get(User.telegram_id == ALICE).notifications_enabled is False
    with connection_scope(), database.atomic():
        # A row written by another tool gets the seed's default in SQL.
        database.execute_sql("INSERT INTO users (telegram_id, language_code, timezone, is_admin, status, "
                             "created_at, updated_at, last_active) VALUES (913, 'en', 'UTC', FALSE, 'active', "
                             "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
        assert User.get(User.telegram_id == 913).notifications_enabled is True
