"""Fixed-window rate limits per user and endpoint.

``RateLimiter(backend).hit(telegram_id, endpoint, limit, window)`` counts one
request and says whether it is allowed. Every hit counts, refused ones too, and
``notify`` is True only for the first refused hit of a window: the bot tells
the user "slow down, try again in N s" once, not once per message.

Backends:

* :class:`MemoryRateBackend` -- one process; a window opens at the first hit
  and lasts ``window`` seconds.
* :class:`RedisRateBackend` -- shared by every process; key
  ``ratelimit:{telegram_id}:{endpoint}`` (incoming messages:
  ``ratelimit:{telegram_id}:messages``, 60 s) with the window's end beside it
  (``…:window``); one Lua round trip per hit.
* :class:`DbRateBackend` -- the ``rate_limits`` table, for deployments with a
  database but no Redis; windows are aligned to multiples of ``window`` since
  the epoch, because the row key needs a deterministic ``window_start``.

Every backend takes ``clock`` (seconds); the application passes its own, so a
window ends when the application's clock says so (``bot.advance(minutes=1)``
in a test), whichever backend counts.
"""
from __future__ import annotations

import datetime as dt
import math
import re
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import redis

from .db import UTC, connection_scope, database, is_postgres
from .models import RateLimit
from .redisconn import Keys, unavailable_on_outage

MESSAGES_ENDPOINT = "messages"
MESSAGES_WINDOW = 60


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one hit; ``retry_after`` is 0 when allowed, else seconds until the window ends."""

    allowed: bool
    count: int
    limit: int
    retry_after: int
    notify: bool


def decide(count: int, limit: int, remaining: float, notify: bool) -> RateDecision:
    """Build the decision from a backend's counter, the window's remaining seconds and its notify flag."""
    allowed = count <= limit
    retry_after = 0 if allowed else max(1, math.ceil(remaining))
    return RateDecision(allowed, count, limit, retry_after, notify and not allowed)


class RateBackend(ABC):
    """Counts hits; each backend decides ``notify`` atomically with the increment."""

    @abstractmethod
    def hit(self, telegram_id: int, endpoint: str, limit: int, window: int) -> RateDecision:
        """Count one request in the current window of (telegram_id, endpoint)."""


@dataclass
class _Window:
    end: float
    count: int = 0
    notified: bool = False


class MemoryRateBackend(RateBackend):
    """Counters in this process, guarded by one lock; expired windows are swept periodically."""

    SWEEP_EVERY = 1024

    def __init__(self, clock: Callable[[], float] = time.monotonic, prefix: str = "") -> None:
        self._clock = clock
        self._keys = Keys(prefix)
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()
        self._hits = 0

    def hit(self, telegram_id: int, endpoint: str, limit: int, window: int) -> RateDecision:
        key = self._keys.ratelimit(telegram_id, endpoint)
        with self._lock:
            now = self._clock()
            self._sweep(now)
            current = self._windows.get(key)
            if current is None or current.end <= now:
                current = self._windows[key] = _Window(end=now + window)
            current.count += 1
            notify = current.count > limit and not current.notified
            current.notified = current.notified or notify
            return decide(current.count, limit, current.end - now, notify)

    def _sweep(self, now: float) -> None:
        self._hits += 1
        if self._hits % self.SWEEP_EVERY == 0:
            self._windows = {key: w for key, w in self._windows.items() if w.end > now}


# KEYS[1] counter, KEYS[2] notified flag, KEYS[3] the window's end (epoch ms on the application's
# clock); ARGV[1] window seconds, ARGV[2] limit, ARGV[3] now (epoch ms, the application's clock).
# Returns {count, remaining ms, notify 0/1}. A window ends when the application's clock passes
# its end; the keys' TTLs only collect the windows of users who stopped writing. A counter without
# a recorded end (written by an older version, or by hand) starts a new window.
_HIT_SCRIPT = """
local now = tonumber(ARGV[3])
local window_ms = tonumber(ARGV[1]) * 1000
local ends = tonumber(redis.call('GET', KEYS[3]) or '')
if ends == nil or ends <= now or redis.call('EXISTS', KEYS[1]) == 0 then
  ends = now + window_ms
  redis.call('SET', KEYS[1], 0, 'PX', window_ms)
  redis.call('SET', KEYS[3], ends, 'PX', window_ms)
  redis.call('DEL', KEYS[2])
end
local count = redis.call('INCR', KEYS[1])
local remaining = math.max(1, ends - now)
local notify = 0
if count > tonumber(ARGV[2]) and redis.call('SET', KEYS[2], '1', 'NX', 'PX', window_ms) then
  notify = 1
end
return {count, remaining, notify}
"""


class RedisRateBackend(RateBackend):
    """Counters in Redis, so every process and restart sees the same limit.

    One EVALSHA per hit. The client's retry policy may re-send a hit whose reply
    was lost, counting it twice; for a rate limit that errs on the safe side.
    Windows open and end on ``clock`` (epoch seconds; the application passes
    its own), so every process sharing the keys must run on the same wall clock.
    Outages raise :class:`framework.redisconn.ServiceUnavailable`.
    """

    def __init__(self, client: redis.Redis, prefix: str = "", clock: Callable[[], float] = time.time) -> None:
        self._keys = Keys(prefix)
        self._clock = clock
        self._script = client.register_script(_HIT_SCRIPT)

    def hit(self, telegram_id: int, endpoint: str, limit: int, window: int) -> RateDecision:
        keys = [self._keys.ratelimit(telegram_id, endpoint), self._keys.ratelimit_notified(telegram_id, endpoint),
                self._keys.ratelimit_window(telegram_id, endpoint)]
        now_ms = int(self._clock() * 1000)
        with unavailable_on_outage("rate limit"):
            count, remaining_ms, notify = self._script(keys=keys, args=[window, limit, now_ms])
        return decide(int(count), limit, int(remaining_ms) / 1000, bool(int(notify)))


class DbRateBackend(RateBackend):
    """Counters in the ``rate_limits`` table via one atomic upsert per hit.

    ``INSERT ... ON CONFLICT (user_id, endpoint, window_start) DO UPDATE SET
    request_count = request_count + 1 RETURNING request_count`` lets concurrent
    processes count without losing increments. Since every hit increments,
    exactly one hit sees ``limit + 1``: that one notifies. Run inside a caller's
    transaction, the row stays locked (and the hit undoable) until it ends.
    Old rows are not deleted here; call :meth:`prune` from a periodic job.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def hit(self, telegram_id: int, endpoint: str, limit: int, window: int) -> RateDecision:
        now = self._clock()
        start = math.floor(now / window) * window
        count = self._increment(telegram_id, endpoint, dt.datetime.fromtimestamp(start, UTC))
        return decide(count, limit, start + window - now, count == limit + 1)

    def _increment(self, telegram_id: int, endpoint: str, window_start: dt.datetime) -> int:
        query = (
            RateLimit.insert(user_id=telegram_id, endpoint=endpoint, request_count=1, window_start=window_start)
            .on_conflict(
                conflict_target=[RateLimit.user_id, RateLimit.endpoint, RateLimit.window_start],
                update={RateLimit.request_count: RateLimit.request_count + 1},
            )
            .returning(RateLimit.request_count)
        )
        with connection_scope():
            _require_returning()
            return query.tuples().execute()[0][0]

    def prune(self, older_than: dt.datetime) -> int:
        """Delete windows that started before ``older_than``; returns the number of rows removed."""
        with connection_scope():
            return RateLimit.delete().where(RateLimit.window_start < older_than).execute()


def _require_returning() -> None:
    if not is_postgres(database.obj) and sqlite3.sqlite_version_info < (3, 35, 0):
        raise RuntimeError(f"DbRateBackend needs SQLite >= 3.35 for RETURNING, found {sqlite3.sqlite_version}")


class RateLimiter:
    """The entry point plugins and the pipeline use; validates arguments and delegates to a backend."""

    def __init__(self, backend: RateBackend) -> None:
        self.backend = backend

    def hit(self, telegram_id: int, endpoint: str, limit: int, window: int) -> RateDecision:
        """Count one request of ``telegram_id`` to ``endpoint``: at most ``limit`` per ``window`` seconds."""
        if limit < 1 or window < 1:
            raise ValueError(f"limit and window must be >= 1, got limit={limit}, window={window}")
        if not endpoint:
            raise ValueError("endpoint must be a non-empty name")
        return self.backend.hit(int(telegram_id), endpoint, int(limit), int(window))

    def hit_rate(self, telegram_id: int, endpoint: str, rate: str) -> RateDecision:
        """:meth:`hit` with the limit written as text, e.g. ``"10/hour"`` (see :func:`parse_rate`)."""
        limit, window = parse_rate(rate)
        return self.hit(telegram_id, endpoint, limit, window)

    def hit_message(self, telegram_id: int, limit: int) -> RateDecision:
        """Count one incoming message against the per-minute message limit (``ratelimit:{id}:messages``)."""
        return self.hit(telegram_id, MESSAGES_ENDPOINT, limit, MESSAGES_WINDOW)


_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(?:(\d+)\s*s|(second|minute|hour|day)s?)\s*$", re.IGNORECASE)


def parse_rate(text: str) -> tuple[int, int]:
    """``"10/hour"`` -> ``(10, 3600)``; also ``N/second|minute|hour|day`` and ``N/<seconds>s`` (``"5/30s"``).

    Limits come from YAML config written by people, so a typo must fail
    loudly at startup rather than silently disable the limit.
    """
    match = _RATE_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"invalid rate {text!r}: expected N/second, N/minute, N/hour, N/day or N/<seconds>s, "
            "e.g. '10/hour' or '5/30s'"
        )
    limit = int(match.group(1))
    window = int(match.group(2)) if match.group(2) else _UNITS[match.group(3).lower()]
    if limit < 1 or window < 1:
        raise ValueError(f"invalid rate {text!r}: the count and the window must both be at least 1")
    return limit, window


def make_rate_backend(redis_client: redis.Redis | None, prefix: str = "", *, use_database: bool = False,
                      clock: Callable[[], float] = time.time) -> RateBackend:
    """Redis when configured; else the database when asked (several processes); else memory; all on ``clock``."""
    if redis_client is not None:
        return RedisRateBackend(redis_client, prefix, clock)
    if use_database:
        return DbRateBackend(clock)
    return MemoryRateBackend(clock, prefix)
