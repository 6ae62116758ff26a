"""Structured logging: context fields on every line, and secrets never written.

A bot serves many chats on many threads, so a bare "handler failed" line is
useless: you need to know which update, chat, user and plugin it was about.
:func:`log_context` stores those fields in a :mod:`contextvars` variable (each
worker thread has its own), and the handler installed by
:func:`configure_logging` stamps them on every record written inside it,
whichever library wrote the record.

Secrets are redacted at the very end, on the formatted text: a bot token
leaks most often through an exception message that quotes a request URL
(``.../bot123:ABC/sendMessage``), which no call site can scrub itself.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, TextIO
from urllib.parse import quote

import telebot

FIELDS: tuple[str, ...] = ("plugin", "handler", "update_id", "chat_id", "user_id", "job")
"""The well-known context fields, in the order they are written."""

REDACTED = "***"
HANDLER_NAME = "plugbot"

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_context: ContextVar[Mapping[str, Any]] = ContextVar("plugbot_log_context", default=_EMPTY)

_secrets_lock = threading.Lock()
_secrets: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None


# -- context ------------------------------------------------------------------


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every record logged inside the block (nested blocks merge).

    ``None`` values are ignored, so callers can pass optional ids unconditionally.
    """
    merged = dict(_context.get())
    merged.update((key, value) for key, value in fields.items() if value is not None)
    token = _context.set(MappingProxyType(merged))
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, Any]:
    """A copy of the fields active in this thread/context."""
    return dict(_context.get())


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The context fields of ``record``: known ones first, in :data:`FIELDS` order.

    ``logger.info(..., extra={"job": "cleanup"})`` works too: well-known
    fields given as ``extra`` are picked up from the record itself.
    """
    fields = dict(getattr(record, "plugbot_context", None) or {})
    for name in FIELDS:
        value = getattr(record, name, None)
        if value is not None:
            fields.setdefault(name, value)
    known = [(name, fields.pop(name)) for name in FIELDS if name in fields]
    return dict(known + sorted(fields.items()))


class ContextFilter(logging.Filter):
    """Copies the active :func:`log_context` fields onto each record.

    It runs in the thread that logged (handler filters are called
    synchronously), so the fields are captured before any queueing.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "plugbot_context"):
            record.plugbot_context = current_context()
        return True


# -- secrets -------------------------------------------------------------------


def register_secret(value: str | None) -> None:
    """Never write ``value`` (nor its URL-quoted form) in a log line again.

    Empty values are ignored so optional settings can be registered blindly.
    """
    global _secret_pattern
    if not value:
        return
    with _secrets_lock:
        _secrets.update({value, quote(value, safe="")})
        # Longest first, so a secret containing another one is replaced whole.
        ordered = sorted(_secrets, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(re.escape(secret) for secret in ordered))


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    pattern = _secret_pattern
    if pattern is None or not text:
        return text
    return pattern.sub(REDACTED, text)


class SecretsFilter(logging.Filter):
    """Redacts the message and exception text of each record in place.

    The formatters below redact their output anyway; this filter also
    protects any other formatter attached to the same handler, because
    :class:`logging.Formatter` reuses the cached ``exc_text`` we rewrite.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is reported by the handler later
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


# -- formatters ------------------------------------------------------------------


def _plain_value(value: Any) -> str:
    text = str(value)
    if not text or any(ch.isspace() or ch in "=\"" for ch in text):
        return json.dumps(text, ensure_ascii=False)
    return text


class PlainFormatter(logging.Formatter):
    """``2024-01-01 12:00:00,000 INFO plugbot.pipeline: handled update_id=5 plugin=x``."""

    def __init__(self, fmt: str = "%(asctime)s %(levelname)s %(name)s: %(message)s") -> None:
        super().__init__(fmt)

    def formatMessage(self, record: logging.LogRecord) -> str:  # logging's camelCase name
        line = super().formatMessage(record)
        suffix = " ".join(f"{key}={_plain_value(value)}" for key, value in record_fields(record).items())
        return f"{line} {suffix}" if suffix else line

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``msg``, the fields, ``exc_info``."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in record_fields(record).items():
            payload.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exc_info"] = redact(record.exc_text)
        if record.stack_info:
            payload["stack_info"] = redact(self.formatStack(record.stack_info))
        return redact(json.dumps(payload, ensure_ascii=False, default=str))


# -- setup -------------------------------------------------------------------------


def configure_logging(level: str | int = "INFO", fmt: str = "plain", stream: TextIO | None = None) -> logging.Handler:
    """Install the plugbot handler on the root logger (replacing a previous one).

    Handlers installed by others (pytest's capture, for one) are left alone.
    pyTelegramBotAPI attaches its own stderr handler to the ``TeleBot``
    logger; it is removed so those records go through this one, redacted,
    instead of being printed twice.
    """
    if fmt not in ("plain", "json"):
        raise ValueError(f"logging format must be 'plain' or 'json', got {fmt!r}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.addFilter(ContextFilter())
    handler.addFilter(SecretsFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else PlainFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for own in list(telebot.logger.handlers):
        telebot.logger.removeHandler(own)
    return handler
