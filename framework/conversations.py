"""Conversations: a plugin's named states, the transitions between them, a handler per state.

The state itself lives in the session store (``user:{id}:state``), owned by
one plugin. While a user is in a state, their plain text and the presses of
buttons carrying the conversation's callback prefix go to that state's
handler; commands still work, and ``/cancel`` (core) leaves any state.

    add = Conversation("add", states={
        "AWAITING_AMOUNT": ["AWAITING_CATEGORY"],
        "AWAITING_CATEGORY": ["AWAITING_NOTE"],
        "AWAITING_NOTE": [],
    })

    @add.state("AWAITING_AMOUNT")
    def on_amount(ctx):
        ctx.session.goto("AWAITING_CATEGORY", amount="12.50")

A ``goto`` its state does not declare raises :class:`InvalidTransition`: a
bug in the plugin, handled like any failing handler. The update is rolled
back, the user gets the core's apology, and the session stays in the state
it was in, consistent with the rolled-back database; the user can answer
again or ``/cancel``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


class InvalidTransition(Exception):
    """A handler tried to move to a state its conversation does not allow from here."""


class Conversation:
    def __init__(self, name: str, states: dict[str, Iterable[str]], *, command: str | None = None,
                 callback_prefix: str | None = None):
        self.name = name
        self.command = command or name
        self.callback_prefix = callback_prefix or name
        self.transitions: dict[str, set[str]] = {state: set(targets) for state, targets in states.items()}
        unknown = {t for targets in self.transitions.values() for t in targets} - set(self.transitions)
        if unknown:
            raise ValueError(f"conversation {name!r}: transitions to undeclared states {sorted(unknown)}")
        self.plugin: str | None = None
        self._handlers: dict[str, Callable[[Any], Any]] = {}

    def state(self, name: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
        """Decorator: the handler for messages and button presses while in state ``name``."""
        if name not in self.transitions:
            raise ValueError(f"conversation {self.name!r} has no state {name!r}")

        def decorate(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
            self._handlers[name] = fn
            return fn

        return decorate

    def bind(self, plugin: str) -> None:
        missing = set(self.transitions) - set(self._handlers)
        if missing:
            raise ValueError(f"conversation {self.name!r} of {plugin!r} has no handler for {sorted(missing)}")
        self.plugin = plugin

    def check_transition(self, current: str | None, target: str) -> None:
        """Entering from IDLE may start at any state (``/add 12.50`` skips a step)."""
        if target not in self.transitions:
            raise InvalidTransition(f"{self._label()} has no state {target!r}")
        if current is None or current == target or target in self.transitions.get(current, ()):
            return
        allowed = ", ".join(sorted(self.transitions.get(current, ()))) or "none"
        raise InvalidTransition(f"{self._label()}: {current} → {target} is not a declared transition "
                                f"(declared from {current}: {allowed})")

    def handle(self, ctx: Any) -> bool:
        """Run the current state's handler; False if the user is not in this conversation.

        The pipeline knows only this method as the handler, so a failure is
        annotated with the state and the state's own handler: the logged
        traceback then says which function to fix.
        """
        state = ctx.session.state
        if ctx.session.conversation != self.name or state not in self._handlers:
            return False
        handler = self._handlers[state]
        try:
            handler(ctx)
        except Exception as exc:
            exc.add_note(f"in {self._label()}, state {state}, handler {handler.__module__}.{handler.__qualname__}")
            raise
        return True

    def _label(self) -> str:
        owner = f" of plugin {self.plugin!r}" if self.plugin else ""
        return f"conversation {self.name!r}{owner}"

    def dispatch_callback(self, ctx: Any) -> None:
        """A button of this conversation: valid only while the conversation is on."""
        if not self.handle(ctx):
            ctx.answer(ctx.t("core.stale_button"))
