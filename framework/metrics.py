"""The bot's Prometheus metrics: what ``GET /metrics`` serves.

Counters and histograms live in ``prometheus_client``'s process-wide registry and are fed from
the outside of the code they measure: the built-in ``metrics`` plugin's ``plugbot_update_done``
(updates, durations, errors, rate-limited updates), a wrapper around the sender's Bot API
(every HTTP call and every 429), the scheduler's run listener (job runs) and the caches' own
counters (copied into counters here). Values that are a state rather than a count (the queue)
are read when scraped, by :class:`_LiveCollector`.

Under gunicorn each worker is a process of its own: with ``PROMETHEUS_MULTIPROC_DIR`` set
(``gunicorn.conf.py`` does it) every process writes its values to files there and a scrape of
any worker sums them all (``prometheus_client.multiprocess``).

Labels are bounded sets the code defines (update kinds, plugin names, Bot API methods, job ids,
cache names): never a chat id, a user or a text, so the output holds no user data, and no
secret (the token is never part of a method name or a label).
"""
from __future__ import annotations

import datetime as dt
import math
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric

from .db import utcnow

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

UPDATES = Counter("plugbot_updates", "Updates the pipeline finished, by update kind and the plugin whose handler "
                  "ran last ('core' when none did)", ["type", "plugin"])
UPDATE_SECONDS = Histogram("plugbot_update_duration_seconds", "Seconds an update took in the pipeline, from its "
                           "exactly-once claim to its replies sent, by the plugin whose handler ran", ["plugin"],
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
UPDATE_ERRORS = Counter("plugbot_update_errors", "Updates on which a plugin's handler raised", ["plugin"])
RATE_LIMITED = Counter("plugbot_updates_rate_limited", "Updates the incoming rate limit turned away")
TELEGRAM_CALLS = Counter("plugbot_telegram_requests", "Bot API requests sent (every attempt, retries included)",
                         ["method"])
TELEGRAM_429 = Counter("plugbot_telegram_flood_waits", "Bot API requests Telegram answered 429 Too Many Requests",
                       ["method"])
TELEGRAM_FAILED = Counter("plugbot_telegram_request_errors", "Bot API requests that failed otherwise (refused, "
                          "5xx, network)", ["method"])
CACHE_REQUESTS = Counter("plugbot_cache_requests", "Cache lookups by cache name and result (hit or miss)",
                         ["cache", "result"])
JOB_RUNS = Counter("plugbot_job_runs", "Scheduled job runs by job id and outcome (ok or error)", ["job", "outcome"])
JOB_SECONDS = Histogram("plugbot_job_duration_seconds", "Seconds a job run took", ["job"],
                        buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300))

_METHOD = re.compile(r"[a-z][a-z_]{0,39}")
CACHE_SYNC_INTERVAL = 1.0  # seconds between two copies of the caches' counters on the update path


def method_label(method: str) -> str:
    """A Bot API method name as a label: only the snake_case names the code calls, else ``other``
    (a label must never carry what a caller put together at run time)."""
    return method if _METHOD.fullmatch(method) else "other"


@dataclass(frozen=True)
class QueueState:
    """What waits to be processed: how many updates, and the age of the oldest (None: unknown)."""

    depth: int
    oldest_age: float | None


def queue_state(app: Any) -> QueueState:
    """The queue gauges' source: the durable queue's table (``framework.update_queue``), the same
    for every process, so any gunicorn worker's scrape tells the deployment's truth."""
    depth, oldest = app.queue.oldest()
    if oldest is None:
        return QueueState(depth, 0.0)
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    return QueueState(depth, max(0.0, (utcnow() - oldest).total_seconds()))  # the clock that stamped it


class CountingApi:
    """The Bot API as the sender sees it, counting every request by method, its 429s and its
    failures. Wraps the sender's ``api`` from the outside, so the sender's own logic (pacing,
    retries, shared limits) stays what it is; anything else is the wrapped API's."""

    def __init__(self, api: Any) -> None:
        self.wrapped = api

    def call(self, method: str, **params: Any) -> Any:
        label = method_label(method)
        TELEGRAM_CALLS.labels(label).inc()
        try:
            return self.wrapped.call(method, **params)
        except Exception as exc:
            if getattr(exc, "error_code", None) == 429:
                TELEGRAM_429.labels(label).inc()
            else:
                TELEGRAM_FAILED.labels(label).inc()
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


class Instrumentation:
    """The metrics of one application: hooks it into the sender and the scheduler, and copies
    its caches' counters into :data:`CACHE_REQUESTS`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._cache_seen: dict[tuple[str, str], int] = {}
        self._cache_lock = threading.Lock()
        self._synced_at = 0.0

    def attach(self) -> None:
        """Count the sender's Bot API calls and the scheduler's runs (once per application)."""
        sender = self.app.sender
        if not isinstance(sender.api, CountingApi):
            sender.api = CountingApi(sender.api)
        self.app.scheduler.on_run(job_ran)

    def update_done(self, ctx: Any, error: BaseException | None) -> None:
        """Count one finished update (the built-in ``metrics`` plugin's ``plugbot_update_done``)."""
        plugin = ctx.plugin if ctx.handlers_run else "core"
        UPDATES.labels(ctx.origin.kind or "other", plugin).inc()
        started = getattr(ctx, "started", None)
        if started is not None:
            UPDATE_SECONDS.labels(plugin).observe(time.perf_counter() - started)
        if error is not None:
            UPDATE_ERRORS.labels(plugin).inc()
        if ctx.refused == "rate_limit":
            RATE_LIMITED.inc()
        if time.monotonic() - self._synced_at >= CACHE_SYNC_INTERVAL:
            self.sync_caches()

    def sync_caches(self) -> None:
        """Add what each cache counted since the last copy (the caches count in plain integers;
        copying the difference keeps them free of any Prometheus cost on the lookup path)."""
        with self._cache_lock:
            self._synced_at = time.monotonic()
            for name, cache in self.app.caches().items():
                counts = cache.stats()
                for result, key in (("hit", "hits"), ("miss", "misses")):
                    now = counts.get(key, 0)
                    before = self._cache_seen.get((name, result), 0)
                    if now > before:
                        CACHE_REQUESTS.labels(_cache_label(name), result).inc(now - before)
                    self._cache_seen[(name, result)] = now


def _cache_label(name: str) -> str:
    """Cache names are ``users``, ``access``, ``plugin:<name>``: fixed by the code, safe as labels."""
    return name if len(name) <= 60 else name[:60]


def job_ran(job_id: str, duration: float, error: BaseException | None) -> None:
    """The scheduler's run listener: one run of ``job_id``."""
    JOB_RUNS.labels(job_id, "error" if error is not None else "ok").inc()
    JOB_SECONDS.labels(job_id).observe(duration)


def instrumentation(app: Any) -> Instrumentation:
    """The application's :class:`Instrumentation`, made on first use."""
    found = getattr(app, "_metrics", None)
    if found is None:
        found = app._metrics = Instrumentation(app)
    return found


class _LiveCollector:
    """Values read at scrape time from this process's application: the queue."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        state = queue_state(self.app)
        yield GaugeMetricFamily("plugbot_queue_depth", "Updates received and not processed yet", value=state.depth)
        yield GaugeMetricFamily("plugbot_queue_oldest_age_seconds", "Seconds the oldest unprocessed update has "
                                "waited (NaN when the queue cannot tell)",
                                value=math.nan if state.oldest_age is None else state.oldest_age)


class _Everything:
    """The process's own metrics (or, under gunicorn, every worker's summed) plus the live ones."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        if self.app is not None:
            instrumentation(self.app).sync_caches()  # the scraped process's caches are up to date
        directory = os.environ.get(MULTIPROC_ENV)
        if directory:
            from prometheus_client import multiprocess

            yield from multiprocess.MultiProcessCollector(None, path=directory).collect()
        else:
            yield from REGISTRY.collect()
        if self.app is not None:
            yield from _LiveCollector(self.app).collect()


def exposition_registry(app: Any) -> CollectorRegistry:
    """A registry whose scrape is the whole of ``/metrics`` for ``app``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Everything(app))
    return registry


def render(app: Any) -> tuple[bytes, str]:
    """(body, content type) of ``GET /metrics``."""
    return generate_latest(exposition_registry(app)), CONTENT_TYPE_LATEST


def serve_metrics(app: Any, port: int, listen: str = "127.0.0.1") -> Any:
    """``/metrics`` on a small HTTP server of its own (polling mode: there is no webhook server to
    carry it); returns the server, to ``shutdown()`` when the bot stops."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=listen, registry=exposition_registry(app))
    return server
