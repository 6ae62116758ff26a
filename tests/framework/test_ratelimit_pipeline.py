"""Incoming and per-command rate limits through the real update pipeline."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from plugins_for_tests import HELLO, PROBE, build, restart, texts

from framework import connection_scope
from framework.models import RateLimit

ALICE, ADMIN = 601, 699
SLOW_DOWN = "Slow down a little"
LIMITED = {"ratelimit": {"messages_per_minute": 3}}


class MovableMonotonic:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _next_window(bot, telegram_id: int, endpoint: str, clock: MovableMonotonic | None) -> None:
    """End the current window without waiting for it: move the memory clock, or expire the Redis keys."""
    if clock is not None:
        clock.now += 3601
        return
    prefix = bot.app.config["redis"]["prefix"]
    for key in (f"{prefix}ratelimit:{telegram_id}:{endpoint}", f"{prefix}ratelimit:{telegram_id}:{endpoint}:notified"):
        bot.app.redis.delete(key)


def _movable(bot, backend: str) -> MovableMonotonic | None:
    if backend != "memory":
        return None
    clock = MovableMonotonic()
    bot.app.ratelimiter.backend._clock = clock
    return clock


def _greeted(replies) -> int:
    return sum(1 for text in texts(replies) if "Hello, " in text)


def test_incoming_limit_tells_the_user_once_per_window(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, config=LIMITED)
    clock = _movable(bot, backend)
    alice = bot.user(ALICE)

    replies = [alice.send("/hello") for _ in range(6)]
    assert [_greeted(r) for r in replies] == [1, 1, 1, 0, 0, 0]
    assert [sum(SLOW_DOWN in t for t in texts(r)) for r in replies] == [0, 0, 0, 1, 0, 0]
    assert replies[4] == [] and replies[5] == []            # silence after the one notice
    if backend == "redis":
        prefix = bot.app.config["redis"]["prefix"]
        assert bot.app.redis.get(f"{prefix}ratelimit:{ALICE}:messages") == "6"
        assert 0 < bot.app.redis.ttl(f"{prefix}ratelimit:{ALICE}:messages") <= 60

    _next_window(bot, ALICE, "messages", clock)
    replies = [alice.send("/hello") for _ in range(5)]
    assert [_greeted(r) for r in replies] == [1, 1, 1, 0, 0]
    assert sum(SLOW_DOWN in t for r in replies for t in texts(r)) == 1   # told again, once, in the new window


def test_admins_are_exempt_from_the_incoming_limit(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, config=LIMITED, admins=(ADMIN,))
    admin, alice = bot.user(ADMIN), bot.user(ALICE)
    assert sum(_greeted(admin.send("/hello")) for _ in range(6)) == 6
    assert sum(_greeted(alice.send("/hello")) for _ in range(6)) == 3   # the limit is live for others


def test_limit_is_per_user(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, config=LIMITED)
    alice, bob = bot.user(ALICE), bot.user(ALICE + 1)
    for _ in range(4):
        alice.send("/hello")
    assert _greeted(bob.send("/hello")) == 1


def test_per_command_limit_declared_by_a_plugin(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO, PROBE, admins=(ADMIN,))
    clock = _movable(bot, backend)
    alice = bot.user(ALICE)

    replies = [texts(alice.send("/limited")) for _ in range(4)]
    assert replies[0] == replies[1] == ["limited command ran"]
    assert len(replies[2]) == 1 and SLOW_DOWN in replies[2][0]
    assert replies[3] == []
    assert _greeted(alice.send("/hello")) == 1              # other commands are not limited by it
    assert all(texts(bot.user(ADMIN).send("/limited")) == ["limited command ran"] for _ in range(4))
    if backend == "redis":
        prefix = bot.app.config["redis"]["prefix"]
        assert 3500 < bot.app.redis.ttl(f"{prefix}ratelimit:{ALICE}:cmd:limited") <= 3600

    _next_window(bot, ALICE, "cmd:limited", clock)
    assert texts(alice.send("/limited")) == ["limited command ran"]


@pytest.mark.redis
@pytest.mark.postgres
def test_two_applications_share_the_limit_on_one_redis_prefix(bot_factory, monkeypatch) -> None:
    first = build(bot_factory, "redis", monkeypatch, HELLO, config=LIMITED)
    second = restart(bot_factory, first, monkeypatch, HELLO, config=LIMITED)
    assert second.app.ratelimiter is not first.app.ratelimiter


    def hello(bot: Any, other: Any) -> list[Any]:
        other.app.stop()  # one live application per process: the two processes take turns here
        return bot.user(ALICE).send("/hello")

    assert _greeted(hello(first, second)) == 1
    assert _greeted(hello(second, first)) == 1
    assert _greeted(hello(first, second)) == 1
    refused = texts(hello(second, first))
    assert len(refused) == 1 and SLOW_DOWN in refused[0]
    assert hello(first, second) == []                        # the other process knows it already told


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_database_backend_survives_a_restart(bot_factory, monkeypatch, database) -> None:
    config = {"ratelimit": {"messages_per_minute": 3, "backend": "db"}}
    now = dt.datetime(2025, 5, 1, 12, 0, 10, tzinfo=dt.UTC)
    first = build(bot_factory, "memory", monkeypatch, HELLO, database=database, config=config)
    first.set_time(now)
    assert _greeted(first.user(ALICE).send("/hello")) == 1
    assert _greeted(first.user(ALICE).send("/hello")) == 1

    second = restart(bot_factory, first, monkeypatch, HELLO, config=config)
    second.set_time(now + dt.timedelta(seconds=20))
    assert _greeted(second.user(ALICE).send("/hello")) == 1
    refused = texts(second.user(ALICE).send("/hello"))
    assert len(refused) == 1 and SLOW_DOWN in refused[0]
    assert second.user(ALICE).send("/hello") == []
    with connection_scope():
        row = RateLimit.get((RateLimit.user_id == ALICE) & (RateLimit.endpoint == "messages"))
    assert row.request_count == 5
    assert row.window_start == dt.datetime(2025, 5, 1, 12, 0, tzinfo=dt.UTC)

    second.set_time(now + dt.timedelta(minutes=1))          # the next minute is a new window
    assert _greeted(second.user(ALICE).send("/hello")) == 1


def test_default_incoming_limit_is_30_per_minute(bot_factory, monkeypatch, backend) -> None:
    bot = build(bot_factory, backend, monkeypatch, HELLO)
    assert bot.app.config["ratelimit"]["messages_per_minute"] == 30
    alice = bot.user(ALICE)
    for n in range(29):
        assert alice.send(f"note {n}") == []                 # plain text nobody handles: no reply
    assert _greeted(alice.send("/hello")) == 1                # the 30th message is still served
    refused = texts(alice.send("/hello"))
    assert len(refused) == 1 and SLOW_DOWN in refused[0]
