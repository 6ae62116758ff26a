"""Every outgoing Bot API call goes through one :class:`Sender`.

Telegram limits a bot to about 30 messages a second overall, one a second
per private chat and 20 a minute per group, and answers a bot that goes
faster with ``429 Too Many Requests`` and a ``retry_after``. Handlers run on
many threads; if each called the API itself they would trip those limits
and each would need its own retry logic. The sender paces message-producing
calls, honours ``retry_after``, retries transient failures with bounded
backoff and turns every other failure into one exception, :class:`SendError`.

The limits live in a *pacing* (:mod:`framework.pacing`): this process's own,
or, with Redis, every process's together, so N processes of one bot stay
within them and a 429 one of them saw pauses the others.
"""
from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

import requests
import telebot
import urllib3
from telebot import apihelper, types

from .pacing import FailoverPacing, LocalPacing, Pacing, RedisPacing
from .redaction import redact, redact_call, register_token

if TYPE_CHECKING:
    from redis import Redis

    from .context import Outgoing

logger = logging.getLogger(__name__)

MESSAGE_LIMIT = 4096
"""Longest text of one message, in UTF-16 code units (the way Telegram counts)."""

# Methods that produce or change a message but are not paced like one.
_UNPACED = frozenset({"send_chat_action", "send_message_draft"})
_PACED_PREFIXES = ("send_", "edit_", "copy_", "forward_")
# Calls besides ``send_*`` whose success is reported to the ``on_sent`` listeners.
_REPORTED = frozenset({"edit_message_text", "edit_message_caption", "copy_message", "forward_message"})
# Parameters sent only with the first chunk of a split message (the reply reference).
_FIRST_CHUNK_ONLY = ("reply_parameters", "reply_to_message_id", "allow_sending_without_reply")

_NETWORK_ERRORS = (requests.exceptions.ConnectionError, requests.exceptions.Timeout)
_JSON = {"Content-Type": "application/json"}


class BotApi(Protocol):
    """The one thing the framework needs from a Bot API client.

    ``method`` is the pyTelegramBotAPI ``TeleBot`` method name
    (``send_message``, ``answer_callback_query``...), ``params`` its keyword
    arguments. :class:`TelebotApi` talks to Telegram; the console transport
    and the test fakes implement the same call.
    """

    def call(self, method: str, **params: Any) -> Any: ...


class SendError(Exception):
    """A call failed for good: refused by Telegram (4xx) or retries exhausted.

    ``error_code`` is Telegram's code (403: the user blocked the bot...) or
    ``None`` when the network failed. ``retry_after`` is the seconds a 429 asked to wait
    (only from :meth:`Sender.call_once`, which hands a 429 back instead of waiting it out).
    """

    def __init__(self, method: str, error_code: int | None, description: str,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{method} failed: {error_code if error_code is not None else 'network'} {description}")
        self.method = method
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after


class TelebotApi:
    """:class:`BotApi` backed by a real ``telebot.TeleBot``.

    The token is registered with :func:`framework.redaction.register_token`, so
    it cannot leak through an exception that quotes a request URL.
    ``API_URL``/``FILE_URL`` are module globals of pyTelegramBotAPI: one
    process talks to one Bot API server, the live application's (:meth:`bind`).
    """

    def __init__(self, token: str, api_url: str = "https://api.telegram.org") -> None:
        register_token(token)
        self.api_url = api_url.rstrip("/")
        self._token = token
        self.bot = telebot.TeleBot(token, threaded=False)
        self.bind()

    def bind(self) -> None:
        """Point pyTelegramBotAPI's process-wide URL and request sender at this API's server."""
        base = self.api_url
        apihelper.API_URL = base + "/bot{0}/{1}"
        apihelper.FILE_URL = base + "/file/bot{0}/{1}"
        if apihelper.CUSTOM_REQUEST_SENDER is None or isinstance(
                getattr(apihelper.CUSTOM_REQUEST_SENDER, "__self__", None), _Http):
            apihelper.CUSTOM_REQUEST_SENDER = _Http(base).request  # keep an operator's own sender

    def call(self, method: str, **params: Any) -> Any:
        """Run ``TeleBot.<method>(**params)``; ``get_updates`` returns raw update dicts.

        ``TeleBot.get_updates`` parses updates into objects that drop the
        original JSON, while the pipeline works on the dicts Telegram sent,
        so that one call goes to ``apihelper`` directly.
        """
        if method.startswith("_"):
            raise ValueError(f"not a Bot API method: {method!r}")
        if method == "get_updates":
            return apihelper.get_updates(self._token, **params)
        if method == "send_message" and params.keys() <= _PLAIN_SEND_MESSAGE:
            # TeleBot.send_message only adds its defaults (none are set on this TeleBot) and the
            # conversion of deprecated parameters (not among these): straight to apihelper, and the
            # answer is parsed into a Message only if someone reads more than its id and date.
            return _SentMessage(apihelper.send_message(self._token, **params))
        return getattr(self.bot, method)(**params)

    def __repr__(self) -> str:
        bot_id = self._token.split(":", 1)[0]
        return f"TelebotApi(bot={bot_id}:***, api_url={self.api_url!r})"


# The parameters of ``send_message`` that apihelper takes as TeleBot would pass them.
_PLAIN_SEND_MESSAGE = frozenset({
    "chat_id", "text", "reply_markup", "parse_mode", "disable_notification", "entities", "protect_content",
    "message_thread_id", "reply_parameters", "link_preview_options", "business_connection_id",
    "message_effect_id", "allow_paid_broadcast"})


class _SentMessage(types.Message):
    """The ``types.Message`` a sendMessage returned, built from Telegram's answer when first read.

    Most replies are never looked at; the pipeline's listeners read the id and the date only.
    Those two are taken at once, and any other attribute parses the whole answer the way
    ``TeleBot.send_message`` would have.
    """

    def __init__(self, answer: dict[str, Any]) -> None:  # no super().__init__(): that is the parsing put off
        self.__dict__["_answer"] = answer
        self.__dict__["message_id"] = answer.get("message_id")
        self.__dict__["date"] = answer.get("date")

    def __getattr__(self, name: str) -> Any:
        answer = self.__dict__.pop("_answer", None)
        if answer is None or name.startswith("__"):
            raise AttributeError(name)
        self.__dict__.update(types.Message.de_json(answer).__dict__)
        return getattr(self, name)


class _Answer:
    """What pyTelegramBotAPI reads of an HTTP answer (``requests.Response``'s names), from urllib3's."""

    __slots__ = ("status_code", "reason", "content")

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self.status_code = response.status
        self.reason = response.reason
        self.content = response.data

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class _Http:
    """The HTTP client behind pyTelegramBotAPI: one keep-alive connection pool, JSON bodies.

    A ``requests`` round (session merging, hooks, cookie jars, query-string encoding, and with
    the default ``trust_env`` the proxy variables, NO_PROXY, a CA bundle and ``~/.netrc`` looked
    up again) was most of the CPU of a reply (docs/performance.md). Every call goes to one Bot API
    server, so the calls go straight to urllib3, which requests itself wraps: one pool shared by
    the threads, the parameters as a JSON body, the environment read once here. Errors come out as
    the requests exceptions pyTelegramBotAPI and :class:`Sender` expect, with the same timeouts and
    no retries of urllib3's own (the sender decides). Uploads (files) and a proxy the environment
    names keep going through a requests session (per thread) with that proxy.
    """

    def __init__(self, api_url: str) -> None:
        self._proxies = requests.utils.get_environ_proxies(api_url)
        self._verify: str | bool = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self._local = threading.local()
        ca = self._verify if isinstance(self._verify, str) else requests.certs.where()  # requests' own default
        # More threads than connections still work: block=False opens a spare one and drops it after.
        self._pool = urllib3.PoolManager(maxsize=16, block=False, retries=False, ca_certs=ca,
                                         cert_reqs="CERT_REQUIRED")

    def request(self, method: str, url: str, params: dict[str, Any] | None = None, files: Any = None,
                timeout: Any = None, **kwargs: Any) -> Any:
        if files or self._proxies:
            return self._session_request(method, url, params=params, files=files, timeout=timeout, **kwargs)
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        verb = method.upper()
        body = headers = None
        if params and verb == "GET":
            url = f"{url}?{urlencode(params)}"
        elif params:
            body = json.dumps(params, separators=(",", ":")).encode()
            headers = _JSON
        try:
            return _Answer(self._pool.request(verb, url, body=body, headers=headers,
                                              timeout=urllib3.Timeout(connect=connect, read=read)))
        except urllib3.exceptions.ConnectTimeoutError as exc:
            raise requests.exceptions.ConnectTimeout(redact(str(exc))) from exc
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise requests.exceptions.ReadTimeout(redact(str(exc))) from exc
        except urllib3.exceptions.TimeoutError as exc:
            raise requests.exceptions.Timeout(redact(str(exc))) from exc
        except urllib3.exceptions.HTTPError as exc:  # refused, reset, closed mid-answer, TLS...
            raise requests.exceptions.ConnectionError(redact(str(exc))) from exc

    def _session_request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False
            session.proxies.update(self._proxies)
            session.verify = self._verify
        return session.request(method, url, **kwargs)


# -- pacing ----------------------------------------------------------------------------


def chat_key(chat_id: Any) -> int | str | None:
    """Normalise a ``chat_id`` parameter: ``"123"`` → ``123``; ``"@channel"`` stays a string."""
    if isinstance(chat_id, bool) or chat_id is None:
        return None
    if isinstance(chat_id, int):
        return chat_id
    if isinstance(chat_id, str):
        text = chat_id.strip()
        if text.lstrip("-").isascii() and text.lstrip("-").isdigit():  # "²".isdigit() is true, int("²") fails
            return int(text)
        return text or None
    return None


def is_paced(method: str) -> bool:
    """Does ``method`` produce a message (and so count against Telegram's message limits)?"""
    return method.startswith(_PACED_PREFIXES) and method not in _UNPACED


# -- long texts ----------------------------------------------------------------------------


def _fit(text: str, limit: int) -> int:
    """Length of the longest prefix of ``text`` that is at most ``limit`` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def _cut(text: str, end: int) -> tuple[int, int]:
    """Where to split ``text`` at or before ``end``: (chunk length, separator length to drop)."""
    for separator, earliest in (("\n\n", end // 2), ("\n", end // 2), (" ", 1)):
        position = text.rfind(separator, 0, end + len(separator))
        if position >= max(earliest, 1):
            return position, len(separator)
    return end, 0


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` UTF-16 units each.

    Cuts at a paragraph break, else a line break, else a space, else hard at
    the limit; whitespace-only chunks are dropped because Telegram refuses
    empty messages.
    """
    chunks: list[str] = []
    while True:
        end = _fit(text, limit)
        if end == len(text):
            chunks.append(text)
            break
        size, skip = _cut(text, end)
        chunks.append(text[:size])
        text = text[size + skip:]
    kept = [chunk for chunk in chunks if chunk.strip()]
    return kept or chunks[:1]


# -- the sender -------------------------------------------------------------------------------


class Sender:
    """Paces, retries and sends Bot API calls; safe to share between threads.

    A limit set to ``None`` is not applied (the console transport has no
    Telegram limits to respect). ``sleep`` and ``clock`` are injectable so
    tests check the pacing without waiting.

    With ``redis`` the limits are shared by every sender on that Redis and
    ``redis_prefix`` (every process of the bot), on the Redis server's clock
    (``shared_clock``, epoch seconds, replaces it in tests); while Redis is
    unreachable each process paces itself alone (:class:`~framework.pacing.FailoverPacing`).
    """

    def __init__(
        self,
        api: BotApi,
        *,
        global_per_second: float | None = 30,
        private_interval: float | None = 1.0,
        group_per_minute: int | None = 20,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        redis: Redis | None = None,
        redis_prefix: str = "",
        shared_clock: Callable[[], float] | None = None,
    ) -> None:
        self.api = api
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._sleep = sleep
        limits = {"global_per_second": global_per_second, "private_interval": private_interval,
                  "group_per_minute": group_per_minute}
        local = LocalPacing(clock=clock, **limits)
        # No limit at all (the console has no Telegram to respect): nothing worth a round trip.
        shared = redis is not None and any(limits.values())
        self.pacing: Pacing = local if not shared else FailoverPacing(
            RedisPacing(redis, redis_prefix, clock=shared_clock, **limits), local, clock=clock)
        self._random = random.Random()
        self._listeners: list[Callable[[str, dict[str, Any], Any], None]] = []
        self.failure_listeners: list[Callable[[Outgoing, SendError], None]] = []  # see deliver()
        self._stats_lock = threading.Lock()
        self._stats: dict[str, float] = {
            "calls": 0, "retries": 0, "flood_waits": 0, "failures": 0, "throttled": 0, "throttle_seconds": 0.0,
        }

    def on_sent(self, listener: Callable[[str, dict[str, Any], Any], None]) -> None:
        """Call ``listener(method, params, result)`` after each message Telegram accepted (a
        ``send_*`` call, or an edit of a message's text or caption), one call per chunk of a split
        text. It runs on the sending thread; an exception it raises is logged, never the caller's."""
        self._listeners.append(listener)

    @property
    def stats(self) -> dict[str, float]:
        """A snapshot: ``calls`` sent, ``retries``, ``flood_waits`` (429s), ``failures``
        (SendErrors raised), ``throttled`` calls and the ``throttle_seconds`` they waited."""
        with self._stats_lock:
            return dict(self._stats)

    def call(self, method: str, **params: Any) -> Any:
        """Send one call, blocking until it went through; return the API's result.

        ``send_message`` with a text over 4,096 characters is split (see
        :meth:`send_message`). Raises :class:`SendError` when Telegram refuses
        the call or the retries are exhausted.
        """
        if method == "send_message" and "chat_id" in params and "text" in params:
            return self.send_message(params.pop("chat_id"), params.pop("text"), **params)
        return self._send_one(method, params)

    def call_once(self, method: str, **params: Any) -> Any:
        """Like :meth:`call` for one message, but a 429 raises :class:`SendError` at once with its
        ``retry_after``, instead of pausing the one chat and retrying.

        For a sender of many messages in a row (a broadcast): Telegram's 429 then means the bot as
        a whole goes too fast, so the caller pauses everything it sends, not one chat. Pacing,
        network retries and 5xx retries are as for :meth:`call`; the text is not split.
        """
        return self._send_one(method, params, flood_raises=True)

    def send_message(self, chat_id: int | str, text: str, **params: Any) -> Any:
        """Send ``text``, split into several messages if it is too long; return the last result.

        The keyboard (``reply_markup``) goes with the last chunk, where the
        reader ends up; a reply reference goes with the first.
        """
        chunks = split_text(text)
        if len(chunks) > 1 and params.get("entities"):
            raise ValueError("cannot split a long message that carries explicit entities")
        markup = params.pop("reply_markup", None)
        result = None
        for index, chunk in enumerate(chunks):
            chunk_params = dict(params)
            if index > 0:
                for name in _FIRST_CHUNK_ONLY:
                    chunk_params.pop(name, None)
            if index == len(chunks) - 1 and markup is not None:
                chunk_params["reply_markup"] = markup
            result = self._send_one("send_message", {"chat_id": chat_id, "text": chunk, **chunk_params})
        return result

    def deliver(self, outbox: Iterable[Outgoing]) -> None:
        """Send an outbox (what an update or a job queued), in order: the one place one is sent.

        A call that fails for good is logged and the rest still go: the update or job that
        queued them has committed, and a user who blocked the bot must not cost others their reply.
        """
        for item in outbox:
            params = {k: v for k, v in item.params.items() if v is not None}
            try:
                self.call(item.method, **params)
            except SendError as exc:
                logger.warning("%s to %s failed: %s", item.method, params.get("chat_id"), exc)
                for listener in self.failure_listeners:  # e.g. the core marks a 403's user blocked
                    try:
                        listener(item, exc)
                    except Exception:  # noqa: BLE001 - the rest of the outbox must still go
                        logger.exception("failure listener %r failed", listener)

    # -- internals ------------------------------------------------------------------------------

    def _count(self, name: str, amount: float = 1) -> None:
        with self._stats_lock:
            self._stats[name] += amount

    def _send_one(self, method: str, params: dict[str, Any], flood_raises: bool = False) -> Any:
        chat = chat_key(params.get("chat_id")) if is_paced(method) else None
        params = redact_call(params)  # the last exit of the process
        attempt = 0
        while True:
            if is_paced(method):
                self._throttle(chat)
            try:
                result = self.api.call(method, **params)
            except (apihelper.ApiException, *_NETWORK_ERRORS) as exc:
                wait = retry_after(exc) if flood_raises else None
                if wait is not None:
                    self._count("flood_waits")
                    # Among many messages in a row a 429 means the bot as a whole goes too fast:
                    # every message of every process waits, not only the caller's.
                    self.pacing.pause(None, wait)
                    raise SendError(method, 429, _describe(exc)[1], retry_after=wait) from exc
                delay = self._retry_delay(method, exc, attempt, chat)
                attempt += 1
                self._count("retries")
                if delay > 0:
                    self._sleep(delay)
                continue
            self._count("calls")
            if self._listeners and (method in _REPORTED or method.startswith("send_")) and method not in _UNPACED:
                self._report(method, params, result)
            return result

    def _report(self, method: str, params: dict[str, Any], result: Any) -> None:
        for listener in self._listeners:
            try:
                listener(method, params, result)
            except Exception:  # noqa: BLE001 - the message went out; a listener cannot take that back
                logger.exception("listener %r failed on %s to %s", listener, method, params.get("chat_id"))

    def _throttle(self, chat: int | str | None) -> None:
        waited = self.pacing.throttle(chat, self._sleep)
        if waited > 0:
            self._count("throttled")
            self._count("throttle_seconds", waited)

    def _retry_delay(self, method: str, exc: Exception, attempt: int, chat: int | str | None) -> float:
        """Seconds to sleep before retrying ``exc``, or raise :class:`SendError` if it must not be.

        A 429 on a chat pauses the chat itself, so the retry (and every other
        thread writing to that chat) waits in :meth:`_throttle`.
        """
        code, description = _describe(exc)
        if code == 429:
            self._count("flood_waits")
            delay = retry_after(exc)
            if delay is None:  # a bare HTTP 429 (a proxy's), without Telegram's answer
                delay = 1.0
            if chat is not None:
                self.pacing.pause(chat, delay)
        elif code is None or code >= 500:
            delay = self._backoff(attempt)
        else:
            self._count("failures")
            raise SendError(method, code, description) from exc
        if attempt >= self.max_retries:
            self._count("failures")
            raise SendError(method, code, f"{description} (gave up after {self.max_retries} retries)") from exc
        logger.warning("%s failed (%s); retry %d/%d in %.1fs", method, exc, attempt + 1, self.max_retries, delay)
        return 0.0 if code == 429 and chat is not None else delay

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, so many threads do not retry in lockstep."""
        ceiling = min(self.backoff_max, self.backoff_base * 2**attempt)
        return ceiling * self._random.uniform(0.5, 1.0)


def _describe(exc: Exception) -> tuple[int | None, str]:
    """(HTTP/Telegram error code or ``None`` for network failures, description)."""
    if isinstance(exc, apihelper.ApiTelegramException):
        return exc.error_code, exc.description
    status = getattr(getattr(exc, "result", None), "status_code", None)
    if isinstance(exc, apihelper.ApiException) and isinstance(status, int) and status != 200:
        return status, str(exc)
    return None, str(exc)


def retry_after(exc: Exception) -> float | None:
    """Seconds a 429 answer asks to wait (``parameters.retry_after``, 1 if it names none); None if not a 429.

    Shared by the sender and the poller: both must wait exactly this long, as asking
    sooner only earns another 429.
    """
    if getattr(exc, "error_code", None) != 429:
        return None
    answer = getattr(exc, "result_json", None)
    parameters = answer.get("parameters") if isinstance(answer, dict) else None
    try:
        return max(0.0, float(parameters["retry_after"])) if isinstance(parameters, dict) else 1.0
    except (KeyError, TypeError, ValueError):
        return 1.0
