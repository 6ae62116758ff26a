"""users.status as the core keeps it (seed 000): ``suspended`` while banned, ``blocked`` after
Telegram refused a message with 403, ``deleted`` (a tombstone) after /deleteme, and ``active``
again when the ban ends or the user writes again; jobs that take active users skip the others."""
from __future__ import annotations

import datetime as dt
from typing import Any

from plugins_for_tests import HELLO, build, texts
from telebot import apihelper

from framework import User, connection_scope
from framework.models import UserSettings

ALICE, BOB, ADMIN = 1701, 1702, 1799
T0 = dt.datetime(2025, 2, 1, 9, 0, tzinfo=dt.UTC)
REMINDER = "it has been a while"


def _status(telegram_id: int) -> str:
    with connection_scope():
        return User.get(User.telegram_id == telegram_id).status


def _refusing(bot: Any, chat_id: int) -> Any:
    """Telegram answers 403 to every message for ``chat_id``: that user blocked the bot. Returns
    the real call, to put back."""
    real = bot.telegram.call

    def call(method: str, **params: Any) -> Any:
        if params.get("chat_id") == chat_id:
            raise apihelper.ApiTelegramException(method, None, {
                "ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})
        return real(method, **params)

    bot.telegram.call = call
    return real


def test_a_ban_suspends_and_its_end_makes_the_user_active_again_with_or_without_an_update(
        bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, admins=(ADMIN,))
    bot.set_time(T0)
    alice, access = bot.user(ALICE), bot.app.access
    alice.send("/hello")
    bot.user(ADMIN).send("/hello")

    def ban(hours: int) -> None:
        with connection_scope():
            admin, target = (User.get(User.telegram_id == t) for t in (ADMIN, ALICE))
            access.ban(target, actor=admin, reason="spam", until=bot.clock() + dt.timedelta(hours=hours))

    ban(1)
    assert _status(ALICE) == "suspended"
    bot.advance(hours=2)                                  # nobody writes: the core's job sees the end
    bot.run_job("maintenance.lift_expired_bans")
    assert _status(ALICE) == "active"

    ban(1)
    bot.advance(hours=2)
    assert "Hello" in texts(alice.send("/hello"))[0]       # lazily, on the user's next update
    assert _status(ALICE) == "active"

    ban(1)
    bot.advance(hours=2)
    with connection_scope():                              # and what an admin's /user shows is the truth
        profile = bot.app.users.profile(ALICE, actor=User.get(User.telegram_id == ADMIN))
    assert profile["status"] == "active" and _status(ALICE) == "active"

    ban(24)
    with connection_scope():
        access.unban(User.get(User.telegram_id == ALICE), actor=User.get(User.telegram_id == ADMIN))
    assert _status(ALICE) == "active"


def test_a_403_marks_the_user_blocked_until_they_write_again_and_jobs_skip_them(
        bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    bot.set_time(T0)
    alice, bob = bot.user(ALICE), bot.user(BOB)
    alice.send("/hello")
    alice.send("/morning on")
    bob.send("/hello")
    bob.send("/morning on")
    alice.in_chat(-100, kind="group").send("/hello")
    real = _refusing(bot, -100)                           # a group refusing says nothing about a user
    alice.in_chat(-100, kind="group").send("/hello")
    assert _status(ALICE) == "active"

    bot.telegram.call = real
    _refusing(bot, ALICE)
    bot.set_time(T0 + dt.timedelta(days=91))
    reminded = [r.chat_id for r in bot.run_job("datarights.retention") if REMINDER in (r.text or "")]
    assert reminded == [BOB]                              # alice's reminder was refused with 403
    assert _status(ALICE) == "blocked" and _status(BOB) == "active"
    bot.telegram.call = real                              # job.notify does not even try a blocked user
    bot.set_time(dt.datetime(2025, 5, 3, 9, 5, tzinfo=dt.UTC))
    assert [r.chat_id for r in bot.run_job("hello.morning")] == [BOB]
    bot.set_time(T0 + dt.timedelta(days=200))            # never written to again, but archived like anyone
    assert [r for r in bot.run_job("datarights.retention") if r.chat_id == ALICE] == []
    with connection_scope():
        assert UserSettings.get(UserSettings.user == User.get(User.telegram_id == ALICE).id).archived_at is not None

    # unblocked, and they write
    assert "Hello" in texts(alice.send("/hello"))[0]
    assert _status(ALICE) == "active"


def test_an_erased_user_is_a_tombstone_jobs_skip_and_a_return_starts_afresh(bot_factory, monkeypatch,
                                                                            backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, config={"consent": {"required": True}})
    bot.set_time(T0)
    alice = bot.user(ALICE, username="alice", first_name="Alice", last_name="Liddell")
    alice.send("/start")
    alice.press("I agree")
    alice.send("/hello")
    alice.send("/deleteme")
    alice.press("Yes, delete everything")
    with connection_scope():
        row = User.get(User.telegram_id == ALICE)
        assert (row.status, row.username, row.first_name, row.last_name) == ("deleted", None, None, None)

    bot.set_time(T0 + dt.timedelta(days=91))              # the tombstone is nobody to remind
    assert [r for r in bot.run_job("datarights.retention") if REMINDER in (r.text or "")] == []

    replies = alice.send("/hello")                        # back: asked for consent again, like a new user
    assert replies[0].button_texts == ["I agree", "No, thanks"]
    with connection_scope():
        row = User.get(User.telegram_id == ALICE)
        assert (row.status, row.username, row.first_name) == ("active", None, None)   # nothing before consent
