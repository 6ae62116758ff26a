"""Counters summed over every process: two :class:`SharedCounters` on one Redis prefix play two
processes (and one test runs two real OS processes)."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from framework.counters import SharedCounters
from framework.redisconn import connect_redis

ROOT = Path(__file__).resolve().parents[2]


class Process:
    """What a process counts: running totals that only grow."""

    def __init__(self) -> None:
        self.counts = {"processed": 0, "errors": 0}

    def update(self, error: bool = False) -> None:
        self.counts["processed"] += 1
        self.counts["errors"] += error

    def source(self) -> dict[str, int]:
        return dict(self.counts)


def test_totals_are_summed_over_the_processes(redis_url: str, redis_prefix: str) -> None:
    client = connect_redis(redis_url)
    one, two = Process(), Process()
    first = SharedCounters(client, redis_prefix, clock=lambda: 1_700_000_000.0)
    second = SharedCounters(client, redis_prefix, clock=lambda: 1_700_000_500.0)
    first.track("updates", one.source)
    second.track("updates", two.source)
    for _ in range(3):
        one.update()
    two.update(error=True)
    second.flush()
    # The reader flushes its own counts first; the other process's are in since its last flush.
    assert first.totals("updates") == {"processed": 4, "errors": 1, "since": 1_700_000_000}
    one.update()
    assert second.totals("updates")["processed"] == 4  # the first process has not flushed this one yet
    first.flush()
    first.flush()  # nothing new: nothing added twice
    assert second.totals("updates") == {"processed": 5, "errors": 1, "since": 1_700_000_000}


def test_a_flush_is_one_round_trip_for_every_counter(redis_url: str, redis_prefix: str) -> None:
    client = connect_redis(redis_url)
    counters = SharedCounters(client, redis_prefix)
    process = Process()
    counters.track("updates", process.source)
    counters.track("cache", lambda: {"hits": 7, "misses": 3})
    process.update()
    sent: list[int] = []
    original = client.pipeline

    def pipeline(*args: object, **kwargs: object) -> object:
        pipe = original(*args, **kwargs)
        execute = pipe.execute
        pipe.execute = lambda *a, **k: (sent.append(len(pipe.command_stack)), execute(*a, **k))[1]
        return pipe

    client.pipeline = pipeline  # type: ignore[method-assign]
    assert counters.flush()
    assert len(sent) == 1  # one pipeline: both groups, their ``since`` and their counters
    assert counters.flush() and len(sent) == 1  # nothing changed: no round trip at all


def test_without_redis_the_process_counts_alone() -> None:
    process = Process()
    counters = SharedCounters(None, clock=lambda: 1_700_000_000.0)
    counters.track("updates", process.source)
    process.update(error=True)
    assert counters.totals("updates") == {"processed": 1, "errors": 1, "since": 1_700_000_000}
    assert not counters.shared


def test_counts_made_while_redis_is_down_are_added_once_it_answers(
        redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    client = connect_redis(redis_url, connect_timeout=0.2, retries=0)
    real_port = client.connection_pool.connection_kwargs["port"]
    process = Process()
    counters = SharedCounters(client, redis_prefix)
    counters.track("updates", process.source)
    process.update()
    assert counters.flush()
    client.connection_pool.connection_kwargs["port"] = 1
    client.connection_pool.reset()
    process.update()
    with caplog.at_level(logging.WARNING, logger="framework.counters"):
        assert not counters.flush()
        assert counters.totals("updates")["processed"] == 2  # this process's own, while Redis is away
    assert "Redis unreachable" in caplog.text
    client.connection_pool.connection_kwargs["port"] = real_port
    client.connection_pool.reset()
    other = SharedCounters(connect_redis(redis_url), redis_prefix)
    assert other.totals("updates")["processed"] == 1
    assert counters.flush()
    assert other.totals("updates")["processed"] == 2  # the missed count, added once


def test_two_os_processes_add_up(redis_url: str, redis_prefix: str) -> None:
    script = textwrap.dedent("""
        import sys
        from framework.counters import SharedCounters
        from framework.redisconn import connect_redis

        url, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
        counts = {"processed": 0}
        counters = SharedCounters(connect_redis(url), prefix, flush_every=0.01)
        counters.track("updates", lambda: dict(counts))
        counters.start()
        for _ in range(n):
            counts["processed"] += 1
        counters.stop()  # the last flush: nothing a stopping process counted is lost
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [subprocess.Popen([sys.executable, "-c", script, redis_url, redis_prefix, str(n)], env=env)
               for n in (3000, 4000)]
    assert [worker.wait(60) for worker in workers] == [0, 0]
    assert SharedCounters(connect_redis(redis_url), redis_prefix).totals("updates")["processed"] == 7000
