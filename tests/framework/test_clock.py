"""One clock: conversations, rate-limit windows, cache entries and bans all expire on the application's
clock, so moving it (``bot.advance``) ends them, on SQLite+memory and on PostgreSQL+Redis alike."""
from __future__ import annotations

import datetime as dt

from plugins_for_tests import HELLO, build, texts

from framework import User, connection_scope

ALICE, ADMIN = 1301, 1399
T0 = dt.datetime(2025, 3, 12, 12, 0, tzinfo=dt.UTC)
TIMED_OUT = "That conversation timed out, start again with /nickname."
SLOW_DOWN = "Slow down a little"


def test_six_minutes_later_the_conversation_has_timed_out(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)          # sessions.ttl: 300 s by default
    bot.set_time(T0)
    alice = bot.user(ALICE)
    alice.send("/nickname")
    bot.advance(minutes=4)
    assert texts(alice.send("Neo")) == ["Call you “Neo”?"]       # still in the conversation; the answer renews it
    bot.advance(minutes=6)
    assert texts(alice.send("Trinity")) == [TIMED_OUT]
    assert ALICE not in bot.app.sessions.active()


def test_a_rate_limit_window_ends_when_the_clock_passes_it(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, config={"ratelimit": {"messages_per_minute": 2}})
    bot.set_time(T0)
    alice = bot.user(ALICE)
    assert [sum("Hello, " in t for t in texts(alice.send("/hello"))) for _ in range(3)] == [1, 1, 0]
    bot.advance(seconds=30)
    assert texts(alice.send("/hello")) == []                       # the same window: already told
    bot.advance(seconds=31)
    assert "Hello, " in texts(alice.send("/hello"))[0]             # a new window


def test_a_cache_entry_expires_on_the_applications_clock(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    bot.set_time(T0)
    cache = bot.app.plugin_cache("hello")
    cache.set("forecast", {"sky": "clear"}, ttl=120)
    bot.advance(seconds=119)
    assert cache.get("forecast") == {"sky": "clear"}
    bot.advance(seconds=2)
    assert cache.get("forecast") is None


def test_a_ban_ends_when_the_clock_passes_it(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, admins=(ADMIN,))
    bot.set_time(T0)
    alice = bot.user(ALICE)
    alice.send("/hello")
    with connection_scope():
        bot.app.access.ban(User.get(User.telegram_id == ALICE), by=ADMIN, until=T0 + dt.timedelta(minutes=30))
    assert "blocked" in texts(alice.send("/hello"))[0]
    bot.advance(minutes=31)
    assert "Hello, " in texts(alice.send("/hello"))[0]
