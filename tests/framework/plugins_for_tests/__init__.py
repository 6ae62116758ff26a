"""Tiny plugins the framework tests load by dotted path (``plugins_for_tests.<module>``), and the
helpers that build bots for them on either backend.

Each module is a complete plugin for one situation: a dependency chain, a
required setting, an import that raises, an API range plugbot does not
provide (newer, or 1.x), a failing startup, a failing handler, an update
recorder, middleware, an update observer, decorated hooks, overrides of a
built-in command, and the load errors (a misspelt hook, a forgotten
``@hookimpl``, a module with no hook, an argument a hook does not pass, a
``plugbot_plugin_info`` or config defaults that raise, a non-string
``api_version``, an invalid command name); ``leaky`` fails with an error
quoting secrets; ``notes``, ``probe`` and ``wizard`` exercise the core services. What the
hooks observe is appended to :data:`EVENTS`; tests call :func:`reset` first.

:func:`build` makes a bot on a backend:

* ``memory``  -- in-memory sessions, rate limits and cache, SQLite database;
* ``redis``   -- Redis (under the test's key prefix) and a throwaway PostgreSQL database.
"""
from __future__ import annotations

import itertools
import os
import threading
from typing import Any

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS_FRAMEWORK = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(TESTS_FRAMEWORK))
HELLO_PATH = os.path.join(ROOT, "examples", "hello")

HELLO = {"hello": {"module": "plugbot_hello"}}
NOTES = {"notes": {"module": "plugins_for_tests.notes"}}
PROBE = {"probe": {"module": "plugins_for_tests.probe"}}

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


EVENTS: list[tuple[str, Any]] = []
_lock = threading.Lock()


def record(kind: str, value: Any = None) -> None:
    with _lock:
        EVENTS.append((kind, value))


def events(kind: str) -> list[Any]:
    with _lock:
        return [value for k, value in EVENTS if k == kind]


def reset() -> None:
    with _lock:
        EVENTS.clear()
