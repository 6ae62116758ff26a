"""Rate limits on memory, real Redis and the database (SQLite and PostgreSQL via ``bound_db``).

Each behaviour is written once as a ``check_*`` function and run against every
backend: memory and Redis through the ``kv`` fixture, the database through
``bound_db`` (which is itself parametrised over SQLite and PostgreSQL).
"""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from framework.db import UTC, connection_scope, is_postgres
from framework.models import RateLimit
from framework.ratelimit import (
    DbRateBackend,
    MemoryRateBackend,
    RateDecision,
    RateLimiter,
    RedisRateBackend,
    make_rate_backend,
    parse_rate,
)
from framework.redisconn import Keys, ServiceUnavailable, connect_redis
from framework.testing import ManualClock as FakeClock

ALIGNED_EPOCH = 1_700_006_400.0  # a multiple of 60, 3600 and 86400



@dataclass
class Env:
    kind: str
    limiter: RateLimiter
    elapse: Callable[[float], None]


@pytest.fixture(params=["memory", "redis"])
def kv(request) -> Iterator[Env]:
    if request.param == "memory":
        clock = FakeClock(1000.0)
        yield Env("memory", RateLimiter(MemoryRateBackend(clock)), clock.advance)
        return
    client = connect_redis(request.getfixturevalue("redis_url"))
    prefix = request.getfixturevalue("redis_prefix")
    # retry_after is whole seconds, rounded up; Redis still holds a key in the very millisecond
    # it expires at, so a real sleep of exactly retry_after can land on it: wait a hair longer.
    yield Env("redis", RateLimiter(RedisRateBackend(client, prefix)), lambda seconds: time.sleep(seconds + 0.01))
    client.close()


@pytest.fixture
def db(bound_db) -> Env:
    clock = FakeClock(ALIGNED_EPOCH + 1)
    kind = "postgres" if is_postgres() else "sqlite"
    return Env(kind, RateLimiter(DbRateBackend(clock)), clock.advance)


def check_limit_is_exact_at_the_boundary(limiter: RateLimiter) -> None:
    decisions = [limiter.hit(42, "search", limit=3, window=60) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.count for d in decisions] == [1, 2, 3, 4]
    assert all(d.limit == 3 for d in decisions)
    assert [d.retry_after for d in decisions[:3]] == [0, 0, 0]
    assert 1 <= decisions[3].retry_after <= 60


def check_notify_once_per_window(limiter: RateLimiter) -> None:
    decisions = [limiter.hit(42, "search", limit=2, window=60) for _ in range(6)]
    assert [d.notify for d in decisions] == [False, False, True, False, False, False]
    assert [d.allowed for d in decisions] == [True, True, False, False, False, False]


def check_users_and_endpoints_are_independent(limiter: RateLimiter) -> None:
    assert not [limiter.hit(1, "a", 1, 60) for _ in range(2)][-1].allowed
    assert limiter.hit(2, "a", 1, 60).allowed
    assert limiter.hit(1, "b", 1, 60).allowed


def check_window_rollover(limiter: RateLimiter, elapse: Callable[[float], None], window: int) -> None:
    first = [limiter.hit(7, "post", limit=2, window=window) for _ in range(3)]
    assert [d.allowed for d in first] == [True, True, False]
    assert first[2].notify
    elapse(first[2].retry_after)
    second = [limiter.hit(7, "post", limit=2, window=window) for _ in range(3)]
    assert [(d.allowed, d.count) for d in second] == [(True, 1), (True, 2), (False, 3)]
    assert second[2].notify, "a new window notifies again"


def check_concurrent_hits_are_counted_exactly(limiter: RateLimiter, wrap: Callable[[Callable], Callable]) -> None:
    threads_n, per_thread, limit = 8, 50, 100
    barrier = threading.Barrier(threads_n)
    results: list[RateDecision] = []
    lock = threading.Lock()

    def work() -> None:
        barrier.wait()
        mine = [limiter.hit(99, "burst", limit, 3600) for _ in range(per_thread)]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=wrap(work)) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == threads_n * per_thread
    assert sum(d.allowed for d in results) == limit
    assert sum(d.notify for d in results) == 1
    assert sorted(d.count for d in results) == list(range(1, threads_n * per_thread + 1))


def _same(fn: Callable) -> Callable:
    return fn


def _with_connection(fn: Callable) -> Callable:
    def run() -> None:
        with connection_scope():
            fn()
    return run


def test_limit_is_exact_at_the_boundary(kv):
    check_limit_is_exact_at_the_boundary(kv.limiter)


def test_limit_is_exact_at_the_boundary_db(db):
    check_limit_is_exact_at_the_boundary(db.limiter)


def test_notify_once_per_window(kv):
    check_notify_once_per_window(kv.limiter)


def test_notify_once_per_window_db(db):
    check_notify_once_per_window(db.limiter)


def test_users_and_endpoints_are_independent(kv):
    check_users_and_endpoints_are_independent(kv.limiter)


def test_users_and_endpoints_are_independent_db(db):
    check_users_and_endpoints_are_independent(db.limiter)


def test_window_rollover(kv):
    check_window_rollover(kv.limiter, kv.elapse, window=60 if kv.kind == "memory" else 2)


def test_window_rollover_db(db):
    check_window_rollover(db.limiter, db.elapse, window=60)


def test_concurrent_hits_are_counted_exactly(kv):
    check_concurrent_hits_are_counted_exactly(kv.limiter, _same)


def test_concurrent_hits_are_counted_exactly_db(db):
    check_concurrent_hits_are_counted_exactly(db.limiter, _with_connection)


def test_memory_window_opens_at_first_hit_and_lasts_window_seconds():
    clock = FakeClock(1000.0)
    limiter = RateLimiter(MemoryRateBackend(clock))
    assert limiter.hit(1, "x", 1, 60).allowed
    clock.advance(59)
    refused = limiter.hit(1, "x", 1, 60)
    assert (refused.allowed, refused.retry_after) == (False, 1)
    clock.advance(1)
    assert limiter.hit(1, "x", 1, 60).allowed


def test_memory_sweeps_expired_windows():
    clock = FakeClock(1000.0)
    backend = MemoryRateBackend(clock)
    limiter = RateLimiter(backend)
    for tid in range(backend.SWEEP_EVERY - 1):
        limiter.hit(tid, "x", 5, 10)
    clock.advance(10)
    limiter.hit(-1, "x", 5, 10)
    assert len(backend._windows) == 1


def test_db_windows_are_aligned_and_stored_in_rate_limits(db):
    db.elapse(30)  # ALIGNED_EPOCH + 31: 29 s left in the minute-aligned window
    decisions = [db.limiter.hit(42, "messages", 1, 60) for _ in range(2)]
    assert decisions[1].retry_after == 29
    with connection_scope():
        rows = list(RateLimit.select())
    assert len(rows) == 1
    assert (rows[0].user_id, rows[0].endpoint, rows[0].request_count) == (42, "messages", 2)
    assert rows[0].window_start == dt.datetime.fromtimestamp(ALIGNED_EPOCH, UTC)


def test_db_prune_removes_old_windows(db):
    db.limiter.hit(1, "x", 5, 60)
    db.elapse(120)
    db.limiter.hit(1, "x", 5, 60)
    backend = db.limiter.backend
    assert backend.prune(dt.datetime.fromtimestamp(ALIGNED_EPOCH + 60, UTC)) == 1
    with connection_scope():
        assert RateLimit.select().count() == 1


def test_redis_message_key_and_ttl_follow_the_contract(redis_url, redis_prefix):
    client = connect_redis(redis_url)
    limiter = RateLimiter(RedisRateBackend(client, redis_prefix))
    limiter.hit_message(42, limit=1)
    assert client.get(f"{redis_prefix}ratelimit:42:messages") == "1"
    assert 0 < client.ttl(f"{redis_prefix}ratelimit:42:messages") <= 60
    assert not client.exists(f"{redis_prefix}ratelimit:42:messages:notified")
    assert limiter.hit_message(42, limit=1).notify
    assert 0 < client.pttl(f"{redis_prefix}ratelimit:42:messages:notified") <= 60_000
    limiter.hit(42, "llm", 5, 3600)
    assert 60 < client.ttl(f"{redis_prefix}ratelimit:42:llm") <= 3600
    client.close()


def test_keys_are_exactly_the_contract_without_prefix():
    assert Keys().ratelimit(42, "messages") == "ratelimit:42:messages"
    assert Keys().ratelimit(42, "llm") == "ratelimit:42:llm"


def test_limit_is_shared_by_two_clients_on_one_prefix(redis_url, redis_prefix):
    first, second = connect_redis(redis_url), connect_redis(redis_url)
    a = RateLimiter(RedisRateBackend(first, redis_prefix))
    b = RateLimiter(RedisRateBackend(second, redis_prefix))
    decisions = [(a if i % 2 else b).hit(5, "shared", 4, 60) for i in range(6)]
    assert [d.count for d in decisions] == [1, 2, 3, 4, 5, 6]
    assert [d.allowed for d in decisions] == [True] * 4 + [False] * 2
    assert [d.notify for d in decisions] == [False] * 4 + [True, False]
    first.close()
    second.close()


def test_limit_is_shared_with_another_process(redis_url, redis_prefix):
    script = (
        "import sys\n"
        "from framework.ratelimit import RateLimiter, RedisRateBackend\n"
        "from framework.redisconn import connect_redis\n"
        "limiter = RateLimiter(RedisRateBackend(connect_redis(sys.argv[1]), sys.argv[2]))\n"
        "print(sum(limiter.hit(8, 'proc', 5, 60).allowed for _ in range(3)))\n"
    )
    child = subprocess.run([sys.executable, "-c", script, redis_url, redis_prefix],
                           capture_output=True, text=True, check=True)
    assert child.stdout.strip() == "3"
    client = connect_redis(redis_url)
    limiter = RateLimiter(RedisRateBackend(client, redis_prefix))
    assert [limiter.hit(8, "proc", 5, 60).allowed for _ in range(3)] == [True, True, False]
    client.close()


def test_redis_outage_raises_service_unavailable():
    limiter = RateLimiter(RedisRateBackend(connect_redis("redis://127.0.0.1:1/0", retries=0)))
    with pytest.raises(ServiceUnavailable, match="rate limit"):
        limiter.hit_message(1, 20)


@pytest.mark.parametrize(("text", "expected"), [
    ("10/hour", (10, 3600)), ("1/second", (1, 1)), ("20/minute", (20, 60)), ("100/day", (100, 86400)),
    ("5/30s", (5, 30)), ("10/Hours", (10, 3600)), (" 3 / minute ", (3, 60)),
])
def test_parse_rate_accepts_the_documented_forms(text, expected):
    assert parse_rate(text) == expected


@pytest.mark.parametrize("text", ["10/week", "10", "ten/hour", "0/hour", "5/0s", "10/hour/2", "", "-1/hour", "5/30"])
def test_parse_rate_rejects_anything_else_with_a_clear_message(text):
    with pytest.raises(ValueError, match="invalid rate"):
        parse_rate(text)


def test_hit_rate_uses_the_parsed_limit():
    limiter = RateLimiter(MemoryRateBackend(FakeClock(0.0)))
    decisions = [limiter.hit_rate(1, "x", "2/minute") for _ in range(3)]
    assert [(d.allowed, d.limit) for d in decisions] == [(True, 2), (True, 2), (False, 2)]
    assert decisions[2].retry_after == 60


@pytest.mark.parametrize(("endpoint", "limit", "window"), [("x", 0, 60), ("x", 1, 0), ("", 1, 60)])
def test_invalid_hit_arguments_are_refused(endpoint, limit, window):
    with pytest.raises(ValueError):
        RateLimiter(MemoryRateBackend()).hit(1, endpoint, limit, window)


def test_factory_picks_the_backend(redis_url, redis_prefix):
    client = connect_redis(redis_url)
    assert isinstance(make_rate_backend(client, redis_prefix), RedisRateBackend)
    assert isinstance(make_rate_backend(None, use_database=True), DbRateBackend)
    assert isinstance(make_rate_backend(None), MemoryRateBackend)
    client.close()
