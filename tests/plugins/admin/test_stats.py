"""/botstats: the numbers, the chart, the plugins' own counters, and nothing for a non-admin."""
from __future__ import annotations

import datetime as dt

import pytest
from broadcast_helpers import SUPERADMIN

from framework import User, connection_scope
from framework.models import UsageStats
from framework.testing import assert_locales_complete
from plugins.admin.stats import new_users_per_day

NOW = dt.datetime(2025, 3, 12, 12, 0, tzinfo=dt.UTC)
PNG = b"\x89PNG\r\n\x1a\n"


def _users() -> None:
    """Users first seen and last active at known moments before NOW."""
    rows = []
    for n, (created_days_ago, active_hours_ago) in enumerate(
            [(0, 1), (0, 2), (1, 30), (3, 100), (10, 200), (13, 24 * 20), (20, 24 * 40), (40, 24 * 40)]):
        rows.append({"telegram_id": 100 + n, "first_name": f"U{n}",
                     "created_at": NOW - dt.timedelta(days=created_days_ago, hours=1),
                     "last_active": NOW - dt.timedelta(hours=active_hours_ago)})
    with connection_scope():
        User.insert_many(rows).execute()


def test_botstats_numbers_chart_and_plugin_counters(bot_factory, database) -> None:
    pytest.importorskip("matplotlib", reason="the chart needs the charts extra")
    bot = bot_factory({"admin": {}, "expenses": {}, "failing": {"module": "failing_plugin"}},
                      database=database, admins=(SUPERADMIN,), config={"ratelimit": {"messages_per_minute": 4}})
    bot.set_time(NOW)
    _users()
    with connection_scope():
        UsageStats.insert_many([
            {"user": None, "vendor": "openai", "total_requests": 5, "total_tokens": 1200},
            {"user": User.get(User.telegram_id == 100).id, "vendor": "openai", "total_requests": 2,
             "total_tokens": 300},
            {"user": None, "vendor": "yandex", "total_requests": 1, "total_tokens": 50},
        ]).execute()
    alice = bot.user(7)
    alice.send("/add 7,20 eur")                                  # 1 update
    alice.press("🚗 Transport")
    alice.press("Skip ➡️")
    alice.press("✅ Confirm")                                   # 4: an expense logged
    carol = bot.user(8)
    carol.send("/boom")                                          # an error
    for _ in range(5):
        carol.send("/start")                                     # her 5th and 6th of the minute are refused
    admin = bot.user(SUPERADMIN)
    text_reply, chart = admin.send("/botstats")

    lines = text_reply.text.splitlines()
    assert lines[0] == "📊 Bot statistics"
    # 8 inserted + alice, carol and the admin, who are active now
    assert lines[1] == "Users: 11; active in 24 h: 5, 7 days: 7, 30 days: 9"
    assert lines[2] == "New users in 14 days: 9"               # 6 of the inserted, alice, carol, the admin
    assert lines[3].startswith("Since ") and lines[3].endswith(" UTC: 10 updates processed, 1 errors, 2 rate-limited")
    assert lines[4].startswith("Cache hit rate: ")
    assert lines[5:8] == ["LLM usage:", "• openai: 7 requests, 1,500 tokens, 1 users",
                          "• yandex: 1 requests, 50 tokens, 0 users"]
    assert lines[8] == "Plugins:"
    assert "• expenses: expenses_total = 1, expenses_users = 1, recurring_active = 0" in lines[9:]
    assert chart.method == "send_photo" and chart.photo.startswith(PNG)
    assert chart.text == "New users per day, last 14 days"


def test_new_users_per_day_fills_the_empty_days(bot_factory) -> None:
    bot = bot_factory({"admin": {}})
    bot.set_time(NOW)
    _users()
    with connection_scope():
        days = new_users_per_day(NOW.date())
    assert len(days) == 14 and days[0][0] == NOW.date() - dt.timedelta(days=13) and days[-1][0] == NOW.date()
    counts = dict(days)
    assert counts[NOW.date()] == 2 and counts[NOW.date() - dt.timedelta(days=1)] == 1
    assert counts[NOW.date() - dt.timedelta(days=13)] == 1 and counts[NOW.date() - dt.timedelta(days=2)] == 0
    assert sum(counts.values()) == 6


def test_botstats_reveals_nothing_to_a_non_admin_and_needs_the_permission(bot_factory) -> None:
    bot = bot_factory({"admin": {}}, admins=(SUPERADMIN,))
    alice, bob = bot.user(5), bot.user(6)
    assert [r.text for r in alice.send("/botstats")] == ["I don't know /botstats. See /help."]
    assert "/botstats" not in alice.send("/help")[0].text
    bob.send("/start")
    with connection_scope():
        bot.app.access.grant(User.get(User.telegram_id == 6), can_view_stats=False, can_manage_users=True)
    assert [r.text for r in bob.send("/botstats")] == ["You are not allowed to do that."]
    with connection_scope():
        bot.app.access.grant(User.get(User.telegram_id == 6), can_view_stats=True)
    assert bob.send("/botstats")[0].text.startswith("📊 Bot statistics")


def test_botstats_in_russian() -> None:
    assert_locales_complete("admin")


def test_botstats_adds_up_every_process_of_the_bot(bot_factory, redis_url, redis_prefix) -> None:
    from framework.cache import lookup_totals
    from framework.counters import SharedCounters
    from framework.redisconn import connect_redis
    from plugins.admin.stats import counters_name

    bot = bot_factory({"admin": {}}, admins=(SUPERADMIN,), redis=True)
    # Another process of the same bot (one application per process: its counters, on the same prefix).
    other = SharedCounters(connect_redis(redis_url), redis_prefix, clock=lambda: 1_700_000_000.0)
    other.track(counters_name("admin"), lambda: {"processed": 100, "errors": 3, "rate_limited": 2})
    other.track("cache", lambda: {"hits": 30, "misses": 10})
    assert other.flush()
    bot.user(7).send("/start")
    lines = bot.user(SUPERADMIN).send("/botstats")[0].text.splitlines()
    # Alice's /start counted here, the rest there; "since": when the first process began counting.
    assert lines[3] == "Since 2023-11-14 22:13 UTC: 101 updates processed, 3 errors, 2 rate-limited"
    own = lookup_totals(bot.app.caches().values())
    hits, lookups = 30 + own["hits"], 40 + own["hits"] + own["misses"]
    assert lines[4] == f"Cache hit rate: {hits / lookups:.0%} ({hits} of {lookups} lookups)"


def test_an_erased_users_tombstone_is_not_counted(bot_factory) -> None:
    pytest.importorskip("matplotlib", reason="the chart needs the charts extra")
    bot = bot_factory({"admin": {}}, admins=(SUPERADMIN,))
    bot.set_time(NOW)
    _users()
    alice = bot.user(7)
    alice.send("/start")
    admin = bot.user(SUPERADMIN)
    before = admin.send("/botstats")[0].text.splitlines()
    assert before[1] == "Users: 10; active in 24 h: 4, 7 days: 6, 30 days: 8"
    alice.send("/deleteme")
    alice.press("Yes, delete everything")
    after = admin.send("/botstats")[0].text.splitlines()
    assert after[1] == "Users: 9; active in 24 h: 3, 7 days: 5, 30 days: 7"   # the row stays, uncounted
    assert after[2] == "New users in 14 days: 7"
