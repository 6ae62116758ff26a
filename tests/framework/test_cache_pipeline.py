"""The users-profile cache of the update pipeline, on both backends."""
from __future__ import annotations

import datetime as dt

import pytest
from plugins_for_tests import HELLO, build, texts

from framework import User, connection_scope
from framework.testing import record_sql

ALICE = 701
T0 = dt.datetime(2025, 6, 2, 12, 0, tzinfo=dt.UTC)


def test_profile_lookup_is_write_through_cached(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    bot.set_time(T0)
    alice = bot.user(ALICE, username="alice")
    users_cache = bot.app.cache("users")
    before = users_cache.stats()

    with record_sql() as first:
        assert "Hello, User701!" in texts(alice.send("/hello"))[0]
    assert first.touching("users"), "the first update must create the users row"
    assert users_cache.stats()["misses"] == before["misses"] + 1
    assert users_cache.get(f"user:{ALICE}") is None, "a row inserted by the update is cached once committed"
    alice.send("/hello")                                     # reads the committed row and caches it
    before = users_cache.stats()

    bot.advance(seconds=30)
    with record_sql() as second:
        assert "greeting #3" in texts(alice.send("/hello"))[0]
    assert second, "the query log must see the update's other statements"
    assert second.touching("users") == []
    assert users_cache.stats()["hits"] == before["hits"] + 1

    bot.advance(seconds=31)                                  # last_active is refreshed once a minute
    with record_sql() as third:
        alice.send("/hello")
    assert any(sql.lstrip().upper().startswith("UPDATE") for sql in third.touching("users"))
    with connection_scope():
        assert User.get(User.telegram_id == ALICE).last_active == T0 + dt.timedelta(seconds=61)

    renamed = bot.user(ALICE, username="alice2")             # a changed profile is written at once
    with record_sql() as fourth:
        renamed.send("/hello")
    assert fourth.touching("users")
    with connection_scope():
        assert User.get(User.telegram_id == ALICE).username == "alice2"


def test_invalidate_by_prefix_forces_a_reload(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    for telegram_id in (ALICE, ALICE + 1, ALICE + 2):
        bot.user(telegram_id).send("/hello")
        bot.user(telegram_id).send("/hello")                 # the first inserts the row, the second caches it
    users_cache = bot.app.cache("users")
    assert users_cache.get(f"user:{ALICE}")["telegram_id"] == ALICE

    assert users_cache.invalidate("user:") == 3
    assert users_cache.get(f"user:{ALICE}") is None
    with record_sql() as log:
        bot.user(ALICE).send("/hello")
    assert log.touching("users"), "after invalidation the profile comes from the database again"


@pytest.mark.redis
@pytest.mark.postgres
def test_redis_profile_cache_keys_and_scan_invalidation(bot_factory, monkeypatch) -> None:
    bot = build(bot_factory, "redis", monkeypatch, HELLO)
    redis, prefix = bot.app.redis, bot.app.config["redis"]["prefix"]
    for telegram_id in (ALICE, ALICE + 1):
        bot.user(telegram_id).send("/hello")
        bot.user(telegram_id).send("/hello")                 # the first inserts the row, the second caches it
    key = f"{prefix}cache:users:user:{ALICE}"
    assert redis.exists(key)
    assert 0 < redis.ttl(key) <= bot.app.config["cache"]["user_ttl"]
    redis.set(f"{prefix}cache:other:user:{ALICE}", "1")      # another cache's key with the same tail

    scans: list[str] = []
    real_scan = redis.scan_iter

    def spy_scan(*args, **kwargs):
        scans.append(kwargs.get("match"))
        return real_scan(*args, **kwargs)

    def no_keys(*args, **kwargs):
        raise AssertionError("KEYS blocks Redis; invalidate must SCAN")

    monkeypatch.setattr(redis, "scan_iter", spy_scan)
    monkeypatch.setattr(redis, "keys", no_keys)
    assert bot.app.cache("users").invalidate("user:") == 2
    assert scans == [f"{prefix}cache:users:user:*"]
    assert not redis.exists(key)
    assert redis.exists(f"{prefix}cache:other:user:{ALICE}")


def test_hit_and_miss_counters_are_readable(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    weather = bot.app.cache("weather")
    assert weather.stats() == {"hits": 0, "misses": 0, "too_large": 0}
    calls = []
    for _ in range(3):
        assert weather.get_or_set("moscow", lambda: calls.append(1) or {"t": -3}) == {"t": -3}
    assert len(calls) == 1
    assert weather.stats() == {"hits": 2, "misses": 1, "too_large": 0}
    assert bot.app.cache("weather").stats() == weather.stats()      # the same named counters
    assert bot.app.cache("users").stats() != weather.stats()
