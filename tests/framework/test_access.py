"""Access control through the real update pipeline, on both backends."""
from __future__ import annotations

import datetime as dt

import pytest
from plugins_for_tests import HELLO, PROBE, build, texts
from plugins_for_tests.probe import events

from framework import User, connection_scope
from framework.models import UserRestriction

ALICE, BOB, ADMIN, GROUP = 901, 902, 999, -100901
T0 = dt.datetime(2025, 3, 1, 10, 0, tzinfo=dt.UTC)
BANNED = "You are blocked from using this bot."
NOT_ALLOWED = "You are not allowed to do that."


def _user(telegram_id: int) -> User:
    with connection_scope():
        return User.get(User.telegram_id == telegram_id)


def _greetings(telegram_id: int) -> int:
    from plugbot_hello.models import Greeting

    with connection_scope():
        row = Greeting.select().join(User).where(User.telegram_id == telegram_id).first()
    return row.count if row else 0


def _end_notice_day(bot, backend: str, kind: str, telegram_id: int, monkeypatch) -> None:
    """A day passes for the once-a-day notice: memory cache clock moves, or the Redis key expires."""
    if backend == "memory":
        backend_obj = bot.app._cache_backend
        start = backend_obj._clock()
        monkeypatch.setattr(backend_obj, "_clock", lambda: start + 86_401)
    else:
        prefix = bot.app.config["redis"]["prefix"]
        assert bot.app.redis.delete(f"{prefix}cache:access:notice:{kind}:{telegram_id}") == 1


def test_banned_user_is_dropped_with_one_notice_a_day(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, admins=(ADMIN,))
    alice = bot.user(ALICE)
    alice.send("/hello")
    with connection_scope():
        bot.app.access.ban(_user(ALICE), by=ADMIN, reason="spam")

    replies = [texts(alice.send(text)) for text in ("/hello", "/hello", "hi", "/help")]
    assert replies == [[BANNED], [], [], []]
    assert _greetings(ALICE) == 1
    assert _greetings(BOB) == 0 and "Hello" in texts(bot.user(BOB).send("/hello"))[0]   # others unaffected

    _end_notice_day(bot, backend, "ban", ALICE, monkeypatch)
    assert texts(alice.send("/hello")) == [BANNED]
    assert alice.send("/hello") == []

    with connection_scope():
        assert bot.app.access.unban(_user(ALICE)) == 1
    assert "greeting #2" in texts(alice.send("/hello"))[0]


def test_expired_ban_stops_applying_without_a_job(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    bot.set_time(T0)
    alice = bot.user(ALICE)
    alice.send("/hello")
    with connection_scope():
        bot.app.access.ban(_user(ALICE), by=ADMIN, until=T0 + dt.timedelta(hours=1))
    assert texts(alice.send("/hello")) == ["You are blocked from using this bot until 2025-03-01 11:00 UTC."]

    bot.set_time(T0 + dt.timedelta(hours=1, minutes=1))
    assert "greeting #2" in texts(alice.send("/hello"))[0]
    with connection_scope():
        restriction = UserRestriction.get(UserRestriction.user == _user(ALICE).id)
    assert restriction.is_active is True                      # nobody flipped it


def test_blacklisted_chat_and_user_are_ignored(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    with connection_scope():
        assert bot.app.access.add_to_list(GROUP, "chat", "blacklist", by=ADMIN) is True
        assert bot.app.access.add_to_list(GROUP, "chat", "blacklist", by=ADMIN) is False
        bot.app.access.add_to_list(BOB, "user", "blacklist", by=ADMIN)
    alice = bot.user(ALICE)
    assert alice.in_chat(GROUP).send("/hello") == []
    assert alice.in_chat(GROUP).send("/hello") == []           # silently, every time
    assert "Hello" in texts(alice.send("/hello"))[0]           # the same user in private is served
    assert bot.user(BOB).send("/hello") == []
    assert _greetings(BOB) == 0

    with connection_scope():
        assert bot.app.access.remove_from_list(GROUP, "chat", "blacklist") is True
    assert "Hello" in texts(alice.in_chat(GROUP).send("/hello"))[0]


def test_whitelist_mode_serves_only_listed_users_and_chats(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, admins=(ADMIN,), config={"access": {"mode": "whitelist"}})
    with connection_scope():
        bot.app.access.add_to_list(ALICE, "user", "whitelist", by=ADMIN)
        bot.app.access.add_to_list(GROUP, "chat", "whitelist", by=ADMIN)
    bob = bot.user(BOB)
    assert "Hello" in texts(bot.user(ALICE).send("/hello"))[0]
    assert texts(bob.send("/hello")) == ["This bot is private."]
    assert bob.send("/hello") == []                            # told once, not per message
    assert _greetings(BOB) == 0
    assert "Hello" in texts(bob.in_chat(GROUP).send("/hello"))[0]   # a whitelisted chat serves everyone in it
    assert "Hello" in texts(bot.user(ADMIN).send("/hello"))[0]      # admins are never locked out


def test_config_admins_are_superadmins(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, PROBE, admins=(ADMIN,))
    admin, alice = bot.user(ADMIN), bot.user(ALICE)
    assert texts(admin.send("/jobs"))[0].startswith("Scheduled jobs:")
    assert texts(alice.send("/jobs")) == [NOT_ALLOWED]
    assert texts(admin.send("/manage")) == ["managed"]
    with connection_scope():
        admin_user = _user(ADMIN)
        assert admin_user.is_admin is True
        assert all(bot.app.access.can(admin_user, p) for p in ("admin", "superadmin", "manage_keys", "view_stats",
                                                                  "manage_users"))
        assert not bot.app.access.can(_user(ALICE), "admin")
        with pytest.raises(ValueError, match="unknown permission"):
            bot.app.access.can(admin_user, "fly")


def test_admin_roles_from_admin_users(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, PROBE)
    alice = bot.user(ALICE)
    alice.send("/hello")
    access = bot.app.access
    with connection_scope():
        user = _user(ALICE)
        access.grant(user, can_view_stats=False, can_manage_users=True)
        assert access.can(user, "admin") and access.can(user, "manage_users")
        assert not access.can(user, "view_stats")
        assert not access.can(user, "manage_keys") and not access.can(user, "superadmin")
    assert texts(alice.send("/manage")) == ["managed"]
    assert texts(alice.send("/jobs"))[0].startswith("Scheduled jobs:")

    with connection_scope():
        access.grant(user, can_manage_users=False)             # takes effect at once, despite the cache
        assert not access.can(user, "manage_users")
    assert texts(alice.send("/manage")) == [NOT_ALLOWED]

    with connection_scope():
        assert access.revoke(user) is True
        assert not access.can(user, "admin")
    assert texts(alice.send("/jobs")) == [NOT_ALLOWED]
    assert len(events("manage", ALICE)) == 1


def test_permission_command_refuses_a_non_admin_every_call(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, PROBE)
    alice = bot.user(ALICE)
    assert [texts(alice.send("/manage")) for _ in range(3)] == [[NOT_ALLOWED]] * 3
    assert events("manage") == []
    help_text = texts(alice.send("/help"))[0]
    assert "/manage" not in help_text and "/write" in help_text


RESTRICTED_COSTLY = "/costly is not available while your account is restricted."


def test_restricted_user_is_served_slower_and_without_costly_commands(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, PROBE, admins=(ADMIN,),
                config={"access": {"restricted_messages_per_minute": 4}})
    bot.set_time(T0)
    alice, bob = bot.user(ALICE), bot.user(BOB)
    assert texts(alice.send("/whoami")) == ["restricted=False"]
    with connection_scope():
        bot.app.access.restrict(_user(ALICE), by=ADMIN, reason="flooding", until=T0 + dt.timedelta(hours=1))
        row = UserRestriction.get(UserRestriction.user == _user(ALICE).id)
    assert (row.restriction_type, row.reason, row.created_by, row.is_active) == ("restrict", "flooding", ADMIN, True)
    assert row.expires_at == T0 + dt.timedelta(hours=1)

    assert texts(alice.send("/whoami")) == ["restricted=True"]      # served, and the handler knows
    assert texts(alice.send("/costly")) == [RESTRICTED_COSTLY]      # told, not silently dropped
    assert texts(alice.send("/write still here")) == ["written"]  # the 4th message of this minute
    assert texts(alice.send("/whoami")) == [
        "Your account is restricted to 4 messages a minute: try again in 60 s."]
    assert alice.send("/whoami") == []                              # told once per window
    assert events("costly", ALICE) == [] and len(events("write", ALICE)) == 1

    assert texts(bob.send("/costly")) == ["costly command ran"]     # others are not affected
    bot.user(ADMIN).send("/whoami")
    with connection_scope():
        bot.app.access.restrict(_user(ADMIN), by=ADMIN)
    assert texts(bot.user(ADMIN).send("/costly")) == ["costly command ran"]   # admins never are

    bot.set_time(T0 + dt.timedelta(hours=1, minutes=1))              # expired: no job needed
    assert texts(alice.send("/costly")) == ["costly command ran"]   # back to the normal 30 a minute
    assert texts(alice.send("/whoami")) == ["restricted=False"]


def test_ban_and_restrict_are_lifted_separately(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, PROBE)
    alice = bot.user(ALICE)
    alice.send("/whoami")
    access = bot.app.access
    with connection_scope():
        user = _user(ALICE)
        access.restrict(user, by=ADMIN, reason="spam links")
        access.ban(user, by=ADMIN, reason="spam")
        assert access.active_ban(user) == {"expires_at": None, "reason": "spam"}
        assert access.active_restriction(user, "restrict") == {"expires_at": None, "reason": "spam links"}
        with pytest.raises(ValueError, match="unknown restriction"):
            access.ban(user, by=ADMIN, kind="mute")
    assert texts(alice.send("/whoami")) == [BANNED]

    with connection_scope():
        assert access.unban(user) == 1
    assert texts(alice.send("/whoami")) == ["restricted=True"]      # the restriction outlives the ban
    with connection_scope():
        assert access.unrestrict(user) == 1
        kinds = {(r.restriction_type, r.is_active) for r in UserRestriction.select()}
    assert texts(alice.send("/costly")) == ["costly command ran"]
    assert kinds == {("ban", False), ("restrict", False)}           # kept as history
