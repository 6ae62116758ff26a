"""Conversation state: which step of which plugin's dialogue a user is in.

Keys (the spec's contract; a backend ``prefix`` is prepended to each):

* ``user:{telegram_id}:state``        ``"{owner}:{STATE}"``, TTL ``ttl`` (300 s)
* ``user:{telegram_id}:temp_data``    JSON object, same TTL
* ``active_sessions``                 SET of telegram ids with a live state
* ``user:{telegram_id}:conversation`` ``"{owner}|{command}"``, TTL ``marker_ttl`` (1800 s)
* ``user:{telegram_id}:expires``      ``"{state deadline} {conversation deadline}"``, TTL ``marker_ttl``

Whether a state or a conversation marker is still live is decided against the
application's clock (``clock``, epoch seconds): a test that moves the clock six
minutes on sees the conversation time out, on Redis too. Redis keeps its TTLs
only to collect the keys of users who never come back; the ``expires`` key
holds both deadlines, written with every save. A value without one (written by
an older version) is live for as long as Redis keeps it.

The owner (a plugin name) is stored inside the state value so the key names
stay exactly as specified. A state belongs to one plugin: a plugin must act on
``session.state`` (and ``session.data``) only when ``session.owner`` is its own
name -- :meth:`Session.state_for` does that check -- so two plugins never react
to each other's dialogue steps.

The conversation marker outlives the state so that, after a timeout, the bot
can say "your /add timed out, please start again" instead of treating the
user's next message as unrelated text.

Two backends with one interface: :class:`MemorySessionStore` (one process,
lost on restart) and :class:`RedisSessionStore` (shared by processes, survives
restarts). :func:`make_session_store` picks one from the configuration.
"""
from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

from .redisconn import Keys, require_decoded_responses, unavailable_on_outage

DEFAULT_TTL = 300
DEFAULT_MARKER_TTL = 1800


@dataclass
class Session:
    """A user's conversation state as loaded; ``state``/``owner`` are None when there is none."""

    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    owner: str | None = None
    # (owner, command) of a conversation that timed out -- what expired_conversation() answers --
    # read in the same round trip as the state, because the pipeline asks on every idle text.
    expired: tuple[str, str] | None = field(default=None, compare=False)

    def state_for(self, plugin: str) -> str | None:
        """The state if ``plugin`` owns it, else None: the ownership check every plugin must make."""
        return self.state if self.owner == plugin else None


def check_json_data(data: Mapping[str, Any]) -> None:
    """Raise TypeError naming the offending key unless ``data`` survives a JSON round trip unchanged.

    Only dict (str keys), list, str, int, float, bool and None pass. Tuples,
    Decimals, dates and non-str keys are refused rather than silently converted,
    because the caller would load back something different from what it saved
    (money: store ``str(decimal)`` and parse it back).
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"temp_data must be a dict, got {type(data).__name__}")
    for key, value in data.items():
        _check_json_value(value, key)


def _check_json_value(value: Any, path: Any) -> None:
    if value is None or isinstance(value, (str, bool, int, float)):
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_json_value(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"temp_data key {path!r} has a non-str key {key!r}: JSON keys must be str")
            _check_json_value(item, f"{path}.{key}")
        return
    raise TypeError(
        f"temp_data key {path!r} holds {type(value).__name__}, which is not JSON: "
        "store it as a str (e.g. str(Decimal)) or a number"
    )


def _encode_state(owner: str, state: str) -> str:
    if not owner or ":" in owner or "|" in owner:
        raise ValueError(f"owner must be a non-empty plugin name without ':' or '|', got {owner!r}")
    if not state:
        raise ValueError("state must be a non-empty string; use clear() to end a conversation")
    return f"{owner}:{state}"


def _decode(state_value: str | None, data_value: str | None, marker_value: str | None = None) -> Session:
    if state_value is None:
        return Session(expired=_split_marker(marker_value))
    owner, sep, state = state_value.partition(":")
    data = json.loads(data_value) if data_value else {}
    if not sep:
        return Session(state=state_value, data=data, owner=None)
    return Session(state=state, data=data, owner=owner)


def _split_marker(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    owner, _, command = value.partition("|")
    return owner, command


class SessionStore(ABC):
    """The interface both backends implement; validation and encoding live here once."""

    def __init__(self, ttl: int, marker_ttl: int, prefix: str) -> None:
        if ttl <= 0:
            raise ValueError(f"session ttl must be positive, got {ttl}")
        if marker_ttl < ttl:
            raise ValueError(f"marker_ttl ({marker_ttl}) must be >= ttl ({ttl}) to outlive the state")
        self.ttl = ttl
        self.marker_ttl = marker_ttl
        self.keys = Keys(prefix)

    def _encode(self, state: str, data: Mapping[str, Any] | None, owner: str,
                command: str | None) -> tuple[str, str, str | None]:
        data = {} if data is None else data
        check_json_data(data)
        marker = None if command is None else f"{owner}|{command}"
        return _encode_state(owner, state), json.dumps(data, ensure_ascii=False), marker

    @abstractmethod
    def load(self, telegram_id: int) -> Session:
        """The live session, or an empty :class:`Session` when none (or it expired)."""

    @abstractmethod
    def save(self, telegram_id: int, state: str, data: Mapping[str, Any] | None, owner: str,
             command: str | None = None) -> None:
        """Set state and temp_data (both TTL ``ttl``) and mark the user active.

        Pass ``command`` when a conversation starts (e.g. ``"add"``): it writes
        the conversation marker. Later saves by the same owner without it keep
        the marker's command and extend its TTL, so a long but active dialogue
        is still recognised when it finally times out. A save by another owner
        without a command drops the marker: that conversation was abandoned,
        not timed out.
        """

    @abstractmethod
    def clear(self, telegram_id: int) -> None:
        """End the conversation: state, temp_data and marker are removed."""

    @abstractmethod
    def active(self) -> set[int]:
        """Telegram ids with a live state; ids whose state expired are pruned from the set."""

    @abstractmethod
    def expired_conversation(self, telegram_id: int) -> tuple[str, str] | None:
        """``(owner, command)`` of a conversation that timed out, or None while it is live or was cleared."""

    @abstractmethod
    def forget_expired(self, telegram_id: int) -> None:
        """Drop the timed-out marker, once the user has been told about it."""


class MemorySessionStore(SessionStore):
    """Sessions in this process's memory: for development, tests and single-process bots.

    Mirrors the Redis keyspace (same keys, same TTL rules) on an injectable
    clock (the application passes its own) so expiry is tested without sleeping. Expired entries are dropped when
    read and swept every ``SWEEP_EVERY`` saves, so users who never come back do
    not accumulate.
    """

    SWEEP_EVERY = 1024

    def __init__(self, ttl: int = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic, *,
                 marker_ttl: int = DEFAULT_MARKER_TTL, prefix: str = "") -> None:
        super().__init__(ttl, marker_ttl, prefix)
        self._clock = clock
        self._values: dict[str, tuple[str, float]] = {}
        self._active: set[int] = set()
        self._lock = threading.Lock()
        self._saves = 0

    def _get(self, key: str) -> str | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._values[key]
            return None
        return entry[0]

    def _set(self, key: str, value: str, ttl: int) -> None:
        self._values[key] = (value, self._clock() + ttl)

    def _sweep(self) -> None:
        self._saves += 1
        if self._saves % self.SWEEP_EVERY == 0:
            now = self._clock()
            self._values = {key: entry for key, entry in self._values.items() if entry[1] > now}

    def load(self, telegram_id: int) -> Session:
        keys = self.keys
        with self._lock:
            return _decode(self._get(keys.state(telegram_id)), self._get(keys.temp_data(telegram_id)),
                           self._get(keys.conversation(telegram_id)))

    def save(self, telegram_id: int, state: str, data: Mapping[str, Any] | None, owner: str,
             command: str | None = None) -> None:
        state_value, data_value, marker = self._encode(state, data, owner, command)
        keys = self.keys
        with self._lock:
            self._set(keys.state(telegram_id), state_value, self.ttl)
            self._set(keys.temp_data(telegram_id), data_value, self.ttl)
            if marker is None:
                marker = self._get(keys.conversation(telegram_id))
                if marker is not None and not marker.startswith(owner + "|"):
                    self._values.pop(keys.conversation(telegram_id))
                    marker = None
            if marker is not None:
                self._set(keys.conversation(telegram_id), marker, self.marker_ttl)
            self._active.add(int(telegram_id))
            self._sweep()

    def clear(self, telegram_id: int) -> None:
        keys = self.keys
        with self._lock:
            for key in (keys.state(telegram_id), keys.temp_data(telegram_id), keys.conversation(telegram_id)):
                self._values.pop(key, None)
            self._active.discard(int(telegram_id))

    def active(self) -> set[int]:
        with self._lock:
            self._active = {tid for tid in self._active if self._get(self.keys.state(tid)) is not None}
            return set(self._active)

    def expired_conversation(self, telegram_id: int) -> tuple[str, str] | None:
        with self._lock:
            if self._get(self.keys.state(telegram_id)) is not None:
                return None
            return _split_marker(self._get(self.keys.conversation(telegram_id)))

    def forget_expired(self, telegram_id: int) -> None:
        with self._lock:
            self._values.pop(self.keys.conversation(telegram_id), None)


# Remove set members whose state is gone -- its key collected, or its deadline (the first number of
# the member's ``expires`` key) not after ARGV[1], the application's time -- atomically per check,
# so a save() racing with the prune is never dropped. KEYS[1] = the set, then per member ARGV[i+1]:
# KEYS[2i] its state key, KEYS[2i+1] its expires key. Returns the removed members.
_PRUNE_ACTIVE = """
local now = tonumber(ARGV[1])
local removed = {}
for i = 2, #ARGV do
  local live = redis.call('EXISTS', KEYS[2 * i - 2]) == 1
  if live then
    local expires = redis.call('GET', KEYS[2 * i - 1])
    if expires then
      local deadline = tonumber(string.match(expires, '^(%S+)'))
      live = deadline == nil or deadline > now
    end
  end
  if not live then
    redis.call('SREM', KEYS[1], ARGV[i])
    removed[#removed + 1] = ARGV[i]
  end
end
return removed
"""

_PRUNE_BATCH = 500

# Refresh the marker if ARGV[1] (the owner) owns it, else drop it. Sent as EVAL
# inside the save() transaction: EVALSHA would cost redis-py a SCRIPT EXISTS
# round trip per pipeline.
_REFRESH_MARKER = """
local marker = redis.call('GET', KEYS[1])
if not marker then
  return 0
end
if string.sub(marker, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. '|' then
  return redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return redis.call('DEL', KEYS[1])
"""


def _deadlines(value: str | None) -> tuple[float, float] | None:
    """``(state, conversation)`` deadlines from an ``expires`` value; None when absent or unreadable."""
    if value is None:
        return None
    try:
        state, conversation = (float(part) for part in value.split())
    except ValueError:
        return None
    return state, conversation


class RedisSessionStore(SessionStore):
    """Sessions in Redis: shared by every process of the bot and kept across restarts.

    ``clock`` (epoch seconds; the application passes its own) decides expiry,
    so every process sharing the keys must run on the same wall clock.
    Outages raise :class:`framework.redisconn.ServiceUnavailable`.
    """

    def __init__(self, client: redis.Redis, ttl: int = DEFAULT_TTL, prefix: str = "", *,
                 marker_ttl: int = DEFAULT_MARKER_TTL, clock: Callable[[], float] = time.time) -> None:
        super().__init__(ttl, marker_ttl, prefix)
        self._client = require_decoded_responses(client)
        self._clock = clock
        self._prune = client.register_script(_PRUNE_ACTIVE)

    def _live(self, state_value: str | None, marker_value: str | None, expires_value: str | None) -> tuple[str | None, str | None]:
        """The state and marker values that are live on the application's clock."""
        deadlines = _deadlines(expires_value)
        if deadlines is None:
            return state_value, marker_value
        now = self._clock()
        state_deadline, marker_deadline = deadlines
        return (state_value if state_deadline > now else None,
                marker_value if marker_deadline > now else None)

    def load(self, telegram_id: int) -> Session:
        keys = self.keys
        with unavailable_on_outage("sessions"):
            state_value, data_value, marker_value, expires_value = self._client.mget(
                [keys.state(telegram_id), keys.temp_data(telegram_id), keys.conversation(telegram_id),
                 keys.session_expires(telegram_id)]
            )
        state_value, marker_value = self._live(state_value, marker_value, expires_value)
        return _decode(state_value, data_value, marker_value)

    def save(self, telegram_id: int, state: str, data: Mapping[str, Any] | None, owner: str,
             command: str | None = None) -> None:
        state_value, data_value, marker = self._encode(state, data, owner, command)
        keys = self.keys
        now = self._clock()
        # Both deadlines on every save: a marker kept by _REFRESH_MARKER lives marker_ttl from now, and
        # a dropped one has no key left for its deadline to apply to.
        expires = f"{now + self.ttl:.3f} {now + self.marker_ttl:.3f}"
        with unavailable_on_outage("sessions"), self._client.pipeline(transaction=True) as pipe:
            pipe.set(keys.state(telegram_id), state_value, ex=self.ttl)
            pipe.set(keys.temp_data(telegram_id), data_value, ex=self.ttl)
            pipe.set(keys.session_expires(telegram_id), expires, ex=self.marker_ttl)
            pipe.sadd(keys.active_sessions(), int(telegram_id))
            if marker is not None:
                pipe.set(keys.conversation(telegram_id), marker, ex=self.marker_ttl)
            else:
                pipe.eval(_REFRESH_MARKER, 1, keys.conversation(telegram_id), owner, self.marker_ttl)
            pipe.execute()

    def clear(self, telegram_id: int) -> None:
        keys = self.keys
        with unavailable_on_outage("sessions"), self._client.pipeline(transaction=True) as pipe:
            pipe.delete(keys.state(telegram_id), keys.temp_data(telegram_id), keys.conversation(telegram_id),
                        keys.session_expires(telegram_id))
            pipe.srem(keys.active_sessions(), int(telegram_id))
            pipe.execute()

    def active(self) -> set[int]:
        with unavailable_on_outage("sessions"):
            members = sorted(self._client.smembers(self.keys.active_sessions()))
            removed: set[str] = set()
            now = repr(self._clock())
            for start in range(0, len(members), _PRUNE_BATCH):
                batch = members[start:start + _PRUNE_BATCH]
                keys = [self.keys.active_sessions()]
                for tid in batch:
                    keys += [self.keys.state(int(tid)), self.keys.session_expires(int(tid))]
                removed.update(self._prune(keys=keys, args=[now, *batch]))
        return {int(tid) for tid in members if tid not in removed}

    def expired_conversation(self, telegram_id: int) -> tuple[str, str] | None:
        keys = self.keys
        with unavailable_on_outage("sessions"):
            state_value, marker_value, expires_value = self._client.mget(
                [keys.state(telegram_id), keys.conversation(telegram_id), keys.session_expires(telegram_id)])
        state_value, marker_value = self._live(state_value, marker_value, expires_value)
        return None if state_value is not None else _split_marker(marker_value)

    def forget_expired(self, telegram_id: int) -> None:
        with unavailable_on_outage("sessions"):
            self._client.delete(self.keys.conversation(telegram_id))


def make_session_store(redis_client: redis.Redis | None, ttl: int = DEFAULT_TTL, prefix: str = "", *,
                       marker_ttl: int = DEFAULT_MARKER_TTL, clock: Callable[[], float] = time.time) -> SessionStore:
    """Redis-backed sessions when a client is configured, in-memory ones otherwise; both on ``clock``."""
    if redis_client is None:
        return MemorySessionStore(ttl, clock, marker_ttl=marker_ttl, prefix=prefix)
    return RedisSessionStore(redis_client, ttl, prefix, marker_ttl=marker_ttl, clock=clock)

