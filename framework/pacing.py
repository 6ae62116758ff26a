"""Telegram's outgoing limits: how long a message must wait before it may leave.

Telegram allows a bot about 30 messages a second overall, one a second per private chat and 20 a
minute per group, and answers a bot that goes faster with ``429`` and a ``retry_after``. The
:class:`~framework.sender.Sender` asks a *pacing* before each message; two exist:

* :class:`LocalPacing` -- the limits of one process, in memory. Enough for one process; with
  several, each would allow itself the whole 30 a second and together they would trip the limit.
* :class:`RedisPacing` -- the limits of every process of the bot, kept in Redis under the bot's
  key prefix: one Lua script per message books the chat's slot and the bot's, so N processes
  together stay within them, and a 429 one process saw pauses the others.

:class:`FailoverPacing` puts the two together: Redis while it answers, the process's own limits
while it does not (a Redis outage must never cost a message), back to Redis once it answers again.

Pacing uses *reservations*: a caller books the next free slot and sleeps outside any lock (or
round trip) until it comes, so one slow chat never blocks the threads serving other chats.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Protocol

import redis

from .redisconn import Keys

log = logging.getLogger(__name__)

#: The key a pause of the whole bot is kept under (a 429 for the bot as a whole, not one chat).
EVERY_CHAT = "*"


class Pacing(Protocol):
    """What the sender needs from a pacing."""

    def throttle(self, chat: int | str | None, sleep: Callable[[float], None]) -> float:
        """Wait (through ``sleep``) until a message to ``chat`` may leave; return the seconds waited.
        ``chat`` None: a message with no chat to pace (only the bot-wide limits apply)."""

    def pause(self, chat: int | str | None, seconds: float) -> None:
        """Telegram asked to leave ``chat`` (None: every chat) alone for ``seconds``."""


# -- one process ------------------------------------------------------------------------------


class _TokenBucket:
    """``rate`` calls a second with bursts of ``rate``; each reservation says how long to wait."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self._rate = rate
        self._clock = clock
        self._tokens = rate
        self._updated = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._rate, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            self._tokens -= 1  # may go negative: later callers queue behind this reservation
            return 0.0 if self._tokens >= 0 else -self._tokens / self._rate


class _ChatWindow:
    """At most ``count`` calls per ``period`` seconds for each chat (sliding window of booked slots)."""

    _PRUNE_EVERY = 1024

    def __init__(self, count: int, period: float, clock: Callable[[], float]) -> None:
        self._count = count
        self._period = period
        self._clock = clock
        self._slots: dict[Hashable, deque[float]] = {}
        self._reservations = 0
        self._lock = threading.Lock()

    def reserve(self, chat: Hashable) -> float:
        """Book the chat's next free slot; return the seconds to wait for it."""
        with self._lock:
            now = self._clock()
            slots = self._slots.setdefault(chat, deque(maxlen=self._count))
            slot = now
            if slots:
                slot = max(slot, slots[-1])  # keep each chat's calls in booking order
            if len(slots) == self._count:
                slot = max(slot, slots[0] + self._period)
            slots.append(slot)
            self._reservations += 1
            if self._reservations % self._PRUNE_EVERY == 0:
                self._prune(now)
            return slot - now

    def _prune(self, now: float) -> None:
        # Forget chats whose bookings can no longer delay anyone, so memory stays bounded.
        idle = [chat for chat, slots in self._slots.items() if not slots or slots[-1] + self._period <= now]
        for chat in idle:
            del self._slots[chat]


class _Pauses:
    """Chats Telegram told us to leave alone for a while (429 ``retry_after``)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._until: dict[Hashable, float] = {}
        self._lock = threading.Lock()

    def pause(self, chat: Hashable, seconds: float) -> None:
        with self._lock:
            until = self._clock() + seconds
            self._until[chat] = max(until, self._until.get(chat, until))

    def remaining(self, chat: Hashable) -> float:
        """Seconds ``chat`` is still paused for (expired pauses are forgotten)."""
        with self._lock:
            until = self._until.get(chat)
            if until is None:
                return 0.0
            left = until - self._clock()
            if left <= 0:
                del self._until[chat]
            return max(left, 0.0)


def is_private(chat: int | str) -> bool:
    """Private chats have positive ids; groups negative ones, channels ``@names`` too."""
    return isinstance(chat, int) and chat > 0


class LocalPacing:
    """Telegram's limits for this process alone. A limit set to ``None`` is not applied."""

    def __init__(self, *, global_per_second: float | None, private_interval: float | None,
                 group_per_minute: int | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._bucket = _TokenBucket(global_per_second, clock) if global_per_second else None
        self._private = _ChatWindow(1, private_interval, clock) if private_interval else None
        self._groups = _ChatWindow(group_per_minute, 60.0, clock) if group_per_minute else None
        self._pauses = _Pauses(clock)

    def throttle(self, chat: int | str | None, sleep: Callable[[float], None]) -> float:
        waited = 0.0
        paused = max(self._pauses.remaining(EVERY_CHAT), self._pauses.remaining(chat) if chat is not None else 0.0)
        if paused > 0:
            sleep(paused)
            waited += paused
        if chat is not None:
            window = self._private if is_private(chat) else self._groups
            booked = window.reserve(chat) if window is not None else 0.0
            if booked > 0:
                sleep(booked)
                waited += booked
        if self._bucket is not None:
            wait = self._bucket.reserve()
            if wait > 0:
                sleep(wait)
                waited += wait
        return waited

    def pause(self, chat: int | str | None, seconds: float) -> None:
        self._pauses.pause(EVERY_CHAT if chat is None else chat, seconds)


# -- every process, through Redis -------------------------------------------------------------

# All times in microseconds: integers exact in Lua's doubles for centuries, and fine enough that
# 30 a second (33,334 us apart) is not rounded up to 30.3.
# Both scripts start with `now` in microseconds: ARGV[1] when the caller gives a clock (tests),
# else the Redis server's, so hosts whose clocks differ still agree.
_NOW = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end"""

# KEYS[1] the bot-wide pause, KEYS[2] the chat's pause, KEYS[3] the chat's booked slots (a list,
# oldest first), KEYS[4] the bot-wide bucket's theoretical arrival time (GCRA).
# ARGV[1] now (empty: the server's clock, so hosts whose clocks differ still agree), ARGV[2] the
# chat's window size in messages (0: no window to book), ARGV[3] the window's length, ARGV[4] the
# bucket's interval between messages (0: no bot-wide limit), ARGV[5] the bucket's burst tolerance,
# ARGV[6] '1' when the caller has already waited for its chat's slot and any pause.
# The chat's slot is booked first, after any pause; the bot-wide slot only when the chat's slot is
# now: booking it for a moment in the future would hold back every other chat until then. A caller
# whose chat must wait sleeps, then runs the script again (ARGV[6] '1', no window) for the
# bot-wide slot alone, so a message takes two round trips at most.
# Returns {microseconds to wait, 1 if the bot-wide slot is booked (or there is no such limit) else 0}.
_RESERVE_SCRIPT = _NOW + """
local start = now
if ARGV[6] ~= '1' then
  local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
  if paused > start then start = paused end
  paused = tonumber(redis.call('GET', KEYS[2]) or '0')
  if paused > start then start = paused end
end
local count = tonumber(ARGV[2])
if count > 0 then
  local period = tonumber(ARGV[3])
  local last = tonumber(redis.call('LINDEX', KEYS[3], -1) or '0')
  if last > start then start = last end
  if redis.call('LLEN', KEYS[3]) >= count then
    local oldest = tonumber(redis.call('LINDEX', KEYS[3], -count))
    if oldest + period > start then start = oldest + period end
  end
  redis.call('RPUSH', KEYS[3], start)
  redis.call('LTRIM', KEYS[3], -count, -1)
  redis.call('PEXPIRE', KEYS[3], math.ceil((start - now + period) / 1000) + 1)
end
local interval = tonumber(ARGV[4])
if interval == 0 then return {start - now, 1} end
if start > now then return {start - now, 0} end
local tat = tonumber(redis.call('GET', KEYS[4]) or '0')
if tat < now then tat = now end
tat = tat + interval
redis.call('SET', KEYS[4], tat, 'PX', math.ceil((tat - now) / 1000) + 1000)
local wait = tat - now - tonumber(ARGV[5])
if wait < 0 then wait = 0 end
return {wait, 1}
"""

# KEYS[1] the pause; ARGV[1] now (empty: the server's clock), ARGV[2] its length. A longer pause
# already there is kept.
_PAUSE_SCRIPT = _NOW + """
local ends = now + tonumber(ARGV[2])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < ends then
  redis.call('SET', KEYS[1], ends, 'PX', math.ceil(tonumber(ARGV[2]) / 1000) + 1)
end
return 1
"""

_US = 1_000_000


class RedisPacing:
    """Telegram's limits for every process sharing ``client`` and ``prefix`` (keys ``sender:*``).

    One script round trip per message when its chat need not wait (the usual case), two when it
    must (the wait dwarfs the second trip). Times come from the Redis server's clock, so processes
    on hosts whose clocks differ still agree; ``clock`` (epoch seconds) replaces it in tests.
    Redis errors propagate: :class:`FailoverPacing` decides what an outage means.
    """

    def __init__(self, client: redis.Redis, prefix: str = "", *, global_per_second: float | None,
                 private_interval: float | None, group_per_minute: int | None,
                 clock: Callable[[], float] | None = None) -> None:
        self._keys = Keys(prefix)
        self._clock = clock
        self._reserve = client.register_script(_RESERVE_SCRIPT)
        self._pause = client.register_script(_PAUSE_SCRIPT)
        self._interval = math.ceil(_US / global_per_second) if global_per_second else 0
        # The bucket holds a second's worth of messages, as LocalPacing's: a burst of 30 at once.
        self._burst = round(global_per_second * self._interval) if global_per_second else 0
        self._private = (1, math.ceil(private_interval * _US)) if private_interval else None
        self._groups = (group_per_minute, 60 * _US) if group_per_minute else None

    def _now(self) -> str:
        return "" if self._clock is None else str(int(self._clock() * _US))

    def throttle(self, chat: int | str | None, sleep: Callable[[float], None]) -> float:
        window = None if chat is None else self._private if is_private(chat) else self._groups
        keys = [self._keys.sender_pause(EVERY_CHAT), self._keys.sender_pause(EVERY_CHAT if chat is None else chat),
                self._keys.sender_window(EVERY_CHAT if chat is None else chat), self._keys.sender_bucket()]
        count, period = window or (0, 0)
        wait_us, booked = self._reserve(keys=keys, args=[self._now(), count, period, self._interval, self._burst, 0])
        waited = int(wait_us) / _US
        if waited > 0:
            sleep(waited)
        if not int(booked):  # the chat's slot was in the future: now that it has come, the bot's
            wait_us, _ = self._reserve(keys=keys, args=[self._now(), 0, 0, self._interval, self._burst, 1])
            wait = int(wait_us) / _US
            if wait > 0:
                sleep(wait)
                waited += wait
        return waited

    def pause(self, chat: int | str | None, seconds: float) -> None:
        key = self._keys.sender_pause(EVERY_CHAT if chat is None else chat)
        self._pause(keys=[key], args=[self._now(), max(1, math.ceil(seconds * _US))])


class FailoverPacing:
    """:class:`RedisPacing` while Redis answers; ``local`` while it does not.

    A message never waits for Redis to come back, nor is dropped: the process paces itself alone,
    which keeps each process within the limits though not their sum, until ``retry_after``
    seconds have passed; then Redis is asked again. The switch is logged once each way.
    """

    def __init__(self, shared: RedisPacing, local: LocalPacing, *, retry_after: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._shared = shared
        self._local = local
        self._retry_after = retry_after
        self._clock = clock
        self._down_until: float | None = None
        self._lock = threading.Lock()

    @property
    def shared(self) -> bool:
        """Are the limits shared right now (Redis answered last time it was asked)?"""
        with self._lock:
            return self._down_until is None

    def throttle(self, chat: int | str | None, sleep: Callable[[float], None]) -> float:
        if self._use_shared():
            try:
                waited = self._shared.throttle(chat, sleep)
            except redis.exceptions.RedisError as exc:
                self._failed(exc)
            else:
                self._answered()
                return waited
        return self._local.throttle(chat, sleep)

    def pause(self, chat: int | str | None, seconds: float) -> None:
        self._local.pause(chat, seconds)  # kept here too: it still holds if Redis goes away
        if self._use_shared():
            try:
                self._shared.pause(chat, seconds)
            except redis.exceptions.RedisError as exc:
                self._failed(exc)
            else:
                self._answered()

    def _use_shared(self) -> bool:
        with self._lock:
            return self._down_until is None or self._clock() >= self._down_until

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            first = self._down_until is None
            self._down_until = self._clock() + self._retry_after
        if first:
            log.warning("sender: Redis unreachable (%s: %s); pacing this process alone until it answers",
                        exc.__class__.__name__, exc)

    def _answered(self) -> None:
        with self._lock:
            recovered = self._down_until is not None
            self._down_until = None
        if recovered:
            log.warning("sender: Redis answers again; Telegram's limits are shared with the other processes")
