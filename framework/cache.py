"""A small JSON cache for slow lookups (API calls, rendered reports).

Values are JSON-encoded, so what comes back is what plain JSON can carry:
dicts, lists, str, numbers, bools and None (tuples come back as lists). Keys
are stored as ``cache:{key}`` behind the backend's prefix; namespace your keys
yourself (``"weather:moscow"``) so :meth:`Cache.invalidate` can drop a group.

The cache is an optimisation, never a dependency: when Redis is down every
read is a miss (the getter runs), writes are dropped and a warning is logged
at most once a minute. Oversized values are returned to the caller but not
stored, and logged once per key so a growing value is noticed.

Several :class:`Cache` objects (names) can share one backend; the name only
selects the hit/miss counters reported by :meth:`Cache.stats`, which live in
this process even for Redis. Names do not separate keys: give a cache a
``namespace`` (e.g. ``"plugin:notes:"``, stored as ``cache:plugin:notes:{key}``)
when its keys must not meet another cache's, as with one cache per plugin.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import redis

from .redisconn import OUTAGE_ERRORS, Keys, ThrottledLog, require_decoded_responses

log = logging.getLogger(__name__)

_WARNED_KEYS_KEPT = 10_000


class CacheStats:
    """Thread-safe counters of one cache name, plus the keys already warned about as too large."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = {"hits": 0, "misses": 0, "too_large": 0}
        self._warned: OrderedDict[str, None] = OrderedDict()

    def add(self, counter: str) -> None:
        with self._lock:
            self._counts[counter] += 1

    def first_too_large(self, key: str) -> bool:
        """Count an oversized value; True the first time ``key`` is seen (bounded memory)."""
        with self._lock:
            self._counts["too_large"] += 1
            if key in self._warned:
                return False
            self._warned[key] = None
            if len(self._warned) > _WARNED_KEYS_KEPT:
                self._warned.popitem(last=False)
            return True

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class CacheBackend(ABC):
    """Stores encoded values under ``cache:{key}``; also holds the per-name counters of its caches."""

    def __init__(self, prefix: str = "") -> None:
        self.keys = Keys(prefix)
        self._stats: dict[str, CacheStats] = {}
        self._stats_lock = threading.Lock()

    def stats_for(self, name: str) -> CacheStats:
        """The counters of cache ``name``, shared by every :class:`Cache` of that name on this backend."""
        with self._stats_lock:
            return self._stats.setdefault(name, CacheStats())

    @abstractmethod
    def get(self, key: str) -> str | None:
        """The encoded value, or None on a miss."""

    def get_many(self, keys: list[str]) -> list[str | None]:
        """:meth:`get` for several keys, in order (one round trip where the backend can)."""
        return [self.get(key) for key in keys]

    @abstractmethod
    def set(self, key: str, value: str, ttl: float) -> None:
        """Store the encoded value for ``ttl`` seconds."""

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Remove ``key``; True if it existed."""

    @abstractmethod
    def invalidate(self, key_prefix: str) -> int:
        """Remove every key starting with ``key_prefix``; returns how many."""


class MemoryCacheBackend(CacheBackend):
    """An LRU dict with per-entry expiry, safe to share between threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000,
                 prefix: str = "") -> None:
        super().__init__(prefix)
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self._clock = clock
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        full = self.keys.cache(key)
        with self._lock:
            entry = self._entries.get(full)
            if entry is None:
                return None
            if entry[1] <= self._clock():
                del self._entries[full]
                return None
            self._entries.move_to_end(full)
            return entry[0]

    def set(self, key: str, value: str, ttl: float) -> None:
        full = self.keys.cache(key)
        with self._lock:
            self._entries[full] = (value, self._clock() + ttl)
            self._entries.move_to_end(full)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._entries.pop(self.keys.cache(key), None) is not None

    def invalidate(self, key_prefix: str) -> int:
        start = self.keys.cache(key_prefix)
        with self._lock:
            doomed = [full for full in self._entries if full.startswith(start)]
            for full in doomed:
                del self._entries[full]
            return len(doomed)


def _with_deadline(value: str, expires_at: float) -> str:
    """``"{expires_at_ms}:{value}"``: JSON never starts with digits and a colon, so old values stay readable."""
    return f"{int(expires_at * 1000)}:{value}"


def _unless_expired(stored: str | None, now: float) -> str | None:
    """The value of ``stored`` while it is live at ``now``; a value without a deadline is live."""
    if stored is None:
        return None
    head, sep, value = stored.partition(":")
    if not sep or not head.isdigit():
        return stored
    return value if int(head) > now * 1000 else None


class RedisCacheBackend(CacheBackend):
    """Cache entries in Redis, shared between processes; an outage degrades to misses.

    Each value carries its expiry on ``clock`` (epoch seconds; the application
    passes its own), so an entry expires when the application's clock says so;
    the key's TTL only frees the memory of entries nobody reads again.
    """

    SCAN_COUNT = 500
    OUTAGE_PAUSE = 1.0
    """After an outage error, reads and writes skip Redis for this long (deletes still try).

    Each update makes several cache calls; without the pause each one would wait for the
    client's connection retries during an outage, and an update would take seconds to be told
    "temporarily unavailable". Deletes are invalidations, so they are never skipped."""

    def __init__(self, client: redis.Redis, prefix: str = "", clock: Callable[[], float] = time.time) -> None:
        super().__init__(prefix)
        self._client = require_decoded_responses(client)
        self._outage_log = ThrottledLog(log, interval=60.0)
        self._clock = clock
        self._down_until = 0.0  # time.monotonic(): the outage pause is about the network, not the app's clock

    def _degrade(self, operation: Callable[[], Any], fallback: Any, *, skip_when_down: bool = True) -> Any:
        if skip_when_down and time.monotonic() < self._down_until:
            return fallback
        try:
            return operation()
        except OUTAGE_ERRORS as exc:
            self._down_until = time.monotonic() + self.OUTAGE_PAUSE
            self._outage_log.warning("cache: Redis unreachable, serving misses (%s: %s)",
                                     exc.__class__.__name__, exc)
            return fallback

    def get(self, key: str) -> str | None:
        return _unless_expired(self._degrade(lambda: self._client.get(self.keys.cache(key)), None), self._clock())

    def get_many(self, keys: list[str]) -> list[str | None]:
        if not keys:
            return []
        stored = self._degrade(lambda: self._client.mget([self.keys.cache(key) for key in keys]), [None] * len(keys))
        now = self._clock()
        return [_unless_expired(value, now) for value in stored]

    def set(self, key: str, value: str, ttl: float) -> None:
        stored = _with_deadline(value, self._clock() + ttl)
        self._degrade(lambda: self._client.set(self.keys.cache(key), stored, px=max(1, int(ttl * 1000))), None)

    def delete(self, key: str) -> bool:
        return bool(self._degrade(lambda: self._client.delete(self.keys.cache(key)), 0, skip_when_down=False))

    def invalidate(self, key_prefix: str) -> int:
        return self._degrade(lambda: self._invalidate(key_prefix), 0, skip_when_down=False)

    def _invalidate(self, key_prefix: str) -> int:
        """SCAN (never KEYS, which blocks the server) and UNLINK in batches of ``SCAN_COUNT``."""
        removed = 0
        batch: list[str] = []
        for full in self._client.scan_iter(match=self.keys.cache_pattern(key_prefix), count=self.SCAN_COUNT):
            batch.append(full)
            if len(batch) >= self.SCAN_COUNT:
                removed += self._client.unlink(*batch)
                batch = []
        if batch:
            removed += self._client.unlink(*batch)
        return removed


class Cache:
    """JSON values with a TTL on a shared backend; ``name`` selects the stats counters.

    ``namespace`` is prepended to every key (and to :meth:`invalidate` prefixes),
    so ``invalidate("")`` then clears only this cache's keys.
    """

    def __init__(self, backend: CacheBackend, name: str = "default", max_value_bytes: int = 100_000,
                 default_ttl: float = 3600, *, namespace: str = "") -> None:
        if default_ttl <= 0:
            raise ValueError(f"default_ttl must be positive, got {default_ttl}")
        self.backend = backend
        self.name = name
        self.namespace = namespace
        self.max_value_bytes = max_value_bytes
        self.default_ttl = default_ttl
        self._stats = backend.stats_for(name)

    def get(self, key: str, default: Any = None) -> Any:
        """The cached value, or ``default`` on a miss (a cached None is a hit and returns None)."""
        found, value = self._lookup(key)
        return value if found else default

    def set(self, key: str, value: Any, ttl: float | None = None) -> bool:
        """Cache ``value``; False when it is too large to cache. Non-JSON values raise TypeError."""
        ttl = self._ttl(ttl)
        encoded = self._encode(key, value)
        size = len(encoded.encode("utf-8"))
        if size > self.max_value_bytes:
            self._too_large(key, size)
            return False
        self.backend.set(self.namespace + key, encoded, ttl)
        return True

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """The cached values of ``keys`` that are hits, in one backend round trip (Redis MGET)."""
        raws = self.backend.get_many([self.namespace + key for key in keys])
        found = {}
        for key, raw in zip(keys, raws, strict=True):
            hit, value = self._decode(key, raw)
            if hit:
                found[key] = value
        return found

    def get_or_set(self, key: str, getter: Callable[[], Any], ttl: float | None = None) -> Any:
        """The cached value, or ``getter()`` stored and returned on a miss (stampedes are not coalesced)."""
        found, value = self._lookup(key)
        if found:
            return value
        value = getter()
        self.set(key, value, ttl)
        return value

    def delete(self, key: str) -> bool:
        """Remove one key; True if it was cached."""
        return self.backend.delete(self.namespace + key)

    def invalidate(self, prefix: str) -> int:
        """Remove every key starting with ``prefix`` (all of them for ``''``); returns how many."""
        return self.backend.invalidate(self.namespace + prefix)

    def stats(self) -> dict[str, int]:
        """``{'hits', 'misses', 'too_large'}`` counted in this process for this cache name."""
        return self._stats.snapshot()

    def _lookup(self, key: str) -> tuple[bool, Any]:
        return self._decode(key, self.backend.get(self.namespace + key))

    def _decode(self, key: str, raw: str | None) -> tuple[bool, Any]:
        if raw is not None:
            try:
                value = json.loads(raw)
            except ValueError:
                log.warning("cache %s: undecodable value under %r ignored", self.name, key)
            else:
                self._stats.add("hits")
                return True, value
        self._stats.add("misses")
        return False, None

    def _ttl(self, ttl: float | None) -> float:
        ttl = self.default_ttl if ttl is None else ttl
        if ttl <= 0:
            raise ValueError(f"cache ttl must be positive, got {ttl}")
        return ttl

    def _encode(self, key: str, value: Any) -> str:
        try:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"cache {self.name}: value for {key!r} is not JSON-serialisable: {exc}") from exc

    def _too_large(self, key: str, size: int) -> None:
        if self._stats.first_too_large(key):
            log.warning("cache %s: value for %r is %d bytes (> %d), returned but not cached",
                        self.name, key, size, self.max_value_bytes)


def make_cache_backend(redis_client: redis.Redis | None, prefix: str = "", *,
                       clock: Callable[[], float] = time.time) -> CacheBackend:
    """Redis when configured (shared by processes), else an in-process LRU; entries expire on ``clock``."""
    if redis_client is None:
        return MemoryCacheBackend(clock, prefix=prefix)
    return RedisCacheBackend(redis_client, prefix, clock)


def lookup_totals(caches: Iterable[Cache]) -> dict[str, int]:
    """Hits and misses of ``caches`` (one per name) together: the bot's cache hit rate."""
    hits = misses = 0
    for cache in caches:
        counts = cache.stats()
        hits += counts.get("hits", 0)
        misses += counts.get("misses", 0)
    return {"hits": hits, "misses": misses}
