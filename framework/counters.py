"""Counters summed over every process of the bot: what /botstats reports as "updates processed",
"errors", "rate-limited", the cache's hits and lookups.

A process counts in memory, as before: an increment is a locked integer add, never a round trip.
With Redis a background thread adds what changed to a hash ``stats:{name}`` (one HINCRBY per
counter, all in one pipeline; ``stats:{name}:since`` keeps the earliest start) once a second. Why not increment Redis per update: that would add a
round trip to every update for a number an operator reads now and then; a second's delay costs
nothing, and the totals are still exact (each process adds only what it has not added yet, and a
failed flush is retried with the next one, so nothing is counted twice or lost while Redis is down).

Without Redis there is one process to count, so its own counts are the totals.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

from .redisconn import Keys, ThrottledLog

log = logging.getLogger(__name__)

#: The field of a counters hash holding when counting began (epoch seconds).
SINCE = "since"

Source = Callable[[], dict[str, int]]


class _Tracked:
    def __init__(self, source: Source, since: float) -> None:
        self.source = source
        self.since = since
        self.flushed: dict[str, int] = {}  # what this process has added to Redis so far
        self.announced = False  # its ``since`` is in Redis


class SharedCounters:
    """Named groups of counters, each read from a *source*: a function returning this process's
    running totals (``{"processed": 10, "errors": 1}``), which only grow.

    ``totals(name)`` gives the sums over every process sharing ``client`` and ``prefix`` (with
    ``since``, when the first of them began counting), or this process's own without Redis.
    ``clock`` is the application's (epoch seconds): ``since`` is on it.
    """

    def __init__(self, client: redis.Redis | None, prefix: str = "", *, flush_every: float = 1.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._keys = Keys(prefix)
        self._flush_every = flush_every
        self._clock = clock
        self._tracked: dict[str, _Tracked] = {}
        self._lock = threading.Lock()  # one flush at a time: two would add the same delta twice
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._outage_log = ThrottledLog(log)

    @property
    def shared(self) -> bool:
        """Are the totals every process's (Redis configured)?"""
        return self._client is not None

    def track(self, name: str, source: Source) -> None:
        """Count ``source`` under ``name`` from now on; a source it replaces is flushed first."""
        with self._lock:
            previous = self._tracked.get(name)
            if previous is not None:
                self._flush_locked({name: previous})
            self._tracked[name] = _Tracked(source, self._clock())

    def totals(self, name: str) -> dict[str, int]:
        """The counters of ``name`` summed over every process, and ``since`` (epoch seconds).

        This process's part is flushed first, so its own latest counts are in. With Redis
        unreachable, the counts of this process alone (the outage is logged).
        """
        with self._lock:
            tracked = self._tracked.get(name)
            own = dict(tracked.source()) if tracked is not None else {}
            own[SINCE] = int(tracked.since) if tracked is not None else int(self._clock())
            if self._client is None:
                return own
            if tracked is not None and not self._flush_locked({name: tracked}):
                return own
            try:
                pipe = self._client.pipeline(transaction=False)
                pipe.hgetall(self._keys.stats(name))
                pipe.zscore(self._keys.stats(f"{name}:since"), SINCE)
                stored, since = pipe.execute()
            except redis.exceptions.RedisError as exc:
                self._outage_log.warning("stats: Redis unreachable, showing this process's counts (%s: %s)",
                                         exc.__class__.__name__, exc)
                return own
        if since is None:
            return own
        return {**{field: int(value) for field, value in stored.items()}, SINCE: int(since)}

    def flush(self) -> bool:
        """Add what every source counted since the last flush to Redis; False if Redis failed."""
        with self._lock:
            return self._flush_locked(dict(self._tracked))

    def start(self) -> None:
        """Flush once every ``flush_every`` seconds on a thread of its own (only with Redis)."""
        if self._client is None or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="plugbot-counters", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after a last flush, so a stopping process's counts are not lost."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(10)
        if self._client is not None:
            self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self._flush_every):
            self.flush()

    def _flush_locked(self, tracked: dict[str, _Tracked]) -> bool:
        if self._client is None:
            return True
        pending: list[tuple[_Tracked, dict[str, int]]] = []
        pipe = self._client.pipeline(transaction=False)
        for name, entry in tracked.items():
            counts = entry.source()
            delta = {field: value - entry.flushed.get(field, 0) for field, value in counts.items()}
            delta = {field: n for field, n in delta.items() if n}
            if not delta and entry.announced:
                continue
            key = self._keys.stats(name)
            # The earliest start of any process (ZADD LT keeps the smaller score), not the first to flush.
            pipe.zadd(self._keys.stats(f"{name}:since"), {SINCE: int(entry.since)}, lt=True)
            for field, n in delta.items():
                pipe.hincrby(key, field, n)
            pending.append((entry, counts))
        if not pending:
            return True
        try:
            pipe.execute()
        except redis.exceptions.RedisError as exc:
            # Nothing is marked flushed: the next flush adds these counts again. A reply lost after
            # Redis applied them would count them twice, a rare error on the side of "more".
            self._outage_log.warning("stats: Redis unreachable, counts kept for the next flush (%s: %s)",
                                     exc.__class__.__name__, exc)
            return False
        for entry, counts in pending:
            entry.flushed = dict(counts)
            entry.announced = True
        return True
