"""Tiny plugins the framework tests load by dotted path (``plugins_for_tests.<module>``).

Each module is a complete plugin for one situation: a dependency chain, a
required setting, an import that raises, an API range plugbot does not
provide (newer, or 1.x), a failing startup, a failing handler, an update
recorder, middleware, an update observer, decorated hooks, overrides of a
built-in command, and the load errors (a misspelt hook, a forgotten
``@hookimpl``, a module with no hook, an argument a hook does not pass). What
the hooks observe is appended to :data:`EVENTS`; tests call :func:`reset` first.
"""
from __future__ import annotations

import threading
from typing import Any

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
