"""Conversations: a plugin's named states, the moves between them, a handler per state.

The state itself lives in the session store (``user:{id}:state``), owned by
one plugin. While a user is in a state, their plain text and their presses of
the buttons the conversation claims (``callbacks=``) go to that state's
handler, the press's parsed data in ``ctx.callback_data``; commands still
work, and ``/cancel`` (core) leaves any state. Outside the conversation its
buttons are stale.

    class AddAnswer(CallbackData, prefix="adda"):
        choice: str

    add = Conversation("add", states={
        "AWAITING_AMOUNT": ["AWAITING_CATEGORY"],
        "AWAITING_CATEGORY": ["AWAITING_NOTE"],
        "AWAITING_NOTE": [],
    }, command="add", help="help.add", args=[arg.text("amount", optional=True)], callbacks=[AddAnswer])

    @add.entry
    def start(ctx, amount):
        ctx.session.goto("AWAITING_AMOUNT")

    @add.state("AWAITING_AMOUNT")
    def on_amount(ctx):
        ctx.session.goto("AWAITING_CATEGORY", amount="12.50")

    register.conversation(add)   # registers /add, the states and AddAnswer

A state handler that returns normally has handled the update; ``return SKIP``
(or ``raise Skip``) passes a text on to the text handlers (a press: the user is
told the button is stale).

A ``goto`` its state does not declare raises :class:`InvalidTransition`: a
bug in the plugin, handled like any failing handler. The update is rolled
back, the user gets the core's apology, and the session stays in the state
it was in, consistent with the rolled-back database; the user can answer
again or ``/cancel``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .arguments import Arg
from .handling import SKIP, Skip


class InvalidTransition(Exception):
    """A handler tried to move to a state its conversation does not allow from here."""


class Conversation:
    """A conversation's states and, optionally, the command that starts it and the buttons it claims.

    ``command`` (with ``help``, ``args``, ``usage``, ``rate_limit``, ``permission``, ``hidden`` and
    ``allow_restricted``, as for ``register.command``) is registered by ``register.conversation``
    with the :meth:`entry` handler. A conversation without a command is entered from another
    handler (say, an Edit button) by ``ctx.session.goto``.
    """

    def __init__(self, name: str, states: dict[str, Iterable[str]], *, command: str | None = None,
                 help: str | None = None, args: Sequence[Arg] | None = None, usage: str | None = None,
                 callbacks: Iterable[type] = (), rate_limit: str | None = None, permission: str | None = None,
                 hidden: bool = False, allow_restricted: bool = True):
        self.name = name
        self.command = command
        self.callbacks: tuple[type, ...] = tuple(callbacks)
        self.command_options: dict[str, Any] = {
            "help": help, "args": args, "usage": usage, "rate_limit": rate_limit, "permission": permission,
            "hidden": hidden, "allow_restricted": allow_restricted}
        self.transitions: dict[str, set[str]] = {state: set(targets) for state, targets in states.items()}
        unknown = {t for targets in self.transitions.values() for t in targets} - set(self.transitions)
        if unknown:
            raise ValueError(f"conversation {name!r}: transitions to undeclared states {sorted(unknown)}")
        self.plugin: str | None = None
        self._handlers: dict[str, Callable[[Any], Any]] = {}
        self._entry: Callable[..., Any] | None = None

    @property
    def label(self) -> str:
        """What the user is told to send again when the conversation timed out (its command, else its name)."""
        return self.command or self.name

    def entry(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator: the handler of the conversation's ``command`` (it calls ``ctx.session.goto``)."""
        self._entry = fn
        return fn

    def state(self, name: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
        """Decorator: the handler for messages and button presses while in state ``name``."""
        if name not in self.transitions:
            raise ValueError(f"conversation {self.name!r} has no state {name!r}")

        def decorate(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
            self._handlers[name] = fn
            return fn

        return decorate

    @property
    def entry_handler(self) -> Callable[..., Any]:
        if self._entry is None:
            raise ValueError(f"conversation {self.name!r} has no @{self.name}.entry handler")
        return self._entry

    def bind(self, plugin: str) -> None:
        missing = set(self.transitions) - set(self._handlers)
        if missing:
            raise ValueError(f"conversation {self.name!r} of {plugin!r} has no handler for {sorted(missing)}")
        if self.command is not None and self._entry is None:
            raise ValueError(f"conversation {self.name!r} of {plugin!r} declares command /{self.command} "
                             "but no @entry handler")
        if self.command is None and self._entry is not None:
            raise ValueError(f"conversation {self.name!r} of {plugin!r} has an @entry handler but no command=")
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

    def handle(self, ctx: Any) -> Any:
        """Run the current state's handler; ``SKIP`` if the user is not in this conversation.

        The pipeline knows only this method as the handler, so a failure is
        annotated with the state and the state's own handler: the logged
        traceback then says which function to fix.
        """
        state = ctx.session.state
        if ctx.session.conversation != self.name or state not in self._handlers:
            return SKIP
        handler = self._handlers[state]
        try:
            return handler(ctx)
        except Skip:
            return SKIP
        except Exception as exc:
            exc.add_note(f"in {self._label()}, state {state}, handler {handler.__module__}.{handler.__qualname__}")
            raise

    def dispatch_callback(self, ctx: Any, data: Any) -> Any:
        """A press of one of the conversation's buttons: the current state's, if the user is in it."""
        return self.handle(ctx)

    def _label(self) -> str:
        owner = f" of plugin {self.plugin!r}" if self.plugin else ""
        return f"conversation {self.name!r}{owner}"
