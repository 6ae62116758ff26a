"""The JSON cache on both backends (in-memory LRU and real Redis), and its outage behaviour."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
import redis

from framework.cache import (
    Cache,
    CacheBackend,
    MemoryCacheBackend,
    RedisCacheBackend,
    make_cache_backend,
)
from framework.redisconn import Keys, ThrottledLog, connect_redis
from framework.testing import CLOSED_PORT_REDIS_URL
from framework.testing import ManualClock as FakeClock


@dataclass
class Env:
    kind: str
    backend: CacheBackend
    client: redis.Redis | None = None
    prefix: str = ""
    clock: FakeClock = field(default_factory=FakeClock)

    def wait_until(self, condition: Callable[[], bool], seconds: float) -> None:
        """Let ``seconds`` pass (instantly on the fake clock; by polling on Redis) until ``condition`` holds."""
        if self.kind == "memory":
            self.clock.advance(seconds)
            assert condition()
            return
        deadline = time.monotonic() + seconds + 5
        while not condition():
            assert time.monotonic() < deadline, "Redis never expired the key"
            time.sleep(0.05)


@pytest.fixture(params=["memory", "redis"])
def env(request) -> Iterator[Env]:
    if request.param == "memory":
        clock = FakeClock()
        yield Env("memory", MemoryCacheBackend(clock), clock=clock)
        return
    client = connect_redis(request.getfixturevalue("redis_url"))
    prefix = request.getfixturevalue("redis_prefix")
    yield Env("redis", RedisCacheBackend(client, prefix), client=client, prefix=prefix)
    client.close()


@pytest.fixture
def outage_cache() -> Cache:
    return Cache(RedisCacheBackend(connect_redis(CLOSED_PORT_REDIS_URL, retries=0)), name="outage")


@pytest.mark.parametrize("value", [
    {"temp": 21.5, "city": "Москва", "tags": ["a", "b"], "ok": True, "none": None},
    [1, 2, 3], "text", 42, 3.5, False, None,
])
def test_json_values_round_trip(env, value):
    cache = Cache(env.backend)
    cache.set("k", value)
    assert cache.get("k", default="MISS") == value


def test_miss_returns_the_default(env):
    cache = Cache(env.backend)
    assert cache.get("absent") is None
    assert cache.get("absent", default=0) == 0


def test_cached_none_is_a_hit_not_a_miss(env):
    cache = Cache(env.backend)
    cache.set("nothing", None)
    assert cache.get("nothing", default="MISS") is None
    assert cache.stats() == {"hits": 1, "misses": 0, "too_large": 0}


@pytest.mark.parametrize("value", [Decimal("1.5"), {"a": object()}, {1, 2}, b"bytes"])
def test_non_json_values_raise_type_error(env, value):
    cache = Cache(env.backend)
    with pytest.raises(TypeError, match="'k'"):
        cache.set("k", value)
    with pytest.raises(TypeError):
        cache.get_or_set("k", lambda: value)
    assert cache.get("k", default="MISS") == "MISS"


def test_keys_are_stored_as_cache_key_behind_the_prefix(redis_url, redis_prefix):
    assert Keys().cache("weather:moscow") == "cache:weather:moscow"
    client = connect_redis(redis_url)
    Cache(RedisCacheBackend(client, redis_prefix), default_ttl=120).set("weather:moscow", {"t": 1})
    deadline, _, value = client.get(f"{redis_prefix}cache:weather:moscow").partition(":")
    assert value == '{"t":1}' and 0 < int(deadline) / 1000 - time.time() <= 120  # its expiry on the app's clock
    assert 0 < client.ttl(f"{redis_prefix}cache:weather:moscow") <= 120
    client.close()


def test_values_expire_after_their_ttl(env):
    cache = Cache(env.backend, default_ttl=60)
    cache.set("short", "v", ttl=1)
    cache.set("long", "v")
    if env.kind == "memory":
        env.clock.advance(0.5)
        assert cache.get("short") == "v"
    env.wait_until(lambda: cache.get("short") is None, seconds=1)
    assert cache.get("long") == "v"


def test_default_ttl_applies_when_none_given():
    clock = FakeClock()
    cache = Cache(MemoryCacheBackend(clock), default_ttl=10)
    cache.set("k", 1)
    clock.advance(9.9)
    assert cache.get("k") == 1
    clock.advance(0.1)
    assert cache.get("k") is None


def test_get_or_set_calls_the_getter_only_on_a_miss(env):
    cache = Cache(env.backend)
    calls = []

    def getter() -> dict:
        calls.append(1)
        return {"rate": 91.5}

    assert cache.get_or_set("fx", getter) == {"rate": 91.5}
    assert cache.get_or_set("fx", getter) == {"rate": 91.5}
    assert len(calls) == 1
    assert cache.stats() == {"hits": 1, "misses": 1, "too_large": 0}


def test_delete_removes_one_key(env):
    cache = Cache(env.backend)
    cache.set("a", 1)
    cache.set("b", 2)
    assert cache.delete("a") is True
    assert cache.delete("a") is False
    assert (cache.get("a"), cache.get("b")) == (None, 2)


def test_invalidate_removes_keys_with_the_prefix_only(env):
    cache = Cache(env.backend)
    for key in ("weather:moscow", "weather:omsk", "weatherman", "news:1"):
        cache.set(key, key)
    assert cache.invalidate("weather:") == 2
    assert [cache.get(k) for k in ("weather:moscow", "weather:omsk", "weatherman", "news:1")] == [
        None, None, "weatherman", "news:1"]


def test_invalidate_treats_glob_characters_literally(env):
    cache = Cache(env.backend)
    for key in ("a*[x]?:1", "abc:1", "a*[x]?:2"):
        cache.set(key, 1)
    assert cache.invalidate("a*[x]?") == 2
    assert cache.get("abc:1") == 1


def test_invalidate_everything_with_an_empty_prefix(env):
    cache = Cache(env.backend)
    for i in range(5):
        cache.set(f"k{i}", i)
    assert cache.invalidate("") == 5
    assert cache.get("k0") is None


def test_redis_invalidate_scans_in_batches(redis_url, redis_prefix):
    client = connect_redis(redis_url)
    cache = Cache(RedisCacheBackend(client, redis_prefix))
    with client.pipeline(transaction=False) as pipe:
        for i in range(1234):
            pipe.set(f"{redis_prefix}cache:bulk:{i}", "1", ex=60)
        pipe.set(f"{redis_prefix}cache:keep", "1", ex=60)
        pipe.execute()
    assert cache.invalidate("bulk:") == 1234
    assert [k for k in client.scan_iter(match=f"{redis_prefix}*")] == [f"{redis_prefix}cache:keep"]
    client.close()


def test_too_large_values_are_returned_not_cached_and_logged_once_per_key(env, caplog):
    cache = Cache(env.backend, name="reports", max_value_bytes=50)
    big = "x" * 100
    calls = []

    def getter() -> str:
        calls.append(1)
        return big

    with caplog.at_level(logging.WARNING, logger="framework.cache"):
        assert cache.get_or_set("report:1", getter) == big
        assert cache.get_or_set("report:1", getter) == big
        assert cache.set("report:2", big) is False
    assert len(calls) == 2
    assert cache.get("report:1") is None
    warnings = [r for r in caplog.records if "not cached" in r.getMessage()]
    assert [("report:1" in r.getMessage(), "report:2" in r.getMessage()) for r in warnings] == [
        (True, False), (False, True)]
    assert cache.stats()["too_large"] == 3


def test_size_limit_counts_utf8_bytes():
    cache = Cache(MemoryCacheBackend(), max_value_bytes=10)
    assert cache.set("k", "яяяя") is True  # '"яяяя"' is 10 bytes
    assert cache.set("k", "яяяяя") is False


def test_named_caches_share_the_backend_but_count_separately(env):
    weather = Cache(env.backend, name="weather")
    news = Cache(env.backend, name="news")
    weather.set("shared", 1)
    assert news.get("shared") == 1
    assert weather.get("absent") is None
    assert weather.stats() == {"hits": 0, "misses": 1, "too_large": 0}
    assert news.stats() == {"hits": 1, "misses": 0, "too_large": 0}
    assert Cache(env.backend, name="news").stats() == news.stats()


def test_stats_are_thread_safe(env):
    cache = Cache(env.backend)
    cache.set("hit", 1)
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        for i in range(100):
            cache.get("hit" if i % 2 else "miss")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.stats() == {"hits": 400, "misses": 400, "too_large": 0}


def test_memory_backend_evicts_the_least_recently_used():
    cache = Cache(MemoryCacheBackend(max_entries=3))
    for key in "abc":
        cache.set(key, key)
    cache.get("a")
    cache.set("d", "d")
    assert [cache.get(k) for k in "abcd"] == ["a", None, "c", "d"]


def test_memory_backend_stays_bounded_under_concurrent_writers():
    backend = MemoryCacheBackend(max_entries=50)
    cache = Cache(backend)

    def work(n: int) -> None:
        for i in range(500):
            cache.set(f"{n}:{i}", i)
            cache.get(f"{n}:{i - 1}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(backend._entries) == 50


def test_invalid_ttls_are_refused():
    with pytest.raises(ValueError):
        Cache(MemoryCacheBackend(), default_ttl=0)
    with pytest.raises(ValueError):
        Cache(MemoryCacheBackend()).set("k", 1, ttl=-1)


def test_outage_degrades_to_misses_and_calls_the_getter(outage_cache):
    assert outage_cache.get("k", default="MISS") == "MISS"
    assert outage_cache.get_or_set("k", lambda: {"fresh": True}) == {"fresh": True}
    outage_cache.set("k", 1)  # dropped silently
    assert outage_cache.delete("k") is False
    assert outage_cache.invalidate("") == 0
    assert outage_cache.stats() == {"hits": 0, "misses": 2, "too_large": 0}


def test_outage_is_logged_at_most_once_a_minute(outage_cache, caplog):
    with caplog.at_level(logging.WARNING, logger="framework.cache"):
        for _ in range(20):
            outage_cache.get("k")
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1


def test_throttled_log_speaks_again_after_the_interval(caplog):
    clock = FakeClock()
    throttled = ThrottledLog(logging.getLogger("test.throttle"), interval=60, clock=clock)
    with caplog.at_level(logging.WARNING, logger="test.throttle"):
        assert throttled.warning("down") is True
        clock.advance(59)
        assert throttled.warning("down") is False
        clock.advance(1)
        assert throttled.warning("down") is True
    assert len(caplog.records) == 2


def test_factory_picks_the_backend(redis_url, redis_prefix):
    assert isinstance(make_cache_backend(None), MemoryCacheBackend)
    client = connect_redis(redis_url)
    backend = make_cache_backend(client, redis_prefix)
    assert isinstance(backend, RedisCacheBackend)
    assert backend.keys.prefix == redis_prefix
    client.close()


def test_namespaces_keep_caches_on_one_backend_apart(env):
    notes = Cache(env.backend, name="plugin:notes", namespace="plugin:notes:")
    tarot = Cache(env.backend, name="plugin:tarot", namespace="plugin:tarot:")
    notes.set("today", "n")
    tarot.set("today", "t")
    assert (notes.get("today"), tarot.get("today")) == ("n", "t")
    assert notes.invalidate("") == 1
    assert (notes.get("today"), tarot.get("today")) == (None, "t")
    assert Cache(env.backend).get("plugin:tarot:today") == "t"
    if env.client is not None:
        assert env.client.get(f"{env.prefix}cache:plugin:tarot:today").endswith(':"t"')
