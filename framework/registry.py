"""What plugins registered: commands, text/callback/content handlers, conversations, jobs.

Each plugin gets a :class:`HandlerRegistry` bound to its name, so every route
remembers its owner (for /help, for isolation and for the circuit breaker),
and a clash between two plugins fails at startup naming both.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[Any], "bool | None"]

_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_PREFIX = re.compile(r"^[A-Za-z0-9_.-]{1,20}$")


class RegistrationError(Exception):
    """Two plugins claimed the same thing, or a registration is malformed."""


@dataclass
class Command:
    plugin: str
    name: str
    fn: Handler
    help: str | None = None          # i18n key in the plugin's catalog
    rate_limit: str | None = None    # e.g. "10/hour"
    permission: str | None = None    # access.can(user, permission) must hold
    hidden: bool = False
    overridable: bool = False         # built-in defaults give way to plugins
    allow_restricted: bool = True     # False: refused to users under an active "restrict"


@dataclass
class TextHandler:
    plugin: str
    fn: Handler
    priority: int = 0
    groups: bool = False              # also receive group messages (not only private chats)


@dataclass
class Route:
    plugin: str
    fn: Handler


@dataclass
class Job:
    plugin: str
    name: str
    fn: Callable[[Any], Any]
    trigger: str
    trigger_args: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.plugin}.{self.name}"


@dataclass
class Routes:
    """Everything registered, across plugins."""

    commands: dict[str, Command] = field(default_factory=dict)
    texts: list[TextHandler] = field(default_factory=list)
    callbacks: dict[str, Route] = field(default_factory=dict)
    content: dict[str, list[Route]] = field(default_factory=dict)
    conversations: dict[tuple[str, str], Any] = field(default_factory=dict)
    pre_checkout: list[Route] = field(default_factory=list)
    successful_payment: list[Route] = field(default_factory=list)
    jobs: dict[str, Job] = field(default_factory=dict)

    def sorted_texts(self) -> list[TextHandler]:
        return sorted(self.texts, key=lambda h: -h.priority)

    def commands_of(self, plugin: str) -> list[Command]:
        return [c for c in self.commands.values() if c.plugin == plugin]

    def callback_for(self, data: str) -> Route | None:
        prefix = data.split(":", 1)[0]
        return self.callbacks.get(prefix)


class HandlerRegistry:
    """The ``register`` object handed to ``plugbot_register_handlers``."""

    def __init__(self, routes: Routes, plugin: str, builtin: bool = False):
        self._routes = routes
        self.plugin = plugin
        self._builtin = builtin

    def command(self, name: str, fn: Handler, *, help: str | None = None, rate_limit: str | None = None,
                permission: str | None = None, hidden: bool = False, allow_restricted: bool = True) -> None:
        """Answer ``/name``. ``help`` is an i18n key shown in /help and the command menu.

        ``allow_restricted=False`` keeps a costly command (an LLM call, a paid reading) from
        users an admin restricted; they are told so instead of being silently ignored.
        """
        name = name.lower().lstrip("/")
        if not _COMMAND.match(name):
            raise RegistrationError(f"{self.plugin}: command {name!r} must be 1-32 of a-z, 0-9, _")
        if rate_limit is not None:
            from .ratelimit import parse_rate

            parse_rate(rate_limit)
        existing = self._routes.commands.get(name)
        if existing is not None:
            if existing.overridable and not self._builtin:
                pass  # a plugin overrides a built-in default
            elif self._builtin:
                return  # the built-in gives way to the plugin registered first
            else:
                raise RegistrationError(
                    f"command /{name} registered by both {existing.plugin!r} and {self.plugin!r}")
        self._routes.commands[name] = Command(self.plugin, name, fn, help, rate_limit, permission, hidden,
                                              overridable=self._builtin, allow_restricted=allow_restricted)

    def text(self, fn: Handler, *, priority: int = 0, groups: bool = False) -> None:
        """Receive non-command text; return True when handled, else the next plugin gets it."""
        self._routes.texts.append(TextHandler(self.plugin, fn, priority, groups))

    def callback(self, prefix: str, fn: Handler) -> None:
        """Receive inline-button presses whose data starts with ``prefix:``."""
        if not _PREFIX.match(prefix):
            raise RegistrationError(f"{self.plugin}: callback prefix {prefix!r} must be short, without ':'")
        existing = self._routes.callbacks.get(prefix)
        if existing is not None:
            raise RegistrationError(
                f"callback prefix {prefix!r} registered by both {existing.plugin!r} and {self.plugin!r}")
        self._routes.callbacks[prefix] = Route(self.plugin, fn)

    def conversation(self, conv: Any) -> None:
        """Register a :class:`framework.Conversation` (its states and callback prefix)."""
        conv.bind(self.plugin)
        self._routes.conversations[(self.plugin, conv.name)] = conv
        self.callback(conv.callback_prefix, conv.dispatch_callback)

    def content(self, types: list[str], fn: Handler) -> None:
        """Receive messages of other content types: ``photo``, ``document``, ``voice``..."""
        for kind in types:
            self._routes.content.setdefault(kind, []).append(Route(self.plugin, fn))

    def payment(self, *, pre_checkout: Handler | None = None, successful: Handler | None = None) -> None:
        """Receive Telegram Payments: the pre-checkout query and the successful payment message."""
        if pre_checkout is not None:
            self._routes.pre_checkout.append(Route(self.plugin, pre_checkout))
        if successful is not None:
            self._routes.successful_payment.append(Route(self.plugin, successful))


class JobRegistry:
    """The ``register`` callable handed to ``plugbot_register_jobs``."""

    def __init__(self, routes: Routes, plugin: str):
        self._routes = routes
        self.plugin = plugin

    def __call__(self, name: str, fn: Callable[[Any], Any], *, trigger: str = "interval", **trigger_args: Any) -> None:
        if trigger not in ("cron", "interval", "date"):
            raise RegistrationError(f"{self.plugin}.{name}: trigger must be cron, interval or date")
        job = Job(self.plugin, name, fn, trigger, trigger_args)
        if job.id in self._routes.jobs:
            raise RegistrationError(f"job {job.id!r} registered twice")
        self._routes.jobs[job.id] = job
