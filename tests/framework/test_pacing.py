"""Telegram's limits shared by several processes through Redis: two :class:`Sender` instances on one
Redis prefix play two processes of one bot. Time is a fake clock both share, moved only by their
sleeps, so the pacing is checked as arithmetic, never by measuring."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from test_sender import FakeTime, RecordingApi, telegram_error

from framework.redisconn import connect_redis
from framework.sender import Sender, SendError

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("redis_url")


def shared_pair(redis_url: str, prefix: str, time: FakeTime, **limits: Any) -> tuple[Sender, Sender, RecordingApi]:
    """Two senders, as two processes of one bot would have, writing to one fake Telegram."""
    api = RecordingApi(time)
    client = connect_redis(redis_url)

    def make() -> Sender:
        # A large offset: the shared clock is epoch seconds in production.
        return Sender(api, sleep=time.sleep, clock=time.clock, redis=client, redis_prefix=prefix,
                      shared_clock=lambda: 1_700_000_000 + time.now, **limits)

    return make(), make(), api


def per_second(api: RecordingApi) -> Counter[int]:
    return Counter(int(moment) for moment, _, _ in api.calls)


def test_two_processes_together_stay_within_the_global_limit(redis_url: str, redis_prefix: str) -> None:
    time = FakeTime()
    first, second, api = shared_pair(redis_url, redis_prefix, time, global_per_second=30)
    for chat in range(1, 151):  # 150 private chats: only the bot-wide limit applies
        (first if chat % 2 else second).call("send_message", chat_id=chat, text="hi")
    times = [moment for moment, _, _ in api.calls]
    assert times[:30] == [0.0] * 30  # the bucket's burst, shared: not 30 for each process
    assert times[30] == pytest.approx(1 / 30, abs=1e-4)
    counts = per_second(api)
    assert all(counts[second] <= 30 for second in counts if second >= 1), counts
    assert times[-1] == pytest.approx(120 / 30, abs=1e-3)  # 150 messages: the burst, then 30 a second


def test_without_redis_each_process_would_allow_itself_the_whole_limit() -> None:
    """What the shared limiter prevents: two in-memory senders send 60 at once."""
    time = FakeTime()
    api = RecordingApi(time)
    first, second = (Sender(api, sleep=time.sleep, clock=time.clock) for _ in range(2))
    for chat in range(1, 61):
        (first if chat % 2 else second).call("send_message", chat_id=chat, text="hi")
    assert per_second(api)[0] == 60


def test_a_private_chat_gets_one_message_a_second_from_all_processes(redis_url: str, redis_prefix: str) -> None:
    time = FakeTime()
    first, second, api = shared_pair(redis_url, redis_prefix, time)
    for n in range(4):
        (first if n % 2 else second).call("send_message", chat_id=42, text=f"m{n}")
    assert [moment for moment, _, _ in api.calls] == pytest.approx([0.0, 1.0, 2.0, 3.0], abs=1e-5)


def test_a_group_gets_twenty_messages_a_minute_from_all_processes(redis_url: str, redis_prefix: str) -> None:
    time = FakeTime()
    first, second, api = shared_pair(redis_url, redis_prefix, time)
    for n in range(22):
        (first if n % 2 else second).call("send_message", chat_id=-100123, text=f"m{n}")
    times = [moment for moment, _, _ in api.calls]
    assert times[:20] == [0.0] * 20
    assert times[20] == pytest.approx(60.0, abs=1e-5) and times[21] == pytest.approx(60.0, abs=1e-5)


def test_a_429_on_a_chat_pauses_that_chat_in_the_other_process(redis_url: str, redis_prefix: str) -> None:
    client = connect_redis(redis_url)
    api = RecordingApi()
    slept: dict[str, list[float]] = {"first": [], "second": []}

    def make(name: str) -> Sender:  # the clock stands still: a pause stays in force for the whole test
        return Sender(api, sleep=slept[name].append, clock=lambda: 0.0, private_interval=None, redis=client,
                      redis_prefix=redis_prefix, shared_clock=lambda: 1_700_000_000.0)

    first, second = make("first"), make("second")
    api.errors.append(telegram_error(429, "Too Many Requests", retry_after=12))
    first.call("send_message", chat_id=42, text="hi")  # waits out the 429, then retries
    assert slept["first"] == [pytest.approx(12.0)]
    second.call("send_message", chat_id=42, text="same chat")
    second.call("send_message", chat_id=43, text="another chat")
    assert slept["second"] == [pytest.approx(12.0)]  # the paused chat only


def test_a_429_during_a_broadcast_pauses_every_chat_in_every_process(redis_url: str, redis_prefix: str) -> None:
    time = FakeTime()
    first, second, api = shared_pair(redis_url, redis_prefix, time, private_interval=None)
    api.errors.append(telegram_error(429, "Too Many Requests: retry after 7", retry_after=7))
    with pytest.raises(SendError) as caught:
        first.call_once("send_message", chat_id=42, text="news")
    assert caught.value.retry_after == 7.0
    second.call("send_message", chat_id=43, text="a reply elsewhere")
    assert time.sleeps == [pytest.approx(7.0)]
    assert api.calls[-1][0] == pytest.approx(7.0)


def test_redis_down_falls_back_to_pacing_the_process_alone(caplog: pytest.LogCaptureFixture) -> None:
    time = FakeTime()
    api = RecordingApi(time)
    down = connect_redis("redis://127.0.0.1:1/0", connect_timeout=0.2, retries=0)
    sender = Sender(api, sleep=time.sleep, clock=time.clock, redis=down, redis_prefix="plugbot-test-down:",
                    shared_clock=lambda: 1_700_000_000 + time.now)
    with caplog.at_level(logging.WARNING, logger="framework.pacing"):
        for n in range(3):
            sender.call("send_message", chat_id=42, text=f"m{n}")
    assert [moment for moment, _, _ in api.calls] == [0.0, 1.0, 2.0]  # every message sent, still paced
    warnings = [r for r in caplog.records if r.name == "framework.pacing"]
    assert len(warnings) == 1 and "Redis unreachable" in warnings[0].getMessage()


def test_limits_are_shared_again_once_redis_answers(redis_url: str, redis_prefix: str,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    time = FakeTime()
    api = RecordingApi(time)
    client = connect_redis(redis_url, connect_timeout=0.2, retries=0)
    real_port = client.connection_pool.connection_kwargs["port"]
    client.connection_pool.connection_kwargs["port"] = 1  # Redis "goes away"

    def make() -> Sender:
        return Sender(api, sleep=time.sleep, clock=time.clock, redis=client, redis_prefix=redis_prefix,
                      private_interval=None, shared_clock=lambda: 1_700_000_000 + time.now)

    first, second = make(), make()
    with caplog.at_level(logging.WARNING, logger="framework.pacing"):
        for chat in range(1, 61):
            (first if chat % 2 else second).call("send_message", chat_id=chat, text="hi")
        assert per_second(api)[0] == 60  # each process alone: 30 each, at once
        client.connection_pool.reset()  # forget the connections made to the dead port
        client.connection_pool.connection_kwargs["port"] = real_port  # ...and comes back
        time.sleep(10)  # past the retry delay; the local buckets are full again
        api.calls.clear()
        for chat in range(100, 160):
            (first if chat % 2 else second).call("send_message", chat_id=chat, text="hi")
    times = [moment for moment, _, _ in api.calls]
    assert times[:30] == [10.0] * 30 and times[30] > 10.0  # shared again: one burst of 30 for both
    logged = [r.getMessage() for r in caplog.records if r.name == "framework.pacing"]
    assert sum(m.startswith("sender: Redis unreachable") for m in logged) == 2  # once per process
    assert sum(m.startswith("sender: Redis answers again") for m in logged) == 2


def test_two_os_processes_share_the_global_limit(redis_url: str, redis_prefix: str) -> None:
    """Two real processes, each sending 45 messages to chats of its own. The shared clock stands
    still, so whatever the interleaving, the waits both were given together are exactly those of
    one process sending 90: a burst of 30, then one every 1/30 s."""
    script = textwrap.dedent("""
        import json, sys
        from framework.redisconn import connect_redis
        from framework.sender import Sender

        class Api:
            def call(self, method, **params):
                return {}

        url, prefix, first = sys.argv[1], sys.argv[2], int(sys.argv[3])
        waits = []
        sender = Sender(Api(), sleep=waits.append, clock=lambda: 0.0, private_interval=None,
                        redis=connect_redis(url), redis_prefix=prefix, shared_clock=lambda: 1_700_000_000.0)
        for chat in range(first, first + 45):
            sender.call("send_message", chat_id=chat, text="hi")
        print(json.dumps(waits))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [subprocess.Popen([sys.executable, "-c", script, redis_url, redis_prefix, str(first)], env=env,
                                stdout=subprocess.PIPE, text=True) for first in (1, 1001)]
    outputs = [worker.communicate(timeout=60)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]
    waits = sorted(wait for output in outputs for wait in json.loads(output))
    # Throttled messages only record a wait: 60 of the 90, the first 30 went at once.
    assert waits == pytest.approx([k * 33_334 / 1_000_000 for k in range(1, 61)], abs=1e-6)
