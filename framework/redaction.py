"""What the process may show of a secret (nothing) and of an error (its reason, in words).

Every secret the process knows — the bot token, the webhook secret, each LLM API key, the
passwords in the database and Redis URLs — is registered here once, in every form it can take
in text: raw, without the whitespace an env file left around it, URL-quoted (a request URL),
backslash-escaped (a ``repr`` or a JSON string: requests quotes a bad header that way). The
token's secret half is registered on its own too, so no way of splitting the token shows it.

:func:`redact` is then applied wherever text leaves the process: log records
(:mod:`framework.logs`), every message the bot sends (:class:`framework.sender.Sender`),
exception text stored in the database (plugin states, job runs, the heartbeat), the command
line's stdout and stderr (:func:`redacting_streams`) and uncaught tracebacks
(:func:`install_excepthooks`). A secret leaks most often through an exception message that
quotes a request URL (``.../bot123:ABC/sendMessage``), which no call site can scrub itself,
so redaction happens at those exits rather than where text is made.

:func:`describe_error` turns an exception into the words an operator acts on
(``connection refused``) and :func:`error_text` into ``Class: message``; both are redacted.
"""
from __future__ import annotations

import errno
import io
import json
import re
import socket
import sys
import threading
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TextIO
from urllib.parse import quote, quote_plus, unquote, urlsplit

REDACTED = "***"

MIN_LENGTH = 4
"""Shorter values are not redacted: replacing every ``a`` or ``12`` would make text unreadable,
and a secret that short protects nothing anyway."""

URL_PASSWORD_ALONE = 8
"""A URL's password is always redacted inside its URL (``bot:***@db``), and on its own too from
this length on."""

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


# -- knowing the secrets --------------------------------------------------------------------------


def forms(value: str) -> set[str]:
    """Every way ``value`` can appear in text: raw, stripped, URL-quoted, backslash-escaped."""
    found: set[str] = set()
    for text in {value, value.strip()}:
        if not text:
            continue
        found.update({text, quote(text, safe=""), quote(text), quote_plus(text),
                      repr(text)[1:-1], json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]})
    return {form for form in found if len(form) >= MIN_LENGTH}


def register_secret(value: str | None) -> None:
    """Never show ``value`` again, in any of its :func:`forms`.

    Empty and non-string values are ignored, so optional settings can be registered blindly.
    """
    if isinstance(value, str) and value.strip():
        _register_forms(forms(value))


def _register_forms(new: set[str]) -> None:
    global _pattern
    if not new:
        return
    with _lock:
        if new <= _secrets:
            return
        _secrets.update(new)
        # Longest first, so a secret containing another one is replaced whole.
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(secret) for secret in ordered))


def known_secrets() -> frozenset[str]:
    """The secrets registered so far (every form); with :func:`keep_only` a test undoes its own."""
    with _lock:
        return frozenset(_secrets)


def keep_only(secrets: frozenset[str]) -> None:
    """Forget every secret registered since :func:`known_secrets` gave ``secrets``.

    For tests: the registry lives as long as the process, so a fake key one test registers
    ("short") would otherwise be blanked out of every later test's messages ("Please ***en it").
    """
    global _pattern
    with _lock:
        _secrets.intersection_update(secrets)
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(secret) for secret in ordered)) if ordered else None


def register_token(token: str | None) -> None:
    """A bot token, and its secret half on its own (the bot id before the colon is public)."""
    if not isinstance(token, str):
        return
    register_secret(token)
    _, _, secret = token.strip().partition(":")
    register_secret(secret)


def register_url_password(url: str | None) -> None:
    """The password of a ``scheme://user:password@host/...`` URL, quoted as written and unquoted."""
    if not isinstance(url, str) or "@" not in url:
        return
    try:
        netloc = urlsplit(url.strip()).netloc
    except ValueError:
        netloc = url.split("://", 1)[-1].split("/", 1)[0]
    userinfo = netloc.rpartition("@")[0]
    if ":" in userinfo:
        password = userinfo.split(":", 1)[1]
        for text in {password, unquote(password)}:
            # In its URL whatever its length; alone only when long enough not to be a common word
            # (a development "secret" must not blank that word out of every message the bot sends).
            _register_forms(forms(f":{text}@") | (forms(text) if len(text) >= URL_PASSWORD_ALONE else set()))


def register_config(config: Mapping[str, Any]) -> None:
    """Every secret a config holds: the token, the webhook secret, the database and Redis passwords.

    Tolerates a config that failed validation (a section of the wrong type), so the values of a
    broken config are known before its errors are printed.
    """
    def get(*path: str) -> Any:
        node: Any = config
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        return node

    register_token(get("telegram", "token"))
    register_secret(get("telegram", "webhook", "secret_token"))
    register_url_password(get("database", "url"))
    register_url_password(get("redis", "url"))


# -- hiding them ---------------------------------------------------------------------------------


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    pattern = _pattern
    if pattern is None or not text or not isinstance(text, str):
        return text
    return pattern.sub(_replacement, text)


TEXT_PARAMS = ("text", "caption")
"""The parameters of a Bot API call that a person reads."""


def redact_call(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` of a Bot API call with its texts redacted (the same dict when there is nothing to do):
    an error text a handler or an admin notice quotes must reach no chat, nor the stored outbox."""
    changed = {name: redact(params[name]) for name in TEXT_PARAMS if isinstance(params.get(name), str)}
    if all(changed[name] == params[name] for name in changed):
        return params
    return {**params, **changed}


def _replacement(match: re.Match[str]) -> str:
    found = match.group()
    return f":{REDACTED}@" if found.startswith(":") and found.endswith("@") else REDACTED  # a URL stays readable


def error_text(exc: BaseException) -> str:
    """``ValueError: the message`` with the secrets removed: what is stored and shown of a failure."""
    return redact(f"{exc.__class__.__name__}: {exc}")


class RedactingStream(io.TextIOBase):
    """A text stream that redacts what is written before passing it on (the CLI's stdout, stderr).

    Lines are written whole by ``print`` and ``traceback``, so a secret is never split across
    two writes in practice.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def __getattr__(self, name: str) -> Any:  # buffer, line_buffering...: the wrapped stream's
        return getattr(self._stream, name)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", "utf-8")

    @property
    def wrapped(self) -> TextIO:
        return self._stream


def redacting_streams() -> None:
    """Redact everything this process prints to stdout and stderr (idempotent)."""
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)  # type: ignore[assignment]
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)  # type: ignore[assignment]


def _print_redacted(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None,
                    heading: str = "") -> None:
    text = heading + "".join(traceback.format_exception(exc_type, exc, tb))
    stream = sys.stderr
    if stream is not None:
        stream.write(redact(text))
        stream.flush()


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    _print_redacted(exc_type, exc, tb)


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    _print_redacted(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback,
                    f"Exception in thread {name}:\n")


def install_excepthooks() -> None:
    """Uncaught tracebacks (main thread and others) are printed redacted (idempotent)."""
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook


# -- errors in words ---------------------------------------------------------------------------------

_ERRNO_WORDS = {errno.ECONNREFUSED: "connection refused", errno.ETIMEDOUT: "timed out",
                errno.EHOSTUNREACH: "host unreachable", errno.ENETUNREACH: "network unreachable",
                errno.ECONNRESET: "connection reset", errno.EACCES: "permission denied",
                errno.ENOENT: "no such file or directory"}


def describe_error(exc: BaseException) -> str:
    """What went wrong, in an operator's words: ``connection refused``,
    ``database "bot" does not exist``, ``timed out`` — never just an exception class,
    never a secret."""
    return redact(_reason(exc))


def _reason(exc: BaseException) -> str:
    for cause in _chain(exc):
        if isinstance(cause, socket.gaierror):
            return "unknown host"
        if isinstance(cause, TimeoutError | socket.timeout):
            return "timed out"
        if isinstance(cause, OSError) and cause.errno in _ERRNO_WORDS:
            return _ERRNO_WORDS[cause.errno]
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror[:1].lower() + cause.strerror[1:]  # "not a directory", "no space left on device"
    text = str(exc).strip()
    first = text.splitlines()[0].strip() if text else ""
    if "failed: " in first:  # libpq: connection to server at "h", port 5432 failed: <why>
        first = first.rsplit("failed: ", 1)[1]
    first = re.sub(r"^(FATAL|ERROR):\s+", "", first)
    redis = re.match(r"Error -?\d+ connecting to \S+?\.\s+(.*)$", first)  # redis-py's connection errors
    if redis:
        first = redis.group(1)
    lowered = first.lower().rstrip(".")
    if "timeout" in lowered or "timed out" in lowered:
        return "timed out"
    if "name or service not known" in lowered or "could not translate host name" in lowered:
        return "unknown host"
    if not lowered:
        return f"unexpected {exc.__class__.__name__} with no message"
    first = first.rstrip(".")
    return first if first[:2].isupper() else first[:1].lower() + first[1:]  # keep "SSL ..." as written


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
