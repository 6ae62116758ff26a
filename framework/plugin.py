"""The handle a plugin's hooks receive: who the plugin is at runtime, and the services it may use.

The name comes from the operator's config section, not from the plugin's code, so a plugin
loaded as ``greeter`` reads the settings, cache and texts of ``greeter``. Hooks that run outside
an update (startup, shutdown, the data-rights hooks, stats) take it as the argument ``plugin``;
``register.plugin`` is the same object inside the ``register_*`` hooks.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .access import AccessControl
    from .app import Application
    from .audit import AuditService
    from .cache import Cache
    from .counters import SharedCounters
    from .i18n import Translator
    from .llm import LLMService
    from .ratelimit import RateLimiter
    from .runtime import RuntimeSettings
    from .scheduler import Scheduler
    from .users import UserService


class Plugin:
    """One loaded plugin, as its hooks see it (one per plugin, made by the application).

    ``name``, ``settings`` (its merged config section), ``cache`` (its own namespace),
    ``t``/``tn`` (its catalog), ``log`` (the logger ``plugbot.<name>``), ``send``, ``notify_admins``,
    ``now()``, and the application's services: ``users``, ``access``, ``audit``, ``llm``,
    ``scheduler``, ``i18n``, ``ratelimiter``, ``runtime``, ``counters`` (numbers summed over every
    process of the bot, :class:`framework.counters.SharedCounters`).
    """

    users: UserService
    access: AccessControl
    audit: AuditService
    llm: LLMService
    scheduler: Scheduler
    i18n: Translator
    ratelimiter: RateLimiter
    runtime: RuntimeSettings
    counters: SharedCounters

    def __init__(self, app: Application, name: str):
        self._app = app
        self.name = name
        self.log = logging.getLogger(f"plugbot.{name}")
        for service in ("users", "access", "audit", "llm", "scheduler", "i18n", "ratelimiter", "runtime", "counters"):
            setattr(self, service, getattr(app, service))

    @property
    def settings(self) -> dict[str, Any]:
        """This plugin's settings: its section under ``plugins:`` merged over its defaults."""
        return self._app.plugin_settings(self.name)

    @property
    def cache(self) -> Cache:
        """This plugin's cache; its keys never collide with another plugin's."""
        return self._app.plugin_cache(self.name)

    def t(self, key: str, *, lang: str | None = None, **params: Any) -> str:
        """Translate ``key`` from this plugin's catalog (``core.*`` from the core's), in ``lang``
        or the bot's default language."""
        owner, key = ("core", key[5:]) if key.startswith("core.") else (self.name, key)
        return self.i18n.t(owner, key, lang or self._app.config["default_language"], **params)

    def tn(self, key: str, n: float, *, lang: str | None = None, **params: Any) -> str:
        """Plural-aware :meth:`t`: ``key.one``/``.few``/``.many``/``.other`` for ``n``."""
        owner, key = ("core", key[5:]) if key.startswith("core.") else (self.name, key)
        return self.i18n.tn(owner, key, n, lang or self._app.config["default_language"], **params)

    def now(self) -> dt.datetime:
        """The application's clock (the test kit moves it)."""
        return self._app.now()

    def send(self, telegram_id: int, text: str, buttons: Any = None) -> None:
        """Message a user's private chat now, outside any update (a hook telling admins something);
        the buttons belong to that user, as any button sent to a private chat."""
        from .context import JobContext

        outgoing = JobContext(self._app, self.name)
        outgoing.send_message(telegram_id, text, buttons)
        self._app.sender.deliver(outgoing.outbox)

    def notify_admins(self, text: str) -> None:
        """Message every admin listed in ``admins:`` now (not tied to any update's transaction)."""
        self._app.notify_admins(text)

    def send_now(self, method: str, **params: Any) -> Any:
        """Make one Bot API call now, outside any update or job: for work a plugin runs on its own
        thread (a broadcast). Paced by the application's sender within Telegram's limits, network
        failures retried; a refusal raises ``framework.SendError`` (``error_code`` 403: the user
        blocked the bot), and a 429 raises at once with ``retry_after`` so the caller can pause all
        it sends. Replies and job messages never use this: they go out after their commit."""
        return self._app.sender.call_once(method, **params)

    def __repr__(self) -> str:
        return f"<plugbot plugin {self.name!r}>"
