"""The core's answer to private text no plugin took, and the users.notifications_enabled switch,
through the real pipeline on both backends."""
from __future__ import annotations

import datetime as dt

from plugins_for_tests import HELLO, build, texts

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
    bot.advance(minutes=4)
    assert texts(alice.send("still there?")) == []
    bot.advance(minutes=2)  # five minutes after the hint
    assert texts(alice.send("hello?")) == [HINT_EN]
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


def test_hook_plugbot_unarchive_user_data_on_the_first_update_after_the_archive(bot_factory, monkeypatch,
                                                                             backend) -> None:
    from plugins_for_tests import PROBE
    from plugins_for_tests.probe import events

    from framework.models import UserSettings

    bot = build(bot_factory, backend, monkeypatch, HELLO, PROBE)
    bot.set_time(T0)
    alice = bot.user(ALICE, first_name="Alice")
    alice.send("/hello")
    bot.advance(days=181)
    bot.run_job("datarights.retention")
    assert [e.telegram_id for e in events("archived")] == [ALICE]
    alice.send("/hello")  # back
    assert [e.telegram_id for e in events("unarchived")] == [ALICE]
    with connection_scope():
        settings = UserSettings.get(UserSettings.user == User.get(User.telegram_id == ALICE).id)
        assert settings.archived_at is None
    alice.send("/hello")
    assert len(events("unarchived")) == 1  # once per return


def test_a_muted_user_gets_no_inactivity_reminder(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    bot.set_time(T0)
    bot.user(ALICE, first_name="Alice").send("/hello")
    bot.user(BORIS, first_name="Boris").send("/hello")
    with connection_scope(), database.atomic():
        bot.app.users.set_notifications(User.get(User.telegram_id == ALICE), False)
    bot.advance(days=91)
    sent = bot.run_job("datarights.retention")
    assert [r.chat_id for r in sent if r.text] == [BORIS]


def test_job_notify_skips_a_user_who_muted_notifications(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    bot.set_time(dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC))
    bot.user(ALICE).send("/morning on")
    bot.user(BORIS).send("/morning on")
    with connection_scope(), database.atomic():
        bot.app.users.set_notifications(User.get(User.telegram_id == ALICE), False)
    bot.set_time(dt.datetime(2024, 5, 1, 9, 5, tzinfo=dt.UTC))
    assert [r.chat_id for r in bot.run_job("hello.morning")] == [BORIS]
    assert texts(bot.user(ALICE).send("/hello"))  # answers to the user's own messages are not muted
