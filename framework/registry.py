"""What plugins registered: commands, text/callback/content handlers, conversations,
middleware, jobs.

Each plugin gets a :class:`HandlerRegistry` bound to it, so every route
remembers its owner (for /help, for isolation and for the circuit breaker),
and a clash between two plugins fails at startup naming both.
"""
from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .config import ConfigError

if TYPE_CHECKING:
    from .plugin import Plugin

from .arguments import Arg, check_declaration
from .callbacks import CallbackData, prefix_of

Handler = Callable[..., Any]
Middleware = Callable[[Any, Callable[[], Any]], Any]

_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")


class RegistrationError(ConfigError):
    """Two plugins claimed the same thing, or a registration is malformed (one line, like any
    configuration error: ``run`` and ``check-config`` print it and exit with status 2)."""

    def __init__(self, message: str | list[str]):
        super().__init__([message] if isinstance(message, str) else message)


@dataclass
class Command:
    plugin: str
    name: str
    fn: Handler
    help: str | None = None          # i18n key in the plugin's catalog
    rate_limit: str | None = None    # e.g. "10/hour"
    permission: str | None = None    # access.can(user, permission) must hold
    hidden: bool = False
    builtin: bool = False             # a built-in default: a plugin replaces it only with override=True
    allow_restricted: bool = True     # False: refused to users under an active "restrict"
    override: bool = False            # this plugin's command replaces the built-in of the same name
    args: tuple[Arg, ...] | None = None  # declared arguments; None: the handler reads ctx.args itself
    usage: str | None = None          # catalog key replacing the usage line built from ``args``


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


OBSERVABLE = frozenset({"message", "edited_message", "callback_query", "my_chat_member", "chat_member"})
"""The kinds of update an observer may ask for (service messages are ``message`` updates)."""


@dataclass
class Observer:
    """Sees every update of ``updates`` kinds beside the handlers, taking it from nobody."""

    plugin: str
    fn: Handler
    updates: frozenset[str]


@dataclass
class CallbackRoute:
    """Presses of one :class:`framework.CallbackData` class: parsed and owner-checked, then ``fn(ctx, data)``."""

    plugin: str
    data_class: type[CallbackData]
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
class CliCommand:
    """A plugin's command-line command: ``python -m framework <plugin> <name> [args...]``."""

    plugin: str
    name: str
    fn: Callable[[Any, list[str]], int]
    help: str = ""


@dataclass
class Routes:
    """Everything registered, across plugins."""

    commands: dict[str, Command] = field(default_factory=dict)
    texts: list[TextHandler] = field(default_factory=list)
    callbacks: dict[str, CallbackRoute] = field(default_factory=dict)
    content: dict[str, list[Route]] = field(default_factory=dict)
    conversations: dict[tuple[str, str], Any] = field(default_factory=dict)
    pre_checkout: list[Route] = field(default_factory=list)
    successful_payment: list[Route] = field(default_factory=list)
    refunded_payment: list[Route] = field(default_factory=list)
    observers: list[Observer] = field(default_factory=list)
    middleware: dict[str, list[Middleware]] = field(default_factory=dict)  # plugin → outermost first
    jobs: dict[str, Job] = field(default_factory=dict)
    cli: dict[tuple[str, str], CliCommand] = field(default_factory=dict)  # (plugin, name) → command

    def drop(self, plugin: str) -> None:
        """Forget everything ``plugin`` registered: a plugin taken out (its startup failed)
        leaves no handler, middleware or job behind. A new kind of route is dropped here too."""
        self.commands = {k: c for k, c in self.commands.items() if c.plugin != plugin}
        self.texts = [h for h in self.texts if h.plugin != plugin]
        self.callbacks = {k: r for k, r in self.callbacks.items() if r.plugin != plugin}
        self.content = {k: [r for r in v if r.plugin != plugin] for k, v in self.content.items()}
        self.conversations = {k: c for k, c in self.conversations.items() if k[0] != plugin}
        self.pre_checkout = [r for r in self.pre_checkout if r.plugin != plugin]
        self.successful_payment = [r for r in self.successful_payment if r.plugin != plugin]
        self.refunded_payment = [r for r in self.refunded_payment if r.plugin != plugin]
        self.observers = [o for o in self.observers if o.plugin != plugin]
        self.middleware.pop(plugin, None)
        self.jobs = {k: j for k, j in self.jobs.items() if j.plugin != plugin}
        self.cli = {k: c for k, c in self.cli.items() if c.plugin != plugin}

    def observed(self) -> frozenset[str]:
        """Every kind of update some observer asked for."""
        return frozenset().union(*(o.updates for o in self.observers))

    def sorted_texts(self) -> list[TextHandler]:
        return sorted(self.texts, key=lambda h: -h.priority)

    def commands_of(self, plugin: str) -> list[Command]:
        return [c for c in self.commands.values() if c.plugin == plugin]

    def callback_for(self, data: str) -> CallbackRoute | None:
        return self.callbacks.get(prefix_of(data))


class Collector:
    """The ``register`` callable of the models, migrations and locales hooks: ``register(item)``."""

    def __init__(self, plugin: Plugin, into: list[Any]):
        self.plugin = plugin
        self.name = plugin.name
        self._into = into

    def __call__(self, item: Any) -> None:
        self._into.append(item)


class HandlerRegistry:
    """The ``register`` object handed to ``plugbot_register_handlers``.

    ``register.plugin`` is the plugin's :class:`framework.Plugin` handle, ``register.name`` its name.
    """

    def __init__(self, routes: Routes, plugin: Plugin, builtin: bool = False):
        self._routes = routes
        self.plugin = plugin
        self.name = plugin.name
        self._builtin = builtin

    def command(self, name: str, fn: Handler, *, help: str | None = None, rate_limit: str | None = None,
                permission: str | None = None, hidden: bool = False, allow_restricted: bool = True,
                override: bool = False, args: Sequence[Arg] | None = None, usage: str | None = None) -> None:
        """Answer ``/name``. ``help`` is an i18n key shown in /help and the command menu.

        ``args`` declares the arguments (``framework.arg``): the core parses them and calls
        ``fn(ctx, **values)``, or answers bad input with the usage line (the catalog key ``usage``
        replaces the line built from ``args``). Without ``args`` the handler reads ``ctx.args``.
        ``allow_restricted=False`` keeps a costly command (an LLM call, a paid reading) from
        users an admin restricted; they are told so instead of being silently ignored.
        ``override=True`` replaces the built-in command of that name (``/help``, ``/start``...);
        the replacement keeps the built-in's permission.
        """
        name = name.lower().lstrip("/")
        if not _COMMAND.match(name):
            raise RegistrationError(f"{self.name}: command {name!r} must be 1-32 of a-z, 0-9, _")
        if args is not None:
            args = tuple(args)
            try:
                check_declaration(args, fn, f"{self.name}: /{name}")
            except ValueError as exc:
                raise RegistrationError(str(exc)) from exc
        if rate_limit is not None:
            from .ratelimit import parse_rate

            parse_rate(rate_limit)
        self._claim_command(Command(self.name, name, fn, help, rate_limit, permission, hidden, builtin=self._builtin,
                                    allow_restricted=allow_restricted, override=override, args=args,
                                    usage=usage))

    def _claim_command(self, command: Command) -> None:
        """Built-in commands are defaults: a plugin takes one over only by saying so, whichever
        of the two registered first (the built-ins register last, see ``trylast``)."""
        commands = self._routes.commands
        existing = commands.get(command.name)
        if existing is None:
            commands[command.name] = command
            return
        builtin, plugin = (existing, command) if existing.builtin else (command, existing)
        if existing.builtin == command.builtin:
            raise RegistrationError(
                f"command /{command.name} registered by both {existing.plugin!r} and {command.plugin!r}")
        if not plugin.override:
            raise RegistrationError(
                f"command /{command.name} of plugin {plugin.plugin!r} clashes with the built-in "
                f"/{command.name} of {builtin.plugin!r}; pass override=True to replace it")
        plugin.permission = builtin.permission or plugin.permission
        commands[command.name] = plugin

    def middleware(self, fn: Middleware) -> None:
        """Wrap every handler of this plugin, and only this plugin's (commands, text, buttons,
        conversation steps, content, payments): ``fn(ctx, call_next)``.

        ``return call_next()`` runs the handler (or the next middleware); returning without
        calling it stops the update there, as handled. The first registered runs outermost.
        """
        self._routes.middleware.setdefault(self.name, []).append(fn)

    def text(self, fn: Handler, *, priority: int = 0, groups: bool = False) -> None:
        """Receive non-command text. Returning normally handles it; ``return SKIP`` (or
        ``raise Skip``) passes it to the next text handler."""
        self._routes.texts.append(TextHandler(self.name, fn, priority, groups))

    def callback(self, data_class: type[CallbackData], fn: Handler) -> None:
        """Receive presses of buttons carrying ``data_class``: ``fn(ctx, data)`` with the parsed instance,
        after the core refused forged, malformed and other users' presses."""
        if not (isinstance(data_class, type) and issubclass(data_class, CallbackData)):
            raise RegistrationError(
                f"{self.name}: register.callback takes a framework.CallbackData class, got {data_class!r} "
                "(raw string prefixes are gone since plugin API 2.0)")
        _check_takes(fn, 2, f"{self.name}: callback handler for {data_class.__name__}", "(ctx, data)")
        self._claim_callback(data_class, fn)

    def _claim_callback(self, data_class: type[CallbackData], fn: Handler) -> None:
        prefix = data_class.__prefix__
        existing = self._routes.callbacks.get(prefix)
        if existing is not None:
            raise RegistrationError(
                f"callback prefix {prefix!r} registered by both {existing.plugin!r} "
                f"({existing.data_class.__qualname__}) and {self.name!r} ({data_class.__qualname__})")
        self._routes.callbacks[prefix] = CallbackRoute(self.name, data_class, fn)

    def conversation(self, conv: Any) -> None:
        """Register a :class:`framework.Conversation`: its states, its entry command (with the
        command's options) and the callback classes it claims."""
        try:
            conv.bind(self.name)
        except ValueError as exc:
            raise RegistrationError(str(exc)) from exc
        key = (self.name, conv.name)
        if key in self._routes.conversations:
            raise RegistrationError(f"{self.name}: conversation {conv.name!r} registered twice")
        if conv.command is not None:
            self.command(conv.command, conv.entry_handler, **conv.command_options)
        for data_class in conv.callbacks:
            if not (isinstance(data_class, type) and issubclass(data_class, CallbackData)):
                raise RegistrationError(f"{self.name}: conversation {conv.name!r}: callbacks must be "
                                        f"framework.CallbackData classes, got {data_class!r}")
            self._claim_callback(data_class, conv.dispatch_callback)
        self._routes.conversations[key] = conv

    def content(self, types: list[str], fn: Handler) -> None:
        """Receive messages of other content types: ``photo``, ``document``, ``voice``...
        Returning normally handles the message; ``SKIP`` passes it to the next content handler
        (and, when no handler took it, its caption to the command and text handlers)."""
        for kind in types:
            self._routes.content.setdefault(kind, []).append(Route(self.name, fn))

    def observer(self, fn: Handler, *, updates: Sequence[str] = ("message",)) -> None:
        """See every update of the ``updates`` kinds in every chat the bot is in, beside the handlers:
        ``fn(ctx)``, whatever plugin then answers the update (a command, a button, text).

        Kinds: ``message`` (with service messages: members joined or left, a new title, a
        migration to a supergroup), ``edited_message``, ``callback_query``, ``my_chat_member``
        (the bot was added, removed, promoted) and ``chat_member`` (another member changed; Telegram
        sends these only to an admin bot). Observers run after the access gate and before the
        handlers, in the update's transaction under a savepoint of their own: one that raises has
        its writes and replies dropped, is logged, and changes nothing for the handlers, the
        replies or any plugin's circuit breaker. What ``fn`` returns is not looked at.
        """
        kinds = frozenset(updates)
        unknown = sorted(kinds - OBSERVABLE)
        if unknown or not kinds:
            raise RegistrationError(f"{self.name}: register.observer: unknown update kinds {unknown}; "
                                    f"choose from {sorted(OBSERVABLE)}")
        _check_takes(fn, 1, f"{self.name}: observer", "(ctx)")
        self._routes.observers.append(Observer(self.name, fn, kinds))

    def payment(self, *, pre_checkout: Handler | None = None, successful: Handler | None = None,
                refunded: Handler | None = None) -> None:
        """Receive Telegram Payments: the pre-checkout query (answer it with
        ``ctx.answer_pre_checkout``), the successful payment message (``ctx.message.successful_payment``)
        and the refunded payment message (``ctx.refunded_payment``, a dict). Every plugin's handler
        sees each of them: check that the payload is yours."""
        if pre_checkout is not None:
            self._routes.pre_checkout.append(Route(self.name, pre_checkout))
        if successful is not None:
            self._routes.successful_payment.append(Route(self.name, successful))
        if refunded is not None:
            self._routes.refunded_payment.append(Route(self.name, refunded))


def _check_takes(fn: Handler, count: int, what: str, shape: str) -> None:
    """A handler that cannot take ``count`` positional arguments is refused at startup, not on a press."""
    try:
        inspect.signature(fn).bind(*range(count))
    except TypeError as exc:
        raise RegistrationError(f"{what}: the handler must take {shape}") from exc
    except ValueError:
        return  # no signature to check (a builtin)


class JobRegistry:
    """The ``register`` callable handed to ``plugbot_register_jobs`` (``.plugin``: the handle)."""

    def __init__(self, routes: Routes, plugin: Plugin):
        self._routes = routes
        self.plugin = plugin
        self.name = plugin.name

    def __call__(self, name: str, fn: Callable[[Any], Any], *, trigger: str = "interval", **trigger_args: Any) -> None:
        if trigger not in ("cron", "interval", "date"):
            raise RegistrationError(f"{self.name}.{name}: trigger must be cron, interval or date")
        job = Job(self.name, name, fn, trigger, trigger_args)
        if job.id in self._routes.jobs:
            raise RegistrationError(f"job {job.id!r} registered twice")
        self._routes.jobs[job.id] = job


class CliRegistry:
    """The ``register`` callable handed to ``plugbot_register_cli`` (``.plugin``: the handle)."""

    def __init__(self, routes: Routes, plugin: Plugin):
        self._routes = routes
        self.plugin = plugin
        self.name = plugin.name

    def __call__(self, name: str, fn: Callable[[Any, list[str]], int], *, help: str = "") -> None:
        if not _COMMAND.match(name.replace("-", "_")):
            raise RegistrationError(f"{self.name}: command-line command {name!r} must be 1-32 of a-z, 0-9, _, -")
        if (self.name, name) in self._routes.cli:
            raise RegistrationError(f"{self.name}: command-line command {name!r} registered twice")
        _check_takes(fn, 2, f"{self.name}: command-line command {name!r}", "(plugin, args)")
        self._routes.cli[(self.name, name)] = CliCommand(self.name, name, fn, help)
