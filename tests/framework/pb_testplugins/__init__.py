"""Shared helpers for the core-services integration tests (issue 3) and two small test plugins.

``pb_testplugins.notes`` and ``pb_testplugins.probe`` are plugins loaded by dotted path,
like any third-party plugin; the helpers here build bots on either backend:

* ``memory``  -- in-memory sessions, rate limits and cache, SQLite database;
* ``redis``   -- Redis (under the test's key prefix) and a throwaway PostgreSQL database.
"""
from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS_FRAMEWORK = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(TESTS_FRAMEWORK))
HELLO_PATH = os.path.join(ROOT, "examples", "hello")

HELLO = {"hello": {"module": "plugbot_hello"}}
NOTES = {"notes": {"module": "pb_testplugins.notes"}}
PROBE = {"probe": {"module": "pb_testplugins.probe"}}

BACKENDS = [
    pytest.param("memory", id="memory+sqlite"),
    pytest.param("redis", id="redis+postgres", marks=[pytest.mark.redis, pytest.mark.postgres]),
]


def build(bot_factory: Any, backend: str, monkeypatch: pytest.MonkeyPatch, *plugin_sets: dict[str, Any],
          **kwargs: Any) -> Any:
    """A started test bot on ``backend`` with the given plugin sections merged."""
    monkeypatch.syspath_prepend(HELLO_PATH)
    monkeypatch.syspath_prepend(TESTS_FRAMEWORK)
    plugins: dict[str, Any] = {}
    for plugin_set in plugin_sets:
        plugins.update(plugin_set)
    if backend == "redis":
        kwargs.setdefault("database", "postgres")
        kwargs.setdefault("redis", True)
    return bot_factory(plugins=plugins, **kwargs)


def restart(bot_factory: Any, bot: Any, monkeypatch: pytest.MonkeyPatch, *plugin_sets: dict[str, Any],
            **kwargs: Any) -> Any:
    """A second application on the same database (and Redis prefix, if any): a restart, or a
    second process. Its update ids continue after the first bot's, as Telegram's would."""
    config = bot.app.config
    if config["redis"]["url"]:
        kwargs.setdefault("redis", True)
        kwargs.setdefault("redis_prefix", config["redis"]["prefix"])
    second = build(bot_factory, "memory", monkeypatch, *plugin_sets, db_url=config["database"]["url"], **kwargs)
    second._update_ids = itertools.count(next(bot._update_ids) + 10_000)
    return second


def texts(replies: list[Any]) -> list[str]:
    return [r.text for r in replies if r.text]


class QueryLog(logging.Handler):
    """Collects the SQL peewee logs at DEBUG (one record per executed statement)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.msg
        self.statements.append(message[0] if isinstance(message, tuple) else str(message))

    def touching(self, table: str) -> list[str]:
        return [sql for sql in self.statements if f'"{table}"' in sql]


@contextmanager
def count_queries() -> Iterator[QueryLog]:
    logger = logging.getLogger("peewee")
    handler = QueryLog()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
