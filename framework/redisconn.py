"""Redis connection, key naming and outage handling shared by sessions, rate limits and cache.

Three rules live here so the services cannot drift apart:

* one way to build a client (:func:`connect_redis`), tuned for a bot that must
  answer "temporarily unavailable" quickly instead of hanging on a dead server;
* one key scheme (:class:`Keys`): the spec fixes the key names, and an optional
  prefix lets tests and several bots share one Redis without colliding;
* one exception (:class:`ServiceUnavailable`) for "Redis is down", so the
  update pipeline catches a single class whatever service failed.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from .config import ConfigError
from .redaction import redact

log = logging.getLogger(__name__)

#: The errors that mean "the server is unreachable", as opposed to a bad command.
OUTAGE_ERRORS: tuple[type[Exception], ...] = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class ServiceUnavailable(RuntimeError):
    """A backing service (Redis) is unreachable; the user should be told to try again later."""


def connect_redis(
    url: str,
    *,
    socket_timeout: float = 5.0,
    connect_timeout: float = 3.0,
    health_check_interval: int = 30,
    retries: int = 2,
) -> redis.Redis | None:
    """Build a client for ``url``, or ``None`` when no Redis is configured (empty url).

    The client is lazy: nothing is sent until the first command, so a bot can
    start while Redis is still booting. Timeouts are short and retries few
    (exponential backoff with jitter, capped at 0.5 s) because every command
    runs while a user waits for an answer; after the retries the caller gets a
    ``ConnectionError`` that the services turn into :class:`ServiceUnavailable`.
    ``health_check_interval`` makes idle pooled connections PING before reuse,
    which catches connections silently dropped by a restarted server or NAT.
    A URL redis-py cannot read is a :class:`~framework.config.ConfigError`.
    """
    if not url:
        return None
    try:
        return redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=socket_timeout,
            socket_connect_timeout=connect_timeout,
            health_check_interval=health_check_interval,
            retry=Retry(ExponentialWithJitterBackoff(cap=0.5, base=0.05), retries),
        )
    except ValueError as exc:  # a scheme redis-py does not know, a port that is no number
        raise ConfigError([f"redis.url: {redact(str(exc))}"]) from None


def require_decoded_responses(client: redis.Redis) -> redis.Redis:
    """Return ``client`` if it decodes replies to str; the services parse replies as text.

    A client built without ``decode_responses=True`` would hand back bytes and
    fail later in an obscure place, so it is refused up front.
    """
    if not client.get_encoder().decode_responses:
        raise ValueError("the Redis client must be created with decode_responses=True (use connect_redis)")
    return client


@contextmanager
def unavailable_on_outage(what: str) -> Iterator[None]:
    """Translate redis-py's connection/timeout errors into :class:`ServiceUnavailable`.

    Other Redis errors (a wrong type, a script error) are bugs, not outages, and
    propagate unchanged.
    """
    try:
        yield
    except OUTAGE_ERRORS as exc:
        raise ServiceUnavailable(f"{what}: Redis is unreachable ({exc.__class__.__name__}: {exc})") from exc


class ThrottledLog:
    """Log a warning at most once per ``interval`` seconds.

    An outage produces one error per request; without throttling the log would
    drown in identical lines while telling nothing new.
    """

    def __init__(self, logger: logging.Logger, interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._last: float | None = None
        self._lock = threading.Lock()

    def warning(self, message: str, *args: object) -> bool:
        """Emit the warning unless one was emitted less than ``interval`` ago; return whether it was."""
        with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last < self._interval:
                return False
            self._last = now
        self._logger.warning(message, *args)
        return True


def escape_glob(text: str) -> str:
    """Escape Redis glob metacharacters so ``text`` matches literally in SCAN MATCH."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


class Keys:
    """The Redis key contract; with ``prefix=''`` the names are exactly the spec's.

    Every backend builds its keys here, so a prefix given once (``"bot1:"``,
    or a per-test prefix) isolates all of them.
    """

    #: The first part of every key the bot writes. A new kind of key adds its family here, or a
    #: restore would leave it behind (:func:`drop_bot_state`; a test checks every method).
    FAMILIES = ("user:", "ratelimit:", "cache:", "active_sessions", "update:", "lock:", "plugin:", "sender:",
                "stats:")

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    def patterns(self) -> list[str]:
        """SCAN MATCH patterns covering every key of this bot (and nothing of another prefix's)."""
        return [escape_glob(self.prefix + family) + ("*" if family.endswith(":") else "")
                for family in self.FAMILIES]

    def state(self, telegram_id: int) -> str:
        return f"{self.prefix}user:{int(telegram_id)}:state"

    def temp_data(self, telegram_id: int) -> str:
        return f"{self.prefix}user:{int(telegram_id)}:temp_data"

    def conversation(self, telegram_id: int) -> str:
        return f"{self.prefix}user:{int(telegram_id)}:conversation"

    def session_expires(self, telegram_id: int) -> str:
        """The deadlines of a user's state and conversation marker on the application's clock."""
        return f"{self.prefix}user:{int(telegram_id)}:expires"

    def active_sessions(self) -> str:
        return f"{self.prefix}active_sessions"

    def ratelimit(self, telegram_id: int, endpoint: str) -> str:
        return f"{self.prefix}ratelimit:{int(telegram_id)}:{endpoint}"

    def ratelimit_notified(self, telegram_id: int, endpoint: str) -> str:
        return f"{self.ratelimit(telegram_id, endpoint)}:notified"

    def ratelimit_window(self, telegram_id: int, endpoint: str) -> str:
        """When the current window of ``ratelimit(telegram_id, endpoint)`` ends (epoch ms, the application's clock)."""
        return f"{self.ratelimit(telegram_id, endpoint)}:window"

    def cache(self, key: str) -> str:
        return f"{self.prefix}cache:{key}"

    def sender_pause(self, chat: int | str) -> str:
        """Until when Telegram asked to leave ``chat`` alone (a 429); chat ``*``: the whole bot."""
        return f"{self.prefix}sender:pause:{chat}"

    def sender_window(self, chat: int | str) -> str:
        """The send slots booked for ``chat`` (Telegram's per-chat pacing, every process's)."""
        return f"{self.prefix}sender:window:{chat}"

    def sender_bucket(self) -> str:
        """The bot-wide message bucket (30 a second, every process's)."""
        return f"{self.prefix}sender:bucket"

    def stats(self, name: str) -> str:
        """Counters every process adds to (a hash: counter name -> total)."""
        return f"{self.prefix}stats:{name}"

    def cache_pattern(self, key_prefix: str) -> str:
        """SCAN MATCH pattern for every cache key starting with ``key_prefix``."""
        return escape_glob(self.cache(key_prefix)) + "*"


def drop_bot_state(client: redis.Redis, prefix: str = "") -> int:
    """Delete every key of the bot under ``prefix`` (cache, sessions, rate limits); return how many.

    For a restore: the cache names database rows (a user's row id) that the
    restored database may not have, so what Redis remembers must go with them.
    """
    deleted = 0
    for pattern in Keys(prefix).patterns():
        batch: list[str] = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += client.unlink(*batch)
                batch = []
        if batch:
            deleted += client.unlink(*batch)
    return deleted
