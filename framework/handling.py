"""What a handler's return means: it handled the update, unless it says ``SKIP``.

A handler that returns normally (``None`` or anything else) has handled its
update. Passing it on is explicit: ``return SKIP``, or ``raise Skip`` from
deep inside a helper. Where "on" leads depends on the kind of handler:

- text handler: the next text handler (by priority), if any;
- conversation state: the text handlers (a button press: "button no longer valid");
- content handler: the next content handler, then the caption as text;
- callback handler: the user is told the button is no longer valid;
- command and payment handlers: nothing else happens (a command has one owner).

What a skipping handler wrote to the database is kept, like any handler's.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


class _Skip:
    """The type of :data:`SKIP`; there is only the one."""

    _instance: _Skip | None = None

    def __new__(cls) -> _Skip:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "SKIP"


SKIP = _Skip()
"""Return it from a handler to pass the update on instead of handling it."""


class Skip(Exception):  # noqa: N818 - it is a signal, named for what the handler says
    """Raise it in a handler (or a helper it calls) to pass the update on, as ``return SKIP`` does."""


def handled(result: Any) -> bool:
    """Did a handler that returned ``result`` handle its update?"""
    return result is not SKIP


def bound(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
    """``fn`` as a ``handler(ctx)`` called with ``args``/``kwargs`` after ``ctx``, ``Skip`` turned into ``SKIP``.

    It keeps ``fn``'s name and module, so a failure is logged under the plugin's own function.
    """
    @functools.wraps(fn)
    def call(ctx: Any) -> Any:
        try:
            return fn(ctx, *args, **kwargs)
        except Skip:
            return SKIP

    return call
