"""Conversation state on both backends: the in-memory store and a real Redis."""
from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
import redis

from framework.redisconn import Keys, ServiceUnavailable, connect_redis
from framework.sessions import (
    MemorySessionStore,
    RedisSessionStore,
    Session,
    SessionStore,
    make_session_store,
)
from framework.testing import CLOSED_PORT_REDIS_URL
from framework.testing import ManualClock as FakeClock


@dataclass
class Env:
    """One backend under test: ``store(**kw)`` builds stores sharing its keyspace."""

    kind: str
    store: Callable[..., SessionStore]
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
        yield Env("memory", lambda **kw: MemorySessionStore(clock=clock, **kw), clock=clock)
        return
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    client = connect_redis(url)
    yield Env("redis", lambda **kw: RedisSessionStore(client, prefix=prefix, **kw), client=client, prefix=prefix)
    client.close()


def test_keys_are_exactly_the_contract_without_prefix():
    keys = Keys()
    assert keys.state(42) == "user:42:state"
    assert keys.temp_data(42) == "user:42:temp_data"
    assert keys.conversation(42) == "user:42:conversation"
    assert keys.active_sessions() == "active_sessions"
    assert Keys("bot1:").state(42) == "bot1:user:42:state"


def test_round_trip_of_state_owner_and_json_data(env):
    store = env.store()
    data = {"amount": "12.50", "n": 3, "ratio": 0.25, "ok": True, "none": None,
            "items": [{"name": "чай", "qty": 2}], "nested": {"a": [1, 2, {"b": "c"}]}}
    store.save(42, "AWAITING_AMOUNT", data, "expenses", command="add")
    loaded = store.load(42)
    assert loaded == Session(state="AWAITING_AMOUNT", data=data, owner="expenses")
    assert store.load(43) == Session(state=None, data={}, owner=None)


def test_state_value_may_contain_colons(env):
    store = env.store()
    store.save(1, "STEP:2", None, "quiz")
    assert store.load(1) == Session(state="STEP:2", data={}, owner="quiz")


def test_saved_data_is_a_copy_not_a_reference(env):
    store = env.store()
    data = {"items": [1]}
    store.save(1, "S", data, "p")
    data["items"].append(2)
    assert store.load(1).data == {"items": [1]}


def test_redis_keys_values_and_ttls_follow_the_contract(redis_url, redis_prefix):
    client, p = connect_redis(redis_url), redis_prefix
    RedisSessionStore(client, prefix=p).save(42, "AWAITING_AMOUNT", {"amount": "1.5"}, "expenses", command="add")
    assert client.get(f"{p}user:42:state") == "expenses:AWAITING_AMOUNT"
    assert json.loads(client.get(f"{p}user:42:temp_data")) == {"amount": "1.5"}
    assert client.smembers(f"{p}active_sessions") == {"42"}
    assert client.get(f"{p}user:42:conversation") == "expenses|add"
    assert 0 < client.ttl(f"{p}user:42:state") <= 300
    assert 0 < client.ttl(f"{p}user:42:temp_data") <= 300
    assert 300 < client.ttl(f"{p}user:42:conversation") <= 1800
    client.close()


def test_ownership_is_visible_and_enforced_by_state_for(env):
    store = env.store()
    store.save(7, "AWAITING_NOTE", {"x": 1}, "notes")
    session = store.load(7)
    assert session.owner == "notes"
    assert session.state_for("notes") == "AWAITING_NOTE"
    assert session.state_for("expenses") is None


def test_a_new_owner_replaces_the_previous_state(env):
    store = env.store()
    store.save(7, "AWAITING_NOTE", {"x": 1}, "notes")
    store.save(7, "AWAITING_AMOUNT", {}, "expenses")
    session = store.load(7)
    assert (session.owner, session.state_for("expenses"), session.state_for("notes")) == (
        "expenses", "AWAITING_AMOUNT", None)


@pytest.mark.parametrize(("data", "named"), [
    ({"amount": Decimal("1.50")}, "'amount'"),
    ({"items": [{"price": "1"}, {"price": Decimal("2")}]}, "'items[1].price'"),
    ({"when": time}, "'when'"),
    ({"pair": (1, 2)}, "'pair'"),
    ({"map": {1: "a"}}, "'map'"),
])
def test_non_json_data_is_rejected_with_the_key_and_nothing_is_written(env, data, named):
    store = env.store()
    with pytest.raises(TypeError, match=re.escape(named)):
        store.save(5, "S", data, "expenses")
    assert store.load(5) == Session()


def test_data_must_be_a_dict(env):
    with pytest.raises(TypeError, match="dict"):
        env.store().save(5, "S", ["not", "a", "dict"], "expenses")


@pytest.mark.parametrize(("state", "owner"), [("", "p"), ("S", ""), ("S", "a:b"), ("S", "a|b")])
def test_invalid_state_or_owner_is_refused(env, state, owner):
    with pytest.raises(ValueError):
        env.store().save(5, state, {}, owner)


def test_state_and_data_expire_after_the_ttl(env):
    store = env.store(ttl=1, marker_ttl=60)
    store.save(9, "S", {"k": "v"}, "p")
    if env.kind == "memory":
        env.clock.advance(0.5)
        assert store.load(9).state == "S"
    env.wait_until(lambda: store.load(9) == Session(), seconds=1)
    assert 9 not in store.active()


def test_every_save_restarts_the_ttl():
    clock = FakeClock()
    store = MemorySessionStore(ttl=10, clock=clock)
    store.save(9, "A", {}, "p")
    clock.advance(8)
    store.save(9, "B", {}, "p")
    clock.advance(8)
    assert store.load(9).state == "B"
    clock.advance(2)
    assert store.load(9).state is None


def test_clear_removes_state_data_marker_and_active_entry(env):
    store = env.store()
    store.save(3, "S", {"a": 1}, "p", command="start")
    store.clear(3)
    assert store.load(3) == Session()
    assert store.active() == set()
    assert store.expired_conversation(3) is None
    if env.client is not None:
        assert list(env.client.scan_iter(match=f"{env.prefix}*")) == []


def test_active_lists_live_sessions_and_prunes_expired_ones(env):
    store = env.store(ttl=300)
    store.save(1, "S", {}, "p")
    if env.kind == "memory":
        env.clock.advance(200)
    store.save(2, "S", {}, "p")
    store.save(3, "S", {}, "p")
    store.clear(3)
    assert store.active() == {1, 2}
    if env.kind == "memory":
        env.clock.advance(150)  # user 1's state (saved at t=0) is gone, user 2's lives until t=500
    else:
        env.client.pexpire(f"{env.prefix}user:1:state", 1)
    env.wait_until(lambda: store.load(1).state is None, seconds=0)
    assert store.active() == {2}
    if env.client is not None:
        assert env.client.smembers(f"{env.prefix}active_sessions") == {"2"}


def test_expired_conversation_is_reported_only_after_the_state_is_gone(env):
    store = env.store(ttl=1, marker_ttl=60)
    store.save(11, "AWAITING_AMOUNT", {}, "expenses", command="add")
    assert store.expired_conversation(11) is None
    env.wait_until(lambda: store.load(11).state is None, seconds=1)
    assert store.expired_conversation(11) == ("expenses", "add")
    store.forget_expired(11)
    assert store.expired_conversation(11) is None


def test_conversation_without_command_has_no_marker(env):
    store = env.store(ttl=1, marker_ttl=60)
    store.save(12, "S", {}, "p")
    env.wait_until(lambda: store.load(12).state is None, seconds=1)
    assert store.expired_conversation(12) is None


def test_marker_expires_after_marker_ttl():
    clock = FakeClock()
    store = MemorySessionStore(ttl=5, clock=clock, marker_ttl=10)
    store.save(13, "S", {}, "expenses", command="add")
    clock.advance(9)
    assert store.expired_conversation(13) == ("expenses", "add")
    clock.advance(1)
    assert store.expired_conversation(13) is None


def test_later_saves_keep_the_command_and_extend_the_marker(env):
    store = env.store(ttl=5, marker_ttl=100)
    store.save(14, "STEP1", {}, "expenses", command="add")
    if env.kind == "memory":
        env.clock.advance(90)
    else:
        env.client.expire(f"{env.prefix}user:14:conversation", 10)
    store.save(14, "STEP2", {}, "expenses")
    if env.kind == "memory":
        env.clock.advance(50)  # state gone, marker refreshed at t=90 lives until t=190
        assert store.expired_conversation(14) == ("expenses", "add")
    else:
        assert env.client.get(f"{env.prefix}user:14:conversation") == "expenses|add"
        assert env.client.ttl(f"{env.prefix}user:14:conversation") > 10


def test_sessions_survive_a_restart_with_redis(redis_url, redis_prefix):
    first = connect_redis(redis_url)
    RedisSessionStore(first, prefix=redis_prefix).save(21, "S", {"amount": "3.10"}, "expenses", command="add")
    first.close()
    second = connect_redis(redis_url)
    restarted = RedisSessionStore(second, prefix=redis_prefix)
    assert restarted.load(21) == Session(state="S", data={"amount": "3.10"}, owner="expenses")
    assert restarted.active() == {21}
    second.close()


def test_prefixes_isolate_stores_on_one_redis(redis_url, redis_prefix):
    client = connect_redis(redis_url)
    RedisSessionStore(client, prefix=redis_prefix + "a:").save(1, "S", {}, "p")
    other = RedisSessionStore(client, prefix=redis_prefix + "b:")
    assert other.load(1) == Session()
    assert other.active() == set()
    client.close()


def test_redis_outage_raises_service_unavailable():
    store = RedisSessionStore(connect_redis(CLOSED_PORT_REDIS_URL, retries=0))
    for call in (lambda: store.load(1), lambda: store.save(1, "S", {}, "p"), lambda: store.clear(1),
                 store.active, lambda: store.expired_conversation(1), lambda: store.forget_expired(1)):
        with pytest.raises(ServiceUnavailable):
            call()


def test_outage_is_reported_after_the_default_retries_too():
    with pytest.raises(ServiceUnavailable, match="unreachable"):
        RedisSessionStore(connect_redis(CLOSED_PORT_REDIS_URL)).load(1)


def test_factory_picks_the_backend(redis_url, redis_prefix):
    assert isinstance(make_session_store(None, 300, ""), MemorySessionStore)
    client = connect_redis(redis_url)
    store = make_session_store(client, 120, redis_prefix, marker_ttl=600)
    assert isinstance(store, RedisSessionStore)
    assert (store.ttl, store.marker_ttl, store.keys.prefix) == (120, 600, redis_prefix)
    client.close()


def test_configuration_errors_fail_early(redis_url):
    with pytest.raises(ValueError):
        MemorySessionStore(ttl=0)
    with pytest.raises(ValueError, match="marker_ttl"):
        MemorySessionStore(ttl=300, marker_ttl=60)
    raw = redis.Redis.from_url(redis_url)
    with pytest.raises(ValueError, match="decode_responses"):
        RedisSessionStore(raw)
    raw.close()


def test_connect_redis_returns_none_without_url():
    assert connect_redis("") is None


def test_memory_store_sweeps_entries_of_users_who_never_return():
    clock = FakeClock()
    store = MemorySessionStore(ttl=10, clock=clock)
    for tid in range(store.SWEEP_EVERY - 1):
        store.save(tid, "S", {}, "p", command="start")
    clock.advance(store.marker_ttl)
    store.save(-1, "S", {}, "p")
    assert set(store._values) == {"user:-1:state", "user:-1:temp_data"}


def test_another_owner_saving_without_command_drops_the_marker(env):
    store = env.store(ttl=1, marker_ttl=60)
    store.save(15, "AWAITING_AMOUNT", {}, "expenses", command="add")
    store.save(15, "AWAITING_NOTE", {}, "notes")
    if env.client is not None:
        assert not env.client.exists(f"{env.prefix}user:15:conversation")
    env.wait_until(lambda: store.load(15).state is None, seconds=1)
    assert store.expired_conversation(15) is None
