"""Structured logging: context fields on every line, and secrets never written.

A bot serves many chats on many threads, so a bare "handler failed" line is
useless: you need to know which update, chat, user and plugin it was about.
:func:`log_context` stores those fields in a :mod:`contextvars` variable (each
worker thread has its own), and the handler installed by
:func:`configure_logging` stamps them on every record written inside it,
whichever library wrote the record.

Secrets are redacted at the very end, on the formatted text, by the one redactor of
:mod:`framework.redaction` (``register_secret`` and ``redact`` are re-exported here).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, TextIO

import telebot

from .redaction import REDACTED, install_excepthooks, redact, register_secret

__all__ = ["FIELDS", "REDACTED", "ContextFilter", "JsonFormatter", "PlainFormatter", "SecretsFilter",
           "configure_logging", "current_context", "log_context", "record_fields", "redact", "register_secret"]

FIELDS: tuple[str, ...] = ("plugin", "handler", "update_id", "chat_id", "user_id", "job")
"""The well-known context fields, in the order they are written."""

HANDLER_NAME = "plugbot"

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_context: ContextVar[Mapping[str, Any]] = ContextVar("plugbot_log_context", default=_EMPTY)



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
    instead of being printed twice. Uncaught tracebacks are redacted too
    (:func:`framework.redaction.install_excepthooks`).
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
    install_excepthooks()  # a traceback nobody caught is written by Python itself, not by logging
    return handler
