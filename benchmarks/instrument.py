"""Counters for one bot process: SQL statements, Redis commands, per-update latency, peak RSS.

Counting happens inside the bot process, on the calls themselves, so the
numbers are exact and unaffected by anything else using the shared PostgreSQL
or Redis (an ``INFO commandstats`` delta would count other processes too).

* SQL: every statement peewee sends goes through ``Database.execute_sql``
  (queries, inserts, savepoints); the wrapper counts them, per thread as well,
  so each update's own statements are known. ``BEGIN``/``COMMIT`` that the
  driver issues itself are not statements peewee sends and are not counted.
* Redis: ``Redis.execute_command`` (one command, one round trip), pipelined
  commands one by one, and each pipeline ``execute`` as one round trip.
"""
from __future__ import annotations

import math
import resource
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

_local = threading.local()


class Counter:
    """A process-wide total plus this thread's running count."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.total = 0
        self._lock = threading.Lock()

    def add(self, amount: int = 1) -> None:
        with self._lock:
            self.total += amount
        setattr(_local, self.name, getattr(_local, self.name, 0) + amount)

    def mine(self) -> int:
        """What this thread has counted so far (read before and after an update)."""
        return getattr(_local, self.name, 0)


SQL = Counter("sql")
REDIS = Counter("redis")
REDIS_ROUNDTRIPS = Counter("redis_rt")


def count_sql(database: Any) -> None:
    """Count every statement ``database`` (a real peewee Database, not the proxy) executes."""
    original = database.execute_sql

    def execute_sql(sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        SQL.add()
        return original(sql, params, *args, **kwargs)

    database.execute_sql = execute_sql


_redis_patched = False


def count_redis() -> None:
    """Count commands of every redis-py client in this process (class-level, idempotent)."""
    global _redis_patched
    if _redis_patched:
        return
    _redis_patched = True
    import redis.client

    plain = redis.client.Redis.execute_command
    queued = redis.client.Pipeline.pipeline_execute_command
    immediate = redis.client.Pipeline.immediate_execute_command
    run = redis.client.Pipeline.execute

    def execute_command(self: Any, *args: Any, **options: Any) -> Any:
        REDIS.add()
        REDIS_ROUNDTRIPS.add()
        return plain(self, *args, **options)

    def pipeline_execute_command(self: Any, *args: Any, **options: Any) -> Any:
        REDIS.add()
        return queued(self, *args, **options)

    def immediate_execute_command(self: Any, *args: Any, **options: Any) -> Any:
        REDIS.add()
        REDIS_ROUNDTRIPS.add()
        return immediate(self, *args, **options)

    def execute(self: Any, raise_on_error: bool = True) -> Any:
        if self.command_stack:
            REDIS_ROUNDTRIPS.add()
        return run(self, raise_on_error)

    redis.client.Redis.execute_command = execute_command
    redis.client.Pipeline.pipeline_execute_command = pipeline_execute_command
    redis.client.Pipeline.immediate_execute_command = immediate_execute_command
    redis.client.Pipeline.execute = execute


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of an unsorted list (0 for an empty one)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


class UpdateRecorder:
    """Per update: latency from arrival to fully handled (replies sent), and its SQL/Redis counts.

    ``arrived(update)`` is called when the update enters the process (fed from
    a getUpdates batch); :meth:`wrap` wraps the queue's handler so the
    end time and the worker thread's counters are taken around the pipeline.
    """

    def __init__(self, kinds: dict[int, str] | None = None) -> None:
        self.kinds = kinds or {}
        self._arrivals: dict[int, float] = {}
        self._lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.sql: dict[str, list[int]] = defaultdict(list)
        self.redis: dict[str, list[int]] = defaultdict(list)
        self.roundtrips: dict[str, list[int]] = defaultdict(list)
        self.first_arrival: float | None = None
        self.last_done: float | None = None
        self.handled = 0
        # CPU of the whole process (every thread: poller, workers, outbox) from the first
        # arrival to the last update handled: what an update costs the bot, HTTP included.
        self.first_cpu: float | None = None
        self.last_cpu: float | None = None

    def arrived(self, update: dict[str, Any]) -> None:
        now = time.perf_counter()
        with self._lock:
            self._arrivals.setdefault(update.get("update_id"), now)
            if self.first_arrival is None:
                self.first_arrival = now
                self.first_cpu = time.process_time()

    def wrap(self, handle: Callable[..., Any]) -> Callable[..., Any]:
        def timed(update: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            sql0, redis0, rt0 = SQL.mine(), REDIS.mine(), REDIS_ROUNDTRIPS.mine()
            try:
                return handle(update, *args, **kwargs)
            finally:
                done = time.perf_counter()
                uid = update.get("update_id")
                kind = self.kinds.get(uid, "other")
                with self._lock:
                    start = self._arrivals.pop(uid, done)
                    self.latency[kind].append(done - start)
                    self.sql[kind].append(SQL.mine() - sql0)
                    self.redis[kind].append(REDIS.mine() - redis0)
                    self.roundtrips[kind].append(REDIS_ROUNDTRIPS.mine() - rt0)
                    self.handled += 1
                    self.last_done = done
                    self.last_cpu = time.process_time()

        return timed

    def report(self) -> dict[str, Any]:
        """Per kind: count, p50/p95/p99 latency (ms), mean SQL statements, Redis commands and
        round trips; ``all`` summarises every kind but ``warmup`` (updates sent only to warm caches)."""
        with self._lock:
            kinds = {}
            measured = [kind for kind in sorted(self.latency) if kind != WARMUP]
            for kind in sorted(self.latency):
                kinds[kind] = _summary(self.latency[kind], self.sql[kind], self.redis[kind], self.roundtrips[kind])
            every = {name: [v for kind in measured for v in series[kind]]
                     for name, series in (("lat", self.latency), ("sql", self.sql), ("redis", self.redis),
                                          ("rt", self.roundtrips))}
            span = (self.last_done - self.first_arrival) if self.first_arrival and self.last_done else 0.0
            cpu = (self.last_cpu - self.first_cpu) if self.first_cpu is not None and self.last_cpu is not None else 0.0
            return {"handled": self.handled, "span_s": span, "kinds": kinds,
                    "cpu_s": cpu, "cpu_ms_per_update": cpu * 1000 / self.handled if self.handled else None,
                    "all": _summary(every["lat"], every["sql"], every["redis"], every["rt"])}


WARMUP = "warmup"


def _summary(latencies: list[float], sql: list[int], redis: list[int], roundtrips: list[int]) -> dict[str, Any]:
    n = len(latencies)
    return {
        "n": n,
        "p50_ms": percentile(latencies, 50) * 1000, "p95_ms": percentile(latencies, 95) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000, "max_ms": max(latencies, default=0.0) * 1000,
        "sql_per_update": sum(sql) / n if n else 0.0, "sql_max": max(sql, default=0),
        "redis_per_update": sum(redis) / n if n else 0.0, "redis_max": max(redis, default=0),
        "redis_rt_per_update": sum(roundtrips) / n if n else 0.0,
    }


def instrument_app(app: Any, kinds: dict[int, str] | None = None) -> UpdateRecorder:
    """Count SQL and Redis for ``app`` and time every update it handles.

    The update queue keeps a reference to the pipeline's ``process`` taken at
    construction, so the wrapper replaces that reference (a private attribute
    of :class:`framework.update_queue.UpdateQueue`; benchmark code only). The
    queue's own statements (store, take) are not inside it: SQL per update
    counts the pipeline's.
    """
    count_sql(app.db)
    count_redis()
    recorder = UpdateRecorder(kinds)
    app.queue._process = recorder.wrap(app.queue._process)
    feed_many = app.feed_many  # app.feed goes through it too

    def timed_feed_many(updates: list[dict[str, Any]]) -> None:
        for update in updates:
            recorder.arrived(update)
        feed_many(updates)

    app.feed_many = timed_feed_many
    return recorder
